"""Pooling: summarise each small window of every channel by its largest value or its mean.

Pooling shrinks the image (a 2×2 window moved by 2 halves each side) and makes the features that follow
tolerant of small shifts. There are no parameters. Both poolings loop over the kh·kw offsets inside a window,
each step one vectorised operation on a strided view of the whole batch; ``windows.py`` holds those views and
the faster ways of running the loop.
"""
import numpy as np

from .base import Layer, register_layer
from .windows import (as_batch_innermost, batch_first, batch_innermost, max_over_windows, output_size, pair,
                      scatter_to_argmax, window_views)


class Pool2D(Layer):
    """What the poolings share: kernel, stride (the kernel size unless given), shape checks and config."""

    works_on_the_pool = True

    def __init__(self, kernel_size=2, stride=None):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(f"{type(self).__name__} needs kernel_size and stride >= 1, got "
                             f"{self.kernel_size} and {self.stride}")

    def output_shape(self, x):
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} expected input of shape (N, C, H, W), got shape {x.shape}")
        out_h = output_size(x.shape[2], self.kernel_size[0], self.stride[0], 0)
        out_w = output_size(x.shape[3], self.kernel_size[1], self.stride[1], 0)
        if out_h < 1 or out_w < 1:
            raise ValueError(f"{type(self).__name__} window {self.kernel_size} does not fit input of shape "
                             f"{x.shape}")
        return out_h, out_w

    def overlapping(self):
        return any(stride < kernel for stride, kernel in zip(self.stride, self.kernel_size))

    def tiles(self, shape):
        """True when the windows cover an input of this shape exactly once (no overlap, no gaps, nothing left)."""
        return all(stride == kernel and size % kernel == 0
                   for size, kernel, stride in zip(shape[2:], self.kernel_size, self.stride))

    def first_window(self, x):
        """The windows of ``x`` (views, one per kernel offset, batch innermost) and an output array holding the
        first window's values, for a forward pass to fold the other windows into."""
        out_shape = self.output_shape(x)
        self.input_shape = x.shape
        views = window_views(batch_innermost(x), self.kernel_size, self.stride, out_shape)
        y = np.empty((x.shape[1],) + out_shape + (x.shape[0],), dtype=x.dtype)
        np.copyto(y, views[0])
        return views, y

    def config(self):
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride)}


@register_layer
class MaxPool2D(Pool2D):
    """y[n, c, i, j] = max over the window at (i·sh, j·sw) of x[n, c]; (N, C, H, W) -> (N, C, OH, OW)."""

    def forward(self, x):
        out_shape = self.output_shape(x)
        self.input_shape = x.shape
        # argmax[c, i, j, n]: the offset (numbered row by row) of the window's first maximum, for backward.
        y, self.argmax = max_over_windows(batch_innermost(x), self.kernel_size, self.stride, out_shape)
        return batch_first(y)

    def backward(self, grad_out):
        """The maximum is the only input that moved the output: dL/dx = dL/dy at each window's argmax, else 0.
        Where several inputs tie for the maximum, the first in the window takes it all, as in PyTorch."""
        batch, channels, height, width = self.input_shape
        # Where the windows tile the input, every pixel is written, so the gradient needs no zeroing first.
        allocate = np.empty if self.tiles(self.input_shape) else np.zeros
        grad_x = allocate((channels, height, width, batch), dtype=grad_out.dtype)
        scatter_to_argmax(as_batch_innermost(grad_out), self.argmax, self.kernel_size, self.stride, grad_x,
                          self.overlapping())
        return batch_first(grad_x)


@register_layer
class AvgPool2D(Pool2D):
    """y[n, c, i, j] = mean over the window at (i·sh, j·sw) of x[n, c]; (N, C, H, W) -> (N, C, OH, OW)."""

    def forward(self, x):
        views, y = self.first_window(x)
        for view in views[1:]:
            y += view
        y *= 1.0 / len(views)
        return batch_first(y)

    def backward(self, grad_out):
        """Each input in a window moves the mean by 1/(kh·kw) of its own change: dL/dx = dL/dy / (kh·kw),
        summed where windows overlap."""
        batch, channels, height, width = self.input_shape
        grad_x = np.zeros((channels, height, width, batch), dtype=grad_out.dtype)
        share = batch_innermost(grad_out) * (1.0 / (self.kernel_size[0] * self.kernel_size[1]))
        for view in window_views(grad_x, self.kernel_size, self.stride, share.shape[1:3]):
            view += share
        return batch_first(grad_x)


@register_layer
class GlobalAvgPool(Layer):
    """y[n, c] = mean over all pixels of x[n, c]; (N, C, H, W) -> (N, C), ready for a dense layer."""

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"GlobalAvgPool expected input of shape (N, C, H, W), got shape {x.shape}")
        self.input_shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, grad_out):
        """dL/dx[n, c, h, w] = dL/dy[n, c] / (H·W), the same for every pixel."""
        _, _, height, width = self.input_shape
        share = grad_out * (1.0 / (height * width))
        return np.broadcast_to(share[:, :, None, None], self.input_shape).copy()
