"""Keras' ``mnist.npz`` and nnscratch's cache files: a NumPy zip of ``x_train``, ``y_train``, ``x_test``, ``y_test``.

Read through ``NpzArchive``, so an .npz can hold plain arrays only (nothing is unpickled), and its sizes are
checked against its headers before any array is allocated.
"""
import os

import numpy as np

from ..files import atomic_write
from ..serialization.archive import NpzArchive
from .errors import DataError

KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz(path, extra_keys=()):
    """Read the four arrays (plus any ``extra_keys`` present) from an .npz file into a dict."""
    name = os.fspath(path)
    with NpzArchive(path, DataError) as archive:
        missing = [key for key in KEYS if key not in archive.headers]
        if missing:
            raise DataError(f"{name}: expected arrays {', '.join(KEYS)}; missing {', '.join(missing)} "
                            f"(found {', '.join(archive.headers) or 'none'})")
        return {key: archive.read(key) for key in KEYS + tuple(extra_keys) if key in archive.headers}


def write_npz(path, arrays, compress=True):
    """Write a dict of arrays to ``path`` atomically, zip-compressed unless ``compress`` is false."""
    save = np.savez_compressed if compress else np.savez
    with atomic_write(path) as file:
        save(file, **arrays)
