"""Inputs that are not digits: random noise, a blank page, an inverted digit.

A classifier ending in softmax must share out all its probability among the classes it knows, so it answers
even when nothing it knows is there, often with high confidence. An answer below ``LOW_CONFIDENCE`` is flagged
as unsure; a confident answer to noise shows that confidence is not understanding.
"""
import numpy as np

from ..images.prepare import LOW_CONFIDENCE  # noqa: F401 (the one threshold, shared with predict and the page)

PROBES = ("noise", "blank", "inverted")


def probe(kind, digit=None, rng=None, size=784):
    """The 784 pixel values in [0, 1] of a probe: uniform ``noise``, a ``blank`` page (all zero), or
    ``inverted`` (1 - the given digit: white ink becomes the page)."""
    if kind == "noise":
        return np.random.default_rng(rng).uniform(0, 1, size).astype(np.float32)
    if kind == "blank":
        return np.zeros(size, np.float32)
    if kind == "inverted":
        if digit is None:
            raise ValueError("an inverted probe needs a digit to invert")
        return (1.0 - np.asarray(digit, dtype=np.float32)).reshape(-1)
    raise ValueError(f"probe must be one of {', '.join(PROBES)}, got {kind!r}")
