"""MaxPool2D and AvgPool2D, fast: one pass per kernel offset over cache-sized blocks of channels, on the pool.

The same equations as ``layers/pooling.py``. Here the windows are strided views of the (C, H, W, N) layout,
one per offset inside the window; max pooling keeps the running maximum and records the offset of the first
maximum without a branch (``record_larger``), and backward writes each window's gradient at that offset. The
2×2 windows of stride 2 that tile the input (every preset's pooling) go pair by pair instead (``max_of_pairs``):
half the passes over the data, and none at all for the choices when nothing will go backward.
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


def max_of_pairs(x, choose=True):
    """2×2 max pooling with stride 2 of a (C, H, W, N) array of even height and width, pair by pair, and (with
    ``choose``) the three choices that name each window's first maximum, for backward:

        top = max(x00, x01)    bottom = max(x10, x11)    y = max(top, bottom)
        right_of_top = x01 > x00    right_of_bottom = x11 > x10    bottom_wins = bottom > top

    strictly greater, so that a tie keeps the first maximum, as the plain layer does. Six passes over cache-sized
    blocks of channels, on every thread, against the general path's thirteen; three when nothing is chosen.
    Returns y and the choices stacked in that order, (3, C, H/2, W/2, N) booleans (None without ``choose``)."""
    x00, x01, x10, x11 = window_views(x, (2, 2), (2, 2), (x.shape[1] // 2, x.shape[2] // 2))
    y = np.empty(x00.shape, dtype=x.dtype)
    choices = np.empty((3,) + y.shape, dtype=bool) if choose else None

    def pool(first, last):
        top, bottom = y[first:last], np.empty(y[first:last].shape, dtype=y.dtype)
        if choose:
            np.greater(x01[first:last], x00[first:last], out=choices[0, first:last])
            np.greater(x11[first:last], x10[first:last], out=choices[1, first:last])
        np.maximum(x00[first:last], x01[first:last], out=top)
        np.maximum(x10[first:last], x11[first:last], out=bottom)
        if choose:
            np.greater(bottom, top, out=choices[2, first:last])
        np.maximum(top, bottom, out=top)

    in_cache_sized_blocks(pool, x.shape[0], y[0].size)
    return y, choices


def scatter_to_pairs(grad_out, choices, out):
    """dL/dx of ``max_of_pairs``: each window's gradient g goes to its first maximum, taken the way the choices
    were made, into ``out`` (C, H, W, N), every element written:

        to_bottom = g·bottom_wins    to_top = g - to_bottom
        dx01 = to_top·right_of_top   dx00 = to_top - dx01   (and the bottom row alike)

    g·1 = g, g·0 = 0 and g - g = 0 exactly for a finite g, so the values are the plain layer's to the bit."""
    d00, d01, d10, d11 = window_views(out, (2, 2), (2, 2), grad_out.shape[1:3])

    def scatter(first, last):
        gradient = grad_out[first:last]
        to_bottom = np.multiply(gradient, choices[2, first:last])
        to_top = np.subtract(gradient, to_bottom)
        for share, right, left, choice in ((to_top, d01, d00, 0), (to_bottom, d11, d10, 1)):
            np.multiply(share, choices[choice, first:last], out=right[first:last])
            np.subtract(share, right[first:last], out=left[first:last])

    in_cache_sized_blocks(scatter, grad_out.shape[0], grad_out[0].size)
    return out


class FastMaxPool2D:
    """The fast twin of one ``MaxPool2D``, for ``fast.faster`` to lend it."""

    def __init__(self, layer):
        self.layer = layer

    def in_pairs(self, shape):
        """Whether the windows are 2×2 with stride 2 and tile an input of this (N, C, H, W) shape."""
        layer = self.layer
        return layer.kernel_size == (2, 2) and layer.stride == (2, 2) and shape[2] % 2 == 0 and shape[3] % 2 == 0

    def forward(self, x):
        layer = self.layer
        out_shape = layer.output_shape(x)
        self.input_shape = x.shape
        if self.in_pairs(x.shape):
            # In eval mode nothing is chosen; a backward then (a saliency map) chooses from the input it keeps.
            self.x_inner = batch_innermost(x)
            y, self.choices = max_of_pairs(self.x_inner, choose=layer.training)
            if layer.training:
                self.x_inner = None
            return batch_first(y)
        # argmax[c, i, j, n]: the offset (numbered row by row) of the window's first maximum, for backward.
        y, self.argmax = max_over_windows(batch_innermost(x), layer.kernel_size, layer.stride, out_shape)
        return batch_first(y)

    def backward(self, grad_out):
        """dL/dx = dL/dy at each window's first maximum, else 0."""
        layer, (batch, channels, height, width) = self.layer, self.input_shape
        if self.in_pairs(self.input_shape):
            if self.choices is None:                                   # forward ran in eval mode
                self.choices = max_of_pairs(self.x_inner)[1]
            grad_x = np.empty((channels, height, width, batch), dtype=grad_out.dtype)
            return batch_first(scatter_to_pairs(as_batch_innermost(grad_out), self.choices, grad_x))
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
