"""Flatten, fast: its gradient handed back in the layout the layers before it computed in.

The same equation as ``layers/reshape.py``: forward lays each example's values out in one row, backward
reshapes the gradient back. Where the input came from a fast layer, (C, H, W, N) seen through ``batch_first``,
backward copies the gradient into that layout (one transposing copy, on the pool), so that the ReLU and the
pooling before it multiply arrays stored alike instead of one stored each way round.
"""
import numpy as np

from .layout import batch_first, batch_innermost
from .pool import copy_in_parallel


class FastFlatten:
    """The fast twin of one ``Flatten``, for ``fast.faster`` to lend it."""

    def __init__(self, layer):
        self.layer = layer

    def forward(self, x):
        self.input_shape = x.shape
        self.batch_innermost = x.ndim == 4 and batch_innermost(x).flags.c_contiguous
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out):
        grad = grad_out.reshape(self.input_shape)
        if not self.batch_innermost:
            return grad
        inner = np.empty(batch_innermost(grad).shape, dtype=grad.dtype)
        copy_in_parallel(inner, batch_innermost(grad))
        return batch_first(inner)
