"""Uneven lighting on a photo of paper: estimating the paper's brightness everywhere, and taking it away.

A phone photo of a page is never evenly lit: the corners are darker (vignetting), a hand or the phone casts a
shadow with an edge, a lamp makes a gradient. The paper's brightness L(r, c) is estimated at a scale much larger
than a stroke, where ink is a minority, and only then is the ink found: which way round its colours are (from the
strongest marks that stand out from the local paper), and how far each pixel lies from the paper. Dark ink absorbs
a share of the light, so its contrast is a ratio, (L - v) / L, the same in a shadow as in full light; light ink
on a dark ground (a drawing, chalk) adds to it, so its contrast is a difference, v - L.

SciPy's image filters are imported by the functions that use them: the import takes a quarter of a
second, which every command that trains or evaluates would otherwise pay without using them.
"""
import numpy as np
from PIL import Image

CELLS = 96                # the lighting is estimated on a copy of the picture whose longer side is this many cells
POLARITY_SHARE = 1 / 5    # the window that judges which marks stand out: this share of the longer side
EVEN = 0.01               # paper whose light varies less than this (on a 0..1 scale) is evenly lit
PAPER_SHARE = 1 / 3       # the window of the paper's estimate: this share of the longer side (far wider than a stroke)


def shrunk(image, side):
    """``image`` resized by area averaging so that its longer side is at most ``side``."""
    height, width = image.shape
    scale = side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(image.astype(np.float32)).resize(size, Image.Resampling.BOX)
    return np.asarray(resized, dtype=np.float64)


def enlarged(cells, shape):
    """A coarse estimate brought back to ``shape`` = (height, width) by bilinear interpolation."""
    if cells.shape == shape:
        return cells
    resized = Image.fromarray(cells.astype(np.float32)).resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float64)


def window(cells, share):
    """The side, in cells, of a square window covering ``share`` of the coarse picture's longer side (at least 3)."""
    return max(3, round(share * max(cells.shape)))


def ink_is_dark(image):
    """Whether the ink is darker than the paper. The local paper is the median of a window a fifth of the picture
    wide (a median ignores the strokes where they fill less than half of it, and keeps a shadow's edge); ink is
    the minority of the marks that stand out from it, so its side has the long tail: the residual's third moment
    Σ (v - paper)³ is negative for dark ink."""
    from scipy import ndimage
    cells = ndimage.gaussian_filter(shrunk(image, CELLS), 1.0, mode="nearest")
    residual = cells - ndimage.median_filter(cells, size=window(cells, POLARITY_SHARE), mode="nearest")
    return float(np.sum(residual ** 3)) < 0


def paper_brightness(bright):
    """The paper's level under ink made bright (ink above it), on a coarse copy of the picture, in two steps. A
    grey opening (the minimum over a window far wider than a stroke, then the maximum over the same window)
    removes every bright mark narrower than the window and follows a ramp or a shadow's straight edge exactly,
    but sinks below a curved lighting such as a vignette's; a quadratic surface fitted to what the opening left
    on the paper (``smooth_surface``) restores that curve. The sum is brought back to full size."""
    from scipy import ndimage
    cells = shrunk(bright, CELLS)
    side = window(cells, PAPER_SHARE)
    paper = ndimage.gaussian_filter(ndimage.grey_opening(cells, size=(side, side), mode="nearest"), side / 6,
                                    mode="nearest")
    paper = paper + smooth_surface(cells - paper)
    return np.minimum(enlarged(paper, bright.shape), bright.max())


def smooth_surface(values, rounds=6):
    """A quadratic surface a + b·r + c·c + d·r² + e·r·c + f·c² fitted by least squares to the paper in
    ``values`` (a 2-D grid, ink bright): first to its darker half, then, round after round, to every cell not
    brighter than the fit by more than 2.5 standard deviations of the residuals (the brighter ones hold ink)."""
    rows, columns = np.mgrid[0:values.shape[0], 0:values.shape[1]]
    rows, columns = rows / max(values.shape[0] - 1, 1), columns / max(values.shape[1] - 1, 1)
    design = np.stack([np.ones_like(rows), rows, columns, rows * rows, rows * columns, columns * columns],
                      axis=-1).reshape(-1, 6)
    flat = values.reshape(-1)
    paper = flat <= np.median(flat)   # ink is bright and rarely covers half the picture: start from the rest
    for _ in range(rounds):
        coefficients = np.linalg.lstsq(design[paper], flat[paper], rcond=None)[0]
        residuals = flat - design @ coefficients
        spread = 1.4826 * np.median(np.abs(residuals[paper] - np.median(residuals[paper])))
        kept = residuals < 2.5 * max(spread, 1e-3)
        if kept.sum() < 6 or np.array_equal(kept, paper):
            break
        paper = kept
    return (design @ coefficients).reshape(values.shape)


def contrast_from_paper(image, smooth):
    """``(ink, smooth_ink)``: how far each pixel (and its lightly blurred copy) stands from the paper, ink
    positive and paper about 0, with the lighting taken away. Dark ink absorbs a share a of the light L that the
    paper reflects (v = L·(1 - a)), so its contrast is the ratio (L - v) / L = a, the same in a shadow as in full
    light; light ink on a dark ground (a drawing, chalk) adds to it, and its contrast is the difference v - L.
    On evenly lit paper the two differ by a constant factor only, and the difference is used."""
    dark = ink_is_dark(image)
    if dark:
        image, smooth = 1.0 - image, 1.0 - smooth
    paper = paper_brightness(smooth)       # with the ink made bright: 1 - L for dark ink
    ink, smooth = image - paper, smooth - paper
    if dark and paper.max() - paper.min() >= EVEN:
        light = np.maximum(1.0 - paper, 0.05)
        ink, smooth = ink / light, smooth / light
    return ink, smooth
