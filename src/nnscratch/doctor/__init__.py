"""The doctor for runs that go wrong: ``Doctor`` is a training callback that watches every layer's gradients,
updates and units and the loss's progress, and names the trouble it sees with its cause and remedy in one line
(``signs`` holds the measurements and their thresholds, ``remedies`` the words)."""
from .doctor import Doctor
from .remedies import CODES

__all__ = ["CODES", "Doctor"]
