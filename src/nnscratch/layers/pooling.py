"""Pooling: summarise each small window of every channel by its largest value or its mean.

Pooling shrinks the image (a 2×2 window moved by 2 halves each side) and makes the features that follow
tolerant of small shifts. There are no parameters. Both poolings loop over the kh·kw offsets inside a window,
each step one vectorised operation on strided views of the whole batch. Like Conv2D they work on the
(C, H, W, N) view of the batch, where each view's innermost run is a whole row segment of the batch.
"""
import numpy as np

from .base import Layer, register_layer
from .conv import batch_first, batch_innermost, output_size, pair


def window_views(x, kernel, stride, out_shape):
    """For each offset (i, j) inside the window, the (C, OH, OW, N) strided view of a (C, H, W, N) array at
    that offset."""
    (kh, kw), (sh, sw), (out_h, out_w) = kernel, stride, out_shape
    return [x[:, i:i + sh * out_h:sh, j:j + sw * out_w:sw, :] for i in range(kh) for j in range(kw)]


def as_batch_innermost(grad_out):
    """The (C, H, W, N) view of a gradient, copied into that layout when it arrives in another (after Flatten)."""
    inner = batch_innermost(grad_out)
    return inner if inner.flags.c_contiguous else np.ascontiguousarray(inner)


def record_larger(argmax, larger, offset, scratch):
    """argmax ← offset where ``larger``, written as max(argmax, larger·offset): offsets only grow, and the
    branch-free arithmetic is many times faster than a masked copy on a random mask."""
    np.multiply(larger, argmax.dtype.type(offset), out=scratch)
    np.maximum(argmax, scratch, out=argmax)


class Pool2D(Layer):
    """What the poolings share: kernel, stride (the kernel size unless given), shape checks and config."""

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
        views, y = self.first_window(x)
        # argmax[c, i, j, n]: the offset (numbered row by row) of the window's first maximum, for backward.
        self.argmax = np.zeros(y.shape, dtype=np.min_scalar_type(len(views) - 1))
        larger, candidate = np.empty(y.shape, dtype=bool), np.empty_like(self.argmax)
        for offset, view in enumerate(views[1:], start=1):
            np.greater(view, y, out=larger)            # strictly: a tie leaves the first maximum in place
            record_larger(self.argmax, larger, offset, candidate)
            np.maximum(y, view, out=y)
        return batch_first(y)

    def backward(self, grad_out):
        """The maximum is the only input that moved the output: dL/dx = dL/dy at each window's argmax, else 0.
        Where several inputs tie for the maximum, the first in the window takes it all, as in PyTorch."""
        grad_out = as_batch_innermost(grad_out)
        batch, channels, height, width = self.input_shape
        # Where the windows tile the input, the loop below writes every pixel, so it needs no zeroing first.
        allocate = np.empty if self.tiles(self.input_shape) else np.zeros
        grad_x = allocate((channels, height, width, batch), dtype=grad_out.dtype)
        grads = window_views(grad_x, self.kernel_size, self.stride, grad_out.shape[1:3])
        is_argmax = np.empty(grad_out.shape, dtype=bool)
        for offset, grad_view in enumerate(grads):
            np.equal(self.argmax, offset, out=is_argmax)
            if self.overlapping():                     # windows share pixels: their gradients add up
                grad_view += grad_out * is_argmax
            else:
                np.multiply(grad_out, is_argmax, out=grad_view)
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
