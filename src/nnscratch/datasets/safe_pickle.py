"""Reading Nielsen's ``mnist.pkl.gz`` without trusting it.

A pickle is a small program: loading one with ``pickle.load`` runs whatever callables it names. This module
unpickles through an ``Unpickler`` whose ``find_class`` admits only what NumPy needs to rebuild an array
(``ndarray``, ``dtype``, the reconstruction helper, and a latin-1-only stand-in for ``_codecs.encode``) and
refuses every other name before it is looked up, so a hostile file raises ``DataError`` and nothing in it runs.

The file holds ``((train_x, train_y), (validation_x, validation_y), (test_x, test_y))``: float32 images of
shape (N, 784) whose pixels are exactly k/256, and int64 labels. Nielsen's 50,000 + 10,000 split is the
60,000 MNIST training images in their original order.
"""
import io
import pickle

import numpy as np

from .errors import DataError
from .files import gunzip

ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
RECONSTRUCTORS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}


def _latin1_encode(text, encoding="utf-8"):
    # Python 3 writes the bytes of an array into a protocol-2 pickle as _codecs.encode(text, "latin1").
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError(f"it calls _codecs.encode with {encoding!r}, and only 'latin1' is allowed")
    return text.encode("latin1")


def _numpy_helper(module, name):
    # Import the real helper from whichever of numpy.core / numpy._core this NumPy has, without going
    # through the deprecated numpy.core alias.
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # NumPy < 2
        from numpy.core import multiarray, numeric
    return getattr(multiarray if module.endswith("multiarray") else numeric, name)


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can build NumPy arrays and nothing else."""

    def find_class(self, module, name):
        if (module, name) in ALLOWED_GLOBALS:
            return ALLOWED_GLOBALS[(module, name)]
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        if (module, name) in RECONSTRUCTORS:
            return _numpy_helper(module, name)
        raise pickle.UnpicklingError(f"it refers to {module}.{name}, and only NumPy arrays are allowed")


def load_arrays_pickle(data, name="pickle"):
    """Unpickle ``data`` (bytes, gzipped or not: ``gunzip`` limits how far it may expand), allowing only NumPy
    arrays inside tuples and lists."""
    data = gunzip(data, name)
    try:
        content = ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
    except pickle.UnpicklingError as error:
        raise DataError(f"{name}: refused to load the pickle: {error}") from None
    except Exception as error:  # a truncated or garbled pickle fails in many ways
        raise DataError(f"{name}: not a readable pickle ({type(error).__name__}: {error})") from None
    _check_only_arrays(content, name)
    return content


def _check_only_arrays(content, name):
    if isinstance(content, (tuple, list)):
        for item in content:
            _check_only_arrays(item, name)
    elif not isinstance(content, np.ndarray) or content.dtype.hasobject:
        kind = f"an array of {content.dtype}" if isinstance(content, np.ndarray) else type(content).__name__
        raise DataError(f"{name}: refused to load the pickle: it holds {kind}, expected numeric NumPy arrays")


def pixels_to_uint8(x, name):
    """Turn float pixels that are exactly k/256 (Nielsen) or k/255 into the original uint8 values k."""
    x = np.asarray(x, dtype=np.float32)
    for scale in (256.0, 255.0):
        k = np.rint(x * scale)
        if np.all(np.abs(x * scale - k) <= 1e-3) and k.min(initial=0) >= 0 and k.max(initial=0) <= 255:
            return k.astype(np.uint8)
    raise DataError(f"{name}: pixel values are not k/256 or k/255 for integers k in 0..255 "
                    f"(range {x.min():.4g}..{x.max():.4g})")


def read_nielsen_pickle(data, name="mnist.pkl.gz"):
    """Decode Nielsen's pickle into ``(x_train, y_train, x_test, y_test)``: uint8 (N, 28, 28) and labels.

    The training and validation parts are joined in order, which restores the 60,000 MNIST training images.
    """
    content = load_arrays_pickle(data, name)
    if not (isinstance(content, (tuple, list)) and len(content) == 3
            and all(isinstance(part, (tuple, list)) and len(part) == 2 for part in content)):
        raise DataError(f"{name}: expected ((train_x, train_y), (validation_x, validation_y), (test_x, test_y))")
    (train_x, train_y), (validation_x, validation_y), (test_x, test_y) = content
    for x, y, part in ((train_x, train_y, "train"), (validation_x, validation_y, "validation"),
                       (test_x, test_y, "test")):
        if x.ndim != 2 or x.shape[1] != 784 or y.shape != (x.shape[0],):
            raise DataError(f"{name}: the {part} part has images of shape {x.shape} and labels of shape "
                            f"{y.shape}, expected (N, 784) and (N,)")
    x_train = pixels_to_uint8(np.concatenate([train_x, validation_x]), name).reshape(-1, 28, 28)
    x_test = pixels_to_uint8(test_x, name).reshape(-1, 28, 28)
    return x_train, np.concatenate([train_y, validation_y]), x_test, np.asarray(test_y)
