"""The page: draw a digit in the browser and watch the network answer, or train one and watch it learn, served
from this machine.

``DrawService`` wraps a model (prepare a drawing, predict it, describe the network, hand out test digits);
``TrainingSession`` trains one run at a time in a thread and publishes snapshots of it; ``DrawServer`` serves both
with the standard library's HTTP server. ``nnscratch draw [MODEL]`` starts it.
"""
from .bodies import MAX_BODY_BYTES
from .server import DrawServer
from .service import NOTHING_DRAWN, DrawService
from .training_session import TrainingSession

__all__ = ["DrawServer", "DrawService", "MAX_BODY_BYTES", "NOTHING_DRAWN", "TrainingSession"]
