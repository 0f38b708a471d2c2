"""The one in-memory form every reader produces: uint8 images (N, 28, 28) and int64 labels, train and test.

``RawData`` is what the cache stores and what every file format is converted to and from; scaling to float32
in [0, 1] happens once, when a ``Dataset`` is built from it.
"""
import hashlib
from typing import NamedTuple

import numpy as np

from .errors import DataError

IMAGE_SIDE = 28


class RawData(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def check_images(x, name, part):
    """Return ``x`` as uint8 (N, 28, 28); (N, 784) rows are reshaped; other integers must lie in 0..255, floats
    in [0, 1] (they are scaled by 255 and rounded)."""
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] == IMAGE_SIDE * IMAGE_SIDE:
        x = x.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if x.ndim != 3 or x.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(f"{name}: expected {part} images of shape (N, 28, 28) or (N, 784), got {x.shape}")
    if x.dtype.kind == "f":
        return float_images_as_uint8(x, name, part)
    if x.dtype != np.uint8:
        if x.dtype.kind not in "iu":
            raise DataError(f"{name}: expected {part} images as integers 0..255 or floats in [0, 1], got dtype "
                            f"{x.dtype}")
        if x.size and (x.min() < 0 or x.max() > 255):
            raise DataError(f"{name}: {part} pixel values must lie in 0..255, found {x.min()}..{x.max()}")
        x = x.astype(np.uint8)
    return x


def float_images_as_uint8(x, name, part):
    """Float images in [0, 1] (pixels / 255, as many libraries keep them) back as uint8 0..255, rounded."""
    if x.size and not np.isfinite(x).all():
        raise DataError(f"{name}: {part} images hold NaN or infinite values")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise DataError(f"{name}: float {part} pixel values must lie in [0, 1], found {x.min():g}..{x.max():g} "
                        f"(integers 0..255 are also accepted)")
    return np.rint(x * 255).astype(np.uint8)


def check_labels(y, count, num_classes, name, part, offset=0):
    """Return ``y`` as int64 (count,) after subtracting ``offset``; every label must lie in 0..num_classes-1."""
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise DataError(f"{name}: expected integer {part} labels, got dtype {y.dtype}")
    if y.ndim != 1 or y.shape[0] != count:
        raise DataError(f"{name}: {count} {part} images but {y.shape[0] if y.ndim else 'no'} {part} labels "
                        f"(label shape {y.shape})")
    y = y.astype(np.int64) - offset
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        bad = y[(y < 0) | (y >= num_classes)][0] + offset
        raise DataError(f"{name}: {part} label {bad} is out of range, expected {offset}..{num_classes - 1 + offset}")
    return y


def check_raw(x_train, y_train, x_test, y_test, num_classes, name, label_offset=0, transposed=False):
    """Check and normalise the four arrays of a data set; return RawData (images upright, labels from 0)."""
    x_train = check_images(x_train, name, "training")
    x_test = check_images(x_test, name, "test")
    y_train = check_labels(y_train, len(x_train), num_classes, name, "training", label_offset)
    y_test = check_labels(y_test, len(x_test), num_classes, name, "test", label_offset)
    if transposed:
        x_train = np.ascontiguousarray(x_train.transpose(0, 2, 1))
        x_test = np.ascontiguousarray(x_test.transpose(0, 2, 1))
    return RawData(x_train, y_train, x_test, y_test)


def digest(raw):
    """SHA-256 over the four arrays' shapes, dtypes and bytes: the identity of a data set's content."""
    hasher = hashlib.sha256()
    for array in raw:
        array = np.ascontiguousarray(array)
        hasher.update(f"{array.dtype.str}{array.shape};".encode())
        hasher.update(array.data)
    return hasher.hexdigest()
