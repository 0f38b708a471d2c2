"""Turning any picture of a digit into what an MNIST network expects: 784 values in [0, 1], ink bright on dark.

MNIST digits were made this way: the ink's bounding box was scaled to fit a 20×20 box, keeping its aspect ratio
and anti-aliased, then placed in a 28×28 field so that its centre of mass sits in the middle. ``prepare_digit``
does the same to a photo, a scan or a drawing, whichever way round its colours are, so a network trained on
MNIST sees the kind of input it learned from. A photo first loses what is not ink: the paper's uneven lighting
(vignetting, shadows, gradients: estimated at a scale far wider than a stroke and taken away by ``lighting``
before the ink's colour is judged), its grain (a threshold chosen by Otsu's method above the measured noise) and
specks (only the largest pieces of ink, and those close to them, are kept); a digit written with a far finer pen
than MNIST's is widened to MNIST's stroke width.

Files: a phone's orientation tag (EXIF: "stored sideways, show it turned") is honoured. An animated GIF (or PNG,
WebP) or a TIFF of several pages is refused in one line naming its number of frames: it is not one picture, and
the user is told to save the frame they mean as a PNG of its own. ``nnscratch predict IMAGE`` and the draw page
both use this module.

SciPy's image filters are imported by the functions that use them: the import takes a quarter of a
second, which every command that trains or evaluates would otherwise pay without using them.
"""
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import NNScratchError
from .lighting import contrast_from_paper, shrunk

FIELD = 28                # the output is FIELD × FIELD pixels
BOX = 20                  # the ink is scaled to fit BOX × BOX, as in MNIST
MIN_CONTRAST = 0.1        # ink must differ from the paper by at least this much (on a 0..1 scale)
INK_THRESHOLD = 0.1       # after scaling the strong ink to 1, values below this are paper
NOISE_MARGIN = 5.0        # ink must stand out from the paper by this many standard deviations of its grain
WORK_SIDE = 640           # larger pictures are shrunk (area averaging) to this longer side before the work
MAX_PIXELS = 150_000_000  # a picture file with more pixels than this is refused (12000 × 12000 still loads)
MIN_DIGIT_SIDE = 0.05     # ink whose box is smaller than this share of the picture's longer side is too little
# A digit is made of strokes: its box is this many stroke widths long (a dot: 1; MNIST: 1.6+).
MIN_LENGTH_PER_WIDTH = 1.4
THIN_STROKE = 0.07         # strokes thinner than this share of the digit's longer side are widened ...
MNIST_STROKE = 0.12        # ... to about this share, MNIST's usual (its 5th to 95th percentiles: 0.10 to 0.20)
MIN_SIDE_FOR_LIGHTING = 48  # smaller pictures (drawings, MNIST's own) are taken to be evenly lit
EVEN_BORDER = 0.04        # so is a picture whose (lightly blurred) border varies less than this, on a 0..1 scale
LOW_CONFIDENCE = 0.5      # an answer whose probability is below this is reported as unsure (predict, the page)


class NoInkError(NNScratchError, ValueError):
    """The image is blank: nothing stands out from the background."""


class TooLittleInkError(NoInkError):
    """There is ink, but too little to be a digit: a dot, a speck, a stroke far smaller than the picture."""


class ImageError(NNScratchError, ValueError):
    """An image file that is missing or cannot be read; the message names the file and the reason."""


def is_unsure(probability):
    """Whether an answer given with this probability is to be reported as unsure (below ``LOW_CONFIDENCE``)."""
    return float(probability) < LOW_CONFIDENCE


