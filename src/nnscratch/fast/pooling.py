"""MaxPool2D and AvgPool2D, fast: one pass per kernel offset over cache-sized blocks of channels, on the pool.

The same equations as ``layers/pooling.py``. Here the windows are strided views of the (C, H, W, N) layout,
one per offset inside the window; max pooling keeps the running maximum and records the offset of the first
maximum without a branch (``record_larger``), and backward writes each window's gradient at that offset.
"""
import numpy as np

from .layout import as_batch_innermost, batch_first, batch_innermost
from .pool import in_cache_sized_blocks


def window_views(x, kernel, stride, out_shape):
    """For each offset (i, j) inside the window, the (C, OH, OW, N) strided view of a (C, H, W, N) array at
    that offset, numbered row by row. Plain: ``x[:, i:i + sh·OH:sh, j:j + sw·OW:sw]`` for i, for j."""
    (kh, kw), (sh, sw), (out_h, out_w) = kernel, stride, out_shape
    return [x[:, i:i + sh * out_h:sh, j:j + sw * out_w:sw] for i in range(kh) for j in range(kw)]


def record_larger(argmax, larger, offset, scratch):
    """argmax ← offset where ``larger``, written as max(argmax, larger·offset): offsets only grow, and the
    branch-free arithmetic is many times faster than a masked copy on a random mask.
    Plain: ``argmax[larger] = offset``."""
    np.multiply(larger, argmax.dtype.type(offset), out=scratch)
    np.maximum(argmax, scratch, out=argmax)


def max_over_windows(x, kernel, stride, out_shape):
    """The largest value of each window of a (C, H, W, N) array and the offset of its first maximum.

    Plain: ``y = max(views)`` element-wise and ``argmax = np.argmax(np.stack(views), axis=0)``, with views
    from ``window_views``. Here one pass per offset over cache-sized blocks of channels, on every thread, and
    the argmax kept with ``record_larger``.
    """
    views = window_views(x, kernel, stride, out_shape)
    y = np.empty((x.shape[0],) + tuple(out_shape) + (x.shape[3],), dtype=x.dtype)
    argmax = np.zeros(y.shape, dtype=np.min_scalar_type(len(views) - 1))

    def pool(first, last):
        block, block_argmax = y[first:last], argmax[first:last]
        larger, candidate = np.empty(block.shape, dtype=bool), np.empty_like(block_argmax)
        np.copyto(block, views[0][first:last])
        for offset, view in enumerate(views[1:], start=1):
            np.greater(view[first:last], block, out=larger)   # strictly: a tie leaves the first maximum in place
            record_larger(block_argmax, larger, offset, candidate)
            np.maximum(block, view[first:last], out=block)

    in_cache_sized_blocks(pool, x.shape[0], y[0].size)
    return y, argmax


def scatter_to_argmax(grad_out, argmax, kernel, stride, out, overlapping):
    """dL/dx: each window's gradient sent to the offset its argmax names, zero elsewhere, into ``out``
    (C, H, W, N). Plain: ``out.fill(0)``, then ``views[k] += grad_out * (argmax == k)`` for every offset k.
    Where the windows do not overlap each pixel belongs to one window and is written, not added."""
    grads = window_views(out, kernel, stride, grad_out.shape[1:3])

    def scatter(first, last):
        gradient, block_argmax = grad_out[first:last], argmax[first:last]
        is_argmax = np.empty(gradient.shape, dtype=bool)
        for offset, grad_view in enumerate(grads):
            np.equal(block_argmax, offset, out=is_argmax)
            if overlapping:                            # windows share pixels: their gradients add up
                grad_view[first:last] += gradient * is_argmax
            else:
                np.multiply(gradient, is_argmax, out=grad_view[first:last])

    in_cache_sized_blocks(scatter, grad_out.shape[0], grad_out[0].size)
    return out


class FastMaxPool2D:
    """The fast twin of one ``MaxPool2D``, for ``fast.faster`` to lend it."""

    def __init__(self, layer):
        self.layer = layer

    def forward(self, x):
        layer = self.layer
        out_shape = layer.output_shape(x)
        self.input_shape = x.shape
        # argmax[c, i, j, n]: the offset (numbered row by row) of the window's first maximum, for backward.
        y, self.argmax = max_over_windows(batch_innermost(x), layer.kernel_size, layer.stride, out_shape)
        return batch_first(y)

    def backward(self, grad_out):
        """dL/dx = dL/dy at each window's first maximum, else 0."""
        layer, (batch, channels, height, width) = self.layer, self.input_shape
        # Where the windows tile the input, every pixel is written, so the gradient needs no zeroing first.
        tiles = all(stride == kernel and size % kernel == 0
                    for size, kernel, stride in zip((height, width), layer.kernel_size, layer.stride, strict=True))
        overlapping = any(stride < kernel for stride, kernel in zip(layer.stride, layer.kernel_size, strict=True))
        grad_x = (np.empty if tiles else np.zeros)((channels, height, width, batch), dtype=grad_out.dtype)
        scatter_to_argmax(as_batch_innermost(grad_out), self.argmax, layer.kernel_size, layer.stride, grad_x,
                          overlapping)
        return batch_first(grad_x)


class FastAvgPool2D:
    """The fast twin of one ``AvgPool2D``: the windows' sum, one offset at a time, in the (C, H, W, N) layout."""

    def __init__(self, layer):
        self.layer = layer

    def forward(self, x):
        layer = self.layer
        out_shape = layer.output_shape(x)
        self.input_shape = x.shape
        views = window_views(batch_innermost(x), layer.kernel_size, layer.stride, out_shape)
        y = np.empty((x.shape[1],) + out_shape + (x.shape[0],), dtype=x.dtype)
        np.copyto(y, views[0])
        for view in views[1:]:
            y += view
        y *= 1.0 / len(views)
        return batch_first(y)

    def backward(self, grad_out):
        """dL/dx = dL/dy / (kh·kw), summed where windows overlap."""
        layer, (batch, channels, height, width) = self.layer, self.input_shape
        grad_x = np.zeros((channels, height, width, batch), dtype=grad_out.dtype)
        share = batch_innermost(grad_out) * (1.0 / (layer.kernel_size[0] * layer.kernel_size[1]))
        for view in window_views(grad_x, layer.kernel_size, layer.stride, share.shape[1:3]):
            view += share
        return batch_first(grad_x)
