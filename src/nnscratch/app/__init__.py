"""The draw page: draw a digit in the browser and watch the network answer, served from this machine.

``DrawService`` wraps a model (prepare a drawing, predict it, describe the network, hand out test digits);
``DrawServer`` serves it with the standard library's HTTP server. ``nnscratch draw MODEL`` starts both.
"""
from .server import MAX_BODY_BYTES, DrawServer
from .service import NOTHING_DRAWN, DrawService

__all__ = ["DrawServer", "DrawService", "MAX_BODY_BYTES", "NOTHING_DRAWN"]