def load_image(path):
    """Read a PNG, JPEG (or any format Pillow knows) as a 2-D float32 grey image in [0, 1].

    Colour images are turned grey; for an image with transparency, the opacity is the ink (a drawing on a
    transparent background). A large picture is read shrunk (JPEG decodes at 1/2, 1/4 or 1/8 size directly;
    others are reduced by a whole factor) to at most about twice ``WORK_SIDE`` on its longer side; one of more
    than ``MAX_PIXELS`` pixels is refused. The EXIF orientation is applied, so a photo stored sideways is read
    upright. Raises ``ImageError`` with one line for a missing, unreadable or absurdly large file, and for an
    animation or a file of several pictures (``check_one_picture``).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageError(f"{path}: no such image file")
    if os.path.isdir(path):
        raise ImageError(f"{path}: is a folder, not an image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS is checked below
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ImageError(f"{path}: the picture is {width}×{height} pixels, too large to be a digit "
                                     f"(at most {MAX_PIXELS // 1_000_000} megapixels)")
                if image.format == "JPEG" and image.mode in ("RGB", "L"):
                    image.draft("L", (2 * WORK_SIDE, 2 * WORK_SIDE))
                check_one_picture(path, image)
                image.load()
                image = ImageOps.exif_transpose(image)   # a phone's "stored sideways, show it turned" tag
                return image_to_grey(reduced(image, 2 * WORK_SIDE))
    except Image.DecompressionBombError:
        raise ImageError(f"{path}: the picture is too large to be a digit (more than "
                         f"{MAX_PIXELS // 1_000_000} megapixels)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (expected a PNG, JPEG or other picture file)") from None
    except (OSError, SyntaxError, ValueError) as error:
        if isinstance(error, ImageError):
            raise
        raise ImageError(f"{path}: cannot read the image ({error})") from None


def check_one_picture(path, image):
    """Refuse an animation (an animated GIF, PNG or WebP) or a file of several pages (TIFF): it is not one
    picture, and reading its first frame alone would answer for a picture the user may not mean. A phone's MPO
    JPEG (the photo followed by previews or a depth map) is one photo, and its first frame is read."""
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and image.format != "MPO":
        raise ImageError(f"{path}: an animation or a file of {frames} pictures (frames), not one picture; save "
                         f"the frame you mean as a PNG of its own (in an image editor, or with Pillow: "
                         f"image.seek(FRAME); image.save('frame.png')) and give that")


def reduced(image, side):
    """A Pillow image shrunk by a whole factor (mean of each factor × factor block) so that its longer side is
    at most about ``side``; unchanged if it is already that small."""
    factor = -(-max(image.size) // side)
    if factor <= 1:
        return image
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "L")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    elif image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    return image.reduce(factor)


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
        ink on dark, a clean drawing or a photo of paper.

    The steps: shrink a large image to ``WORK_SIDE``; estimate the paper's uneven lighting and take it away,
    then decide the polarity (which way from the paper the ink lies) and make the ink bright (``lighting``);
    find the ink with a threshold (Otsu's, and at least ``NOISE_MARGIN`` times the paper's grain);
    keep the largest piece of ink and the pieces near it, dropping specks; widen strokes far thinner than
    MNIST's (``thickened``); crop to their bounding box, scale it
    to fit 20×20 keeping the aspect ratio (area averaging), and place it in 28×28 with its centre of mass at the
    centre. Raises ``NoInkError`` ("no ink found") for a blank image, and ``TooLittleInkError`` ("too little
    ink") for a dot or a stroke too small to be a digit.
    """
    grey = shrunk(as_grey(image), WORK_SIDE)
    ink = ink_bright_on_dark(grey)
    ink = thickened(keep_the_digit(ink, max(grey.shape)))
    rows, columns = np.nonzero(ink)
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
    """Ink as values around 1 on paper of about 0, whichever way round the colours were and however unevenly the
    paper was lit (``lighting``: the lighting is taken away first, then the polarity is decided); raises
    NoInkError when nothing stands out from the paper's grain. A small picture (a drawing, an MNIST digit) is
    taken to be evenly lit, and so is a picture whose border is all one shade (a scan, a drawing, a digit
    cropped from a page): its paper is the median of its border. Estimating the lighting there would mistake a
    digit that fills the picture for paper."""
    from scipy import ndimage
    smooth = ndimage.gaussian_filter(image, 1.0, mode="nearest")
    border = np.concatenate([smooth[0], smooth[-1], smooth[:, 0], smooth[:, -1]])
    evenly_lit = np.percentile(border, 95) - np.percentile(border, 5) < EVEN_BORDER
    if min(image.shape) >= MIN_SIDE_FOR_LIGHTING and not evenly_lit:
        ink, smooth = contrast_from_paper(image, smooth)
    else:
        paper = np.median(np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]))
        if paper - smooth.min() > smooth.max() - paper:   # the strongest ink is darker than the paper
            image, smooth, paper = 1.0 - image, 1.0 - smooth, 1.0 - paper
        ink, smooth = image - paper, smooth - paper
    strongest = smooth.max()
    if strongest < MIN_CONTRAST or strongest < NOISE_MARGIN * grain(smooth):
        raise NoInkError("no ink found: the image is blank (nothing stands out from the background)")
    return ink, smooth


