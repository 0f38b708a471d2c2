"""The synthetic line images of ZimengXiong's simpleNN: one full-length horizontal or vertical line per image.

Each ``size``×``size`` image is dark except for one row (label 0, horizontal) or one column (label 1,
vertical) at a uniformly random index, ``thickness`` pixels wide; optional Gaussian noise is added and the
result clipped to [0, 1]. A toy task that a 256-16-2 network learns perfectly.
"""
import numpy as np

LINE_CLASS_NAMES = ("horizontal", "vertical")


def make_lines(n, rng, size=16, noise=0.0, thickness=1):
    """Return ``(x float32 (n, size*size), y int64 (n,))``; labels 0 = horizontal, 1 = vertical.

    ``rng`` must be an ``np.random.Generator``: the same generator state gives the same images, to the bit.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"make_lines expected rng to be a numpy.random.Generator, got {type(rng).__name__}")
    if int(n) != n or n < 0:
        raise ValueError(f"make_lines expected a non-negative whole number of images, got {n!r}")
    if not 1 <= thickness <= size:
        raise ValueError(f"make_lines expected 1 <= thickness <= size ({size}), got {thickness}")
    if noise < 0:
        raise ValueError(f"make_lines expected noise >= 0, got {noise}")
    n = int(n)
    y = rng.integers(0, 2, size=n)
    start = rng.integers(0, size - thickness + 1, size=n)
    index = np.arange(size)
    # on[i, k] is True where row/column k of image i belongs to its line.
    on = (index >= start[:, None]) & (index < start[:, None] + thickness)
    horizontal = np.broadcast_to(on[:, :, None], (n, size, size))
    vertical = np.broadcast_to(on[:, None, :], (n, size, size))
    x = np.where((y == 0)[:, None, None], horizontal, vertical).astype(np.float32)
    if noise:
        x += rng.normal(0.0, noise, size=x.shape).astype(np.float32)
        np.clip(x, 0.0, 1.0, out=x)
    return x.reshape(n, size * size), y.astype(np.int64)
