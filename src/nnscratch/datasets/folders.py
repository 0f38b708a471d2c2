"""A data set from the user's own pictures, one sub-folder per class: ``my_digits/0/*.png``, ``my_digits/1/*.jpg``...

Each sub-folder is named after its class (``0`` to ``9`` for digits; any subset) and holds PNG, JPEG, BMP or GIF
pictures. Every picture becomes a 28×28 MNIST-style digit the way ``nnscratch predict`` prepares one
(``prepare_digit``: crop to the ink, fit 20×20, centre by mass in 28×28), except a picture that is already 28×28
and grey, which is used as it is (made bright ink on dark, see ``as_mnist_digit``). The pictures are read one at a
time into one preallocated float32 array, so memory stays bounded (at most ``MAX_PICTURES`` are read). A picture
that cannot be read, or holds no digit, stops the reading with one line that names it: training on a set with
holes the user did not choose is worse than fixing one file. The last ``TEST_SHARE`` of the pictures, taken evenly
from every class, becomes the test split.
"""
import os
from pathlib import Path

import numpy as np

from .arrays import IMAGE_SIDE, check_raw
from .errors import DataError

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
IGNORED_NAMES = {"thumbs.db", "desktop.ini", "__macosx"}  # what file managers leave behind; hidden names too
MAX_PICTURES = 100_000   # 100,000 × 784 float32 values is 314 MB while reading (MNIST has 70,000)
TEST_SHARE = 1 / 7       # as MNIST's own 10,000 of 70,000 (and a labelled CSV without a test file)
KINDS = "PNG, JPEG, BMP or GIF"


def is_ignored(path):
    """Hidden entries and what file managers leave behind (``.DS_Store``, ``Thumbs.db``, ``__MACOSX``)."""
    return path.name.startswith(".") or path.name.lower() in IGNORED_NAMES


def entries(folder):
    """The entries of ``folder`` that are not ignored, sorted by name."""
    return sorted((entry for entry in folder.iterdir() if not is_ignored(entry)), key=lambda entry: entry.name)


def looks_like_picture_folders(path):
    """Whether ``path`` is a folder to be read as pictures sorted into class folders: it has a sub-folder, or
    nothing at all (so that an empty folder gets the message of this layout)."""
    found = entries(path)
    return not found or any(entry.is_dir() for entry in found)


def class_folders(path, spec):
    """``[(label, folder)]`` for the sub-folders of ``path``, which must all be named after classes of ``spec``
    (``0`` to ``num_classes - 1``)."""
    found = entries(path)
    if not found:
        raise DataError(f"{path}: the folder is empty; expected one sub-folder of pictures per class, named "
                        f"{class_range(spec)} (my_digits/0/*.png, my_digits/1/*.png, ...), or a data set's files")
    folders = [entry for entry in found if entry.is_dir()]
    names = {str(label) for label in range(spec.num_classes)}
    strangers = [folder.name for folder in folders if folder.name not in names]
    if strangers:
        nothing_else = "" if len(strangers) < len(folders) else (f"found no {spec.name} files (IDX, CSV, .zip, .npz, "
                                                                   f"mnist.pkl.gz), and ")
        raise DataError(f"{path}: {nothing_else}the sub-folders must be named after the classes {class_range(spec)}, "
                        f"one folder of pictures per class; found {', '.join(strangers[:5])}"
                        f"{f' and {len(strangers) - 5} more' if len(strangers) > 5 else ''}")
    return sorted(((int(folder.name), folder) for folder in folders), key=lambda pair: pair[0])


def class_range(spec):
    return f"0 to {spec.num_classes - 1}"