def grain(ink):
    """The standard deviation of the paper's noise, from the values below the paper level (ink lies above it):
    1.4826 × their median distance from it, as for the half of a normal distribution."""
    below = -ink[ink < 0]
    return 1.4826 * float(np.median(below)) if below.size else 0.0


def otsu_threshold(values, bins=128):
    """The value that splits ``values`` into two groups with the largest between-group variance (Otsu, 1979)."""
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * centres)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[1:][np.argmax(between)])


def keep_the_digit(ink_and_smooth, picture_side):
    """The ink of the digit alone, scaled so its strong strokes are 1, on exactly 0; specks and faint grain
    dropped. Raises TooLittleInkError when what is left is a dot or far too small for the picture."""
    from scipy import ndimage
    ink, smooth = ink_and_smooth
    noise = grain(smooth)
    candidates = smooth[smooth > NOISE_MARGIN * noise]
    floor = max(NOISE_MARGIN * noise, INK_THRESHOLD * smooth.max())
    threshold = max(otsu_threshold(candidates), floor) if candidates.size > 1 else floor
    threshold = min(threshold, 0.5 * smooth.max())   # a thin stroke, blurred, may be all "faint"
    labels, count = ndimage.label(smooth > threshold, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.reshape(-1), minlength=count + 1)[1:]
    boxes = ndimage.find_objects(labels)
    largest = int(np.argmax(sizes))
    top, left = boxes[largest][0].start, boxes[largest][1].start
    bottom, right = boxes[largest][0].stop, boxes[largest][1].stop
    reach = 0.5 * max(bottom - top, right - left)
    kept = [index for index, (box, size) in enumerate(zip(boxes, sizes, strict=True))
            if size >= 0.05 * sizes[largest] and box[0].stop > top - reach and box[0].start < bottom + reach
            and box[1].stop > left - reach and box[1].start < right + reach]
    mask = np.isin(labels, np.asarray(kept) + 1)
    check_enough_ink(mask, picture_side)
    strong = float(np.percentile(ink[mask], 90))
    region = ndimage.binary_dilation(mask, iterations=2) if strong > 0 else mask
    digit = np.where(region, np.clip(ink / max(strong, MIN_CONTRAST), 0.0, 1.0), 0.0)
    digit[digit < max(INK_THRESHOLD, 2 * noise / max(strong, MIN_CONTRAST))] = 0.0
    if not digit.any():
        raise NoInkError("no ink found: the image is blank (nothing stands out from the background)")
    return digit


def check_enough_ink(mask, picture_side):
    """Refuse ink too small for the picture, or a blob (a dot) no longer than it is thick."""
    from scipy import ndimage
    rows, columns = np.nonzero(mask)
    length = max(rows.max() - rows.min(), columns.max() - columns.min()) + 1
    if length < MIN_DIGIT_SIDE * picture_side:
        raise TooLittleInkError(f"too little ink: a mark {length} pixels long (its longer side) in a picture "
                                f"{picture_side} pixels long is too small to be a digit (at least "
                                f"{MIN_DIGIT_SIDE:.0%} of the picture)")
    width = 2 * float(ndimage.distance_transform_edt(np.pad(mask, 1)).max())
    if length < MIN_LENGTH_PER_WIDTH * width:
        raise TooLittleInkError("too little ink: a dot or a blob, not the strokes of a digit")


def stroke_width(mask):
    """The strokes' mean width in pixels: a stroke of length l and width w covers l·w pixels and has about 2·l
    pixels on its edge, so w ≈ 2 · area / edge."""
    from scipy import ndimage
    edge = mask & ~ndimage.binary_erosion(mask)
    return 2.0 * mask.sum() / max(int(edge.sum()), 1)


def thickened(digit):
    """A digit drawn with a far thinner pen than MNIST's (strokes under ``THIN_STROKE`` of its longer side: a fine
    pen photographed close) widened by a grey dilation (the maximum over a disc) to about ``MNIST_STROKE`` of its
    side, as MNIST's writers' strokes are; other digits unchanged."""
    from scipy import ndimage
    rows, columns = np.nonzero(digit)
    side = max(np.ptp(rows), np.ptp(columns)) + 1
    width = stroke_width(digit > 0.5)
    if width >= THIN_STROKE * side:
        return digit
    radius = max(1, round((MNIST_STROKE * side - width) / 2))
    offsets = np.arange(-radius, radius + 1)
    disc = offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius ** 2
    return ndimage.grey_dilation(np.pad(digit, radius), footprint=disc)


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
