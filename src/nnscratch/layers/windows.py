"""The windows of convolution and pooling: the small patches a kernel sees as it moves over an image.

``unfold`` gives every window of an (N, C, H, W) batch at once, as a strided view (no copy); ``fold`` is its
adjoint, adding a gradient for each window back onto the pixels it was read from, one kernel offset at a time.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pair(value, name):
    """``3`` -> ``(3, 3)``; ``(3, 5)`` stays; anything else is an error naming the argument."""
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    try:
        first, second = (int(item) for item in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer or a pair of integers, got {value!r}") from None
    return first, second


def output_size(size, kernel, stride, padding):
    """Positions of a window of ``kernel`` moved by ``stride`` over ``size + 2·padding`` pixels."""
    return (size + 2 * padding - kernel) // stride + 1


def unfold(x, kernel, stride):
    """windows[n, c, i, j] = x[n, c, i·sh : i·sh + kh, j·sw : j·sw + kw], shape (N, C, OH, OW, kh, kw)."""
    (kh, kw), (sh, sw) = kernel, stride
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def fold(grad_windows, input_shape, stride):
    """The adjoint of ``unfold``: dL/dx[n, c, h, w] = the sum of dL/dwindows over every window that holds
    pixel (h, w). grad_windows: (N, C, OH, OW, kh, kw); one slice-add of the whole batch per kernel offset."""
    (sh, sw), (out_h, out_w, kh, kw) = stride, grad_windows.shape[2:]
    grad_x = np.zeros(input_shape, grad_windows.dtype)
    for i in range(kh):
        for j in range(kw):
            grad_x[:, :, i:i + sh * out_h:sh, j:j + sw * out_w:sw] += grad_windows[:, :, :, :, i, j]
    return grad_x
