"""The (C, H, W, N) layout, padding within it, and scratch arrays reused from step to step.

A batch stored channel by channel with the batch innermost, (C, H, W, N), makes a window offset pick out long
contiguous runs, and its (C, H·W·N) view is a matrix whose rows are whole channels. Every fast layer hands on
its result as the (N, C, H, W) view of such an array (``batch_first``), a view and not a copy, so that the next
fast layer reads it in place (``batch_innermost``). Scratch arrays come from a ``Workspace``.
"""
import numpy as np


def batch_innermost(x):
    """The (C, H, W, N) view of an (N, C, H, W) batch: free for the outputs of Conv2D and the poolings, which
    are such arrays seen through ``batch_first``.  Plain: ``x.transpose(1, 2, 3, 0)`` is all it is."""
    return x.transpose(1, 2, 3, 0)


def batch_first(x):
    """The (N, C, H, W) view of a (C, H, W, N) array, the layout every layer hands on (a view, no copy)."""
    return x.transpose(3, 0, 1, 2)


def as_batch_innermost(x):
    """The (C, H, W, N) view of a batch, copied into that layout when it arrives in another (after Flatten).
    Plain: ``np.ascontiguousarray(x.transpose(1, 2, 3, 0))``, which copies only when it must."""
    return np.ascontiguousarray(batch_innermost(x))


def pad(x, padding, allocate):
    """A (C, H, W, N) batch with ``padding`` rows and columns of zeros around each image, gathered into one
    contiguous array; the batch itself when there is no padding and it is contiguous already.
    Plain: ``np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))``. ``allocate(shape, dtype)`` supplies the array,
    whose border is zero and is never written (a reused workspace keeps it zero)."""
    (ph, pw), (channels, height, width, batch) = padding, x.shape
    if not (ph or pw) and x.flags.c_contiguous:
        return x
    padded = allocate((channels, height + 2 * ph, width + 2 * pw, batch), x.dtype)
    padded[:, ph:ph + height, pw:pw + width] = x
    return padded


def unpad(x, padding):
    """The inside of a padded (C, H, W, N) array, a view: ``x[:, ph:H - ph, pw:W - pw]``."""
    (ph, pw), height, width = padding, x.shape[1], x.shape[2]
    return x[:, ph:height - ph, pw:width - pw]


# ---- scratch arrays --------------------------------------------------------------------------------------------


class Workspace:
    """Scratch arrays reused from batch to batch, one per (purpose, shape, dtype), so that large temporaries
    are not allocated and page-faulted afresh at every step. Plain: ``np.zeros(shape, dtype)`` at each call
(a new array starts at zero; a reused one keeps what it last held, so a caller writes every element it reads,
or, like a padded border, only ever writes the same elements).
    Never hand one of them out as a layer's result."""

    def __init__(self, limit=6):
        self.arrays = {}
        self.limit = limit

    def get(self, purpose, shape, dtype):
        key = (purpose, tuple(shape), np.dtype(dtype).str)
        array = self.arrays.get(key)
        if array is None:
            if len(self.arrays) >= self.limit:
                self.arrays.clear()
            array = self.arrays[key] = np.zeros(shape, dtype=dtype)   # zeros once: a padded border stays 0
        return array