def picture_files(path, spec):
    """``[(label, file)]`` of every picture, the files of each class sorted by name; refuses a file that is not a
    picture, and more than ``MAX_PICTURES`` pictures (counting stops there, so a huge folder costs little)."""
    pictures = []
    for label, folder in class_folders(path, spec):
        for entry in os.scandir(folder):
            if is_ignored(entry):
                continue
            file = Path(entry.path)
            if not entry.is_file() or not entry.name.lower().endswith(PICTURE_SUFFIXES):
                raise DataError(f"{file}: not a {KINDS} picture; each class folder should hold only pictures")
            pictures.append((label, file))
            if len(pictures) > MAX_PICTURES:
                raise DataError(f"{path}: more than {MAX_PICTURES:,} pictures, more than nnscratch reads from "
                                f"folders; for a larger data set use IDX, CSV or .npz files")
    if not pictures:
        raise DataError(f"{path}: the class folders hold no pictures; expected {KINDS} files in "
                        f"{', '.join(str(folder.name) for _, folder in class_folders(path, spec))}")
    return sorted(pictures, key=lambda pair: (pair[0], pair[1].name))


def spread_order(labels):
    """An order of the examples in which every class is spread evenly from start to end: the j-th of a class's
    n examples goes to the place (j + ½) / n. Any tail of it (the test split, then the validation split) then
    holds each class in its share, with no randomness."""
    labels = np.asarray(labels)
    places = np.empty(len(labels))
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        places[members] = (np.arange(len(members)) + 0.5) / len(members)
    return np.lexsort((labels, places))


def is_grey_file(file):
    """Whether a picture file holds grey values only (every pixel with red = green = blue)."""
    from PIL import Image
    with Image.open(file) as image:
        if image.mode in ("1", "L", "LA", "I", "I;16", "F"):
            return True
        rgb = np.asarray(image.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def as_mnist_digit(file):
    """One picture file as a 28×28 float32 digit in [0, 1], bright ink on dark.

    A 28×28 grey picture is already an MNIST digit's size: it is used as it is, inverted when its ink is darker
    than its paper. The rule is ``prepare_digit``'s: the paper is the median of the border pixels, and the ink lies
    on the side of the paper where the values reach farthest (paper − min > max − paper: dark ink, inverted).
    Every other picture goes through ``prepare_digit``, as ``nnscratch predict`` prepares a user's picture.
    """
    from ..images.prepare import MIN_CONTRAST, ImageError, NoInkError, load_image, prepare_digit
    try:
        grey = load_image(file)
        if grey.shape == (IMAGE_SIDE, IMAGE_SIDE) and is_grey_file(file):
            border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
            paper = float(np.median(border))
            if grey.max() - grey.min() < MIN_CONTRAST:
                raise NoInkError("no ink found: the image is blank (nothing stands out from the background)")
            return 1 - grey if paper - grey.min() > grey.max() - paper else grey
        return prepare_digit(grey).reshape(IMAGE_SIDE, IMAGE_SIDE)
    except ImageError as error:
        raise DataError(f"{error}; remove or replace it") from None
    except (NoInkError, ValueError) as error:
        raise DataError(f"{file}: {error}; remove or replace it") from None


def read_folders(path, spec):
    """Read the pictures under ``path`` (one sub-folder per class) as RawData: uint8 images (N, 28, 28), int64
    labels, the last ``TEST_SHARE`` of every class as the test split.

    Raises DataError with one line for an empty folder, sub-folders not named after classes, a file that is not
    a picture, a picture that cannot be read or holds no digit (named), fewer than two pictures, or more than
    ``MAX_PICTURES``.
    """
    pictures = picture_files(path, spec)
    if len(pictures) < 2:
        raise DataError(f"{path}: {len(pictures)} picture; at least two are needed, one to train on and one to test")
    order = spread_order([label for label, _ in pictures])
    x = np.empty((len(pictures), IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)   # filled one picture at a time
    y = np.empty(len(pictures), dtype=np.int64)
    for place, index in enumerate(order):
        label, file = pictures[index]
        x[place] = as_mnist_digit(file)
        y[place] = label
    x = np.rint(np.multiply(x, np.float32(255), out=x), out=x).astype(np.uint8)   # RawData's form, as MNIST's
    cut = len(pictures) - max(1, round(TEST_SHARE * len(pictures)))
    return check_raw(x[:cut], y[:cut], x[cut:], y[cut:], spec.num_classes, str(path))


__all__ = ["MAX_PICTURES", "PICTURE_SUFFIXES", "looks_like_picture_folders", "read_folders"]
