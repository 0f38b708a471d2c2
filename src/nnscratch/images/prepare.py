"""Turning any picture of a digit into what an MNIST network expects: 784 values in [0, 1], ink bright on dark.

MNIST digits were made this way: the ink's bounding box was scaled to fit a 20×20 box, keeping its aspect ratio
and anti-aliased, then placed in a 28×28 field so that its centre of mass sits in the middle. ``prepare_digit``
does the same to a photo, a scan or a drawing, whichever way round its colours are, so a network trained on
MNIST sees the kind of input it learned from. ``nnscratch predict IMAGE`` and the draw page both use it.
"""
import os

import numpy as np
from PIL import Image, UnidentifiedImageError

FIELD = 28                # the output is FIELD × FIELD pixels
BOX = 20                  # the ink is scaled to fit BOX × BOX, as in MNIST
MIN_CONTRAST = 0.1        # ink must differ from the paper by at least this much (on a 0..1 scale)
INK_THRESHOLD = 0.1       # after scaling the darkest-to-brightest ink to 0..1, values below this are paper


class NoInkError(ValueError):
    """The image is blank: nothing stands out from the background."""


class ImageError(ValueError):
    """An image file that is missing or cannot be read; the message names the file and the reason."""


def load_image(path):
    """Read a PNG, JPEG (or any format Pillow knows) as a 2-D float32 grey image in [0, 1].

    Colour images are turned grey; for an image with transparency, the opacity is the ink (a drawing on a
    transparent background). Raises ``ImageError`` with one line for a missing or unreadable file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageError(f"{path}: no such image file")
    if os.path.isdir(path):
        raise ImageError(f"{path}: is a folder, not an image file")
    try:
        with Image.open(path) as image:
            image.load()
            return image_to_grey(image)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (expected a PNG, JPEG or other picture file)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{path}: cannot read the image ({error})") from None


def image_to_grey(image):
    """A Pillow image as a 2-D float32 array in [0, 1]."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
        if alpha.min() < 255:
            return alpha.astype(np.float32) / np.float32(255)
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        return np.clip(values / np.float32(top) if values.max() > 1 else values, 0, 1).astype(np.float32)
    return np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255)


def prepare_digit(image):
    """Make a 2-D grey image of a digit look like an MNIST digit; return float32 of shape (784,) in [0, 1].

    Parameters
    ----------
    image : a 2-D array of any size: floats in [0, 1] or integers in [0, 255], dark ink on light paper or light
        ink on dark.

    The steps: decide the polarity from the border (its median is the paper), make the ink bright on a zero
    background scaled so the strongest ink is 1, treat values below ``INK_THRESHOLD`` as paper, crop to the
    ink's bounding box, scale it to fit 20×20 keeping the aspect ratio (area averaging), and place it in 28×28
    with its centre of mass at the centre. Raises ``NoInkError`` ("no ink found") for a blank image.
    """
    ink = ink_bright_on_dark(as_grey(image))
    rows, columns = np.nonzero(ink)
    if rows.size == 0:
        raise NoInkError("no ink found: the image is blank")
    ink = ink[rows.min():rows.max() + 1, columns.min():columns.max() + 1]
    return centre_in_field(fit_in_box(ink, BOX), FIELD).reshape(-1)


def as_grey(image):
    """Check the input and scale it to float64 in [0, 1]."""
    image = np.asarray(image)
    if image.ndim != 2 or min(image.shape) < 1:
        raise ValueError(f"prepare_digit expects a 2-D grey image, got an array of shape {image.shape}")
    if image.dtype.kind not in "uif" or image.dtype.kind == "b":
        raise ValueError(f"prepare_digit expects numbers, got dtype {image.dtype}")
    image = image.astype(np.float64)
    if not np.isfinite(image).all():
        raise ValueError("prepare_digit: the image contains NaN or infinite values")
    if image.max() > 1.0:
        image = image / 255.0
    return np.clip(image, 0.0, 1.0)


def ink_bright_on_dark(image):
    """Ink as values in [0, 1] on a background of exactly 0, whichever way round the colours were."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    if np.median(border) > 0.5:           # light paper: dark ink
        image = 1.0 - image
        border = 1.0 - border
    paper = np.median(border)
    contrast = image.max() - paper
    if contrast < MIN_CONTRAST:
        raise NoInkError("no ink found: the image is blank (nothing stands out from the background)")
    ink = np.clip((image - paper) / contrast, 0.0, 1.0)
    ink[ink < INK_THRESHOLD] = 0.0
    return ink


def fit_in_box(ink, box):
    """Resize so that the longer side is ``box`` pixels, keeping the aspect ratio (area averaging when
    shrinking, bilinear when enlarging)."""
    height, width = ink.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # Pillow sizes are (width, height)
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = Image.fromarray(ink.astype(np.float32)).resize(size, resample)
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)


def centre_in_field(ink, field):
    """Paste ``ink`` into a ``field`` × ``field`` square with its centre of mass on the nearest whole pixel to
    (field/2, field/2): where MNIST's own digits have theirs (14.0 ± 0.3 in 28 × 28), so an MNIST digit comes
    back where it was."""
    height, width = ink.shape
    total = ink.sum()
    centre_row = (ink.sum(axis=1) @ np.arange(height)) / total
    centre_column = (ink.sum(axis=0) @ np.arange(width)) / total
    middle = field / 2
    top = int(np.clip(round(middle - centre_row), 0, field - height))
    left = int(np.clip(round(middle - centre_column), 0, field - width))
    out = np.zeros((field, field), dtype=np.float32)
    out[top:top + height, left:left + width] = ink
    return out
