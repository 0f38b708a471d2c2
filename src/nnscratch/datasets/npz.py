"""Keras' ``mnist.npz`` and nnscratch's cache files: a NumPy zip of ``x_train``, ``y_train``, ``x_test``, ``y_test``.

Always loaded with ``allow_pickle=False``, so an .npz can hold plain arrays only.
"""
import os
import zipfile

import numpy as np

from .errors import DataError
from ..serialization.files import atomic_write

KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz(path, extra_keys=()):
    """Read the four arrays (plus any ``extra_keys`` present) from an .npz file into a dict."""
    name = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in KEYS if key not in archive.files]
            if missing:
                raise DataError(f"{name}: expected arrays {', '.join(KEYS)}; missing {', '.join(missing)} "
                                f"(found {', '.join(archive.files) or 'none'})")
            return {key: archive[key] for key in KEYS + tuple(extra_keys) if key in archive.files}
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{name}: no such file") from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{name}: not a readable .npz file ({error})") from None


def write_npz(path, arrays, compress=True):
    """Write a dict of arrays to ``path`` atomically, zip-compressed unless ``compress`` is false."""
    save = np.savez_compressed if compress else np.savez
    with atomic_write(path) as file:
        save(file, **arrays)
