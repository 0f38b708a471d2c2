"""The local cache: one compressed .npz per data set holding the original uint8 pixels and the labels.

The cache lives in ``$NNSCRATCH_DATA`` if set, else ``$XDG_CACHE_HOME/nnscratch``, else ``~/.cache/nnscratch``.
Each file also records where its content came from and a SHA-256 of the arrays, so ``nnscratch data info``
can say whether what is cached is intact. Files are written to a temporary name and renamed into place.
"""
import os
import tempfile
from pathlib import Path

import numpy as np

from .arrays import RawData, digest
from .errors import DataError
from .npz import read_npz, write_npz

# SHA-256 of the arrays (see arrays.digest) of data sets whose canonical content is known.
KNOWN_DIGESTS = {
    "mnist": "39bb83891d743e14f1a08409b3e3fc0587e2ed069b83efcf6dba130a72491235",
}


def default_cache_dir():
    """Where cached data sets live: $NNSCRATCH_DATA, else $XDG_CACHE_HOME/nnscratch, else ~/.cache/nnscratch."""
    if os.environ.get("NNSCRATCH_DATA"):
        return Path(os.environ["NNSCRATCH_DATA"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nnscratch"


def cache_path(name, cache_dir=None):
    return Path(cache_dir or default_cache_dir()) / f"{name}.npz"


def read_cache(name, cache_dir=None):
    """Return ``(RawData, source)`` from the cache, or None when the data set is not cached."""
    path = cache_path(name, cache_dir)
    if not path.is_file():
        return None
    arrays = read_npz(path, extra_keys=("source",))
    raw = RawData(arrays["x_train"], arrays["y_train"].astype(np.int64), arrays["x_test"],
                  arrays["y_test"].astype(np.int64))
    if raw.x_train.dtype != np.uint8 or raw.x_train.ndim != 3 or len(raw.y_train) != len(raw.x_train):
        raise DataError(f"{path}: not an nnscratch cache file (images {raw.x_train.dtype} {raw.x_train.shape})")
    return raw, str(arrays.get("source", "unknown"))


def known_as(raw):
    """The name of the published data set whose content ``raw`` is (by ``KNOWN_DIGESTS``), or None."""
    actual = digest(raw)
    return next((name for name, known in KNOWN_DIGESTS.items() if known == actual), None)


def check_identity(raw, spec, where):
    """Refuse data offered as ``spec`` whose content is another published data set (MNIST as Fashion-MNIST)."""
    known = known_as(raw)
    if known is not None and known != spec.name:
        raise DataError(f"{where}: this is the published {known} data set, not {spec.name}")


def check_cache_writable(name, cache_dir=None):
    """Raise DataError when the cache file of ``name`` could not be written: checked before a download."""
    path = cache_path(name, cache_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as error:
        raise DataError(f"cannot write the cache file {path} ({error.strerror or error}); set NNSCRATCH_DATA "
                        f"to a writable directory (nothing was downloaded)") from None


def write_cache(name, raw, source, cache_dir=None):
    """Store ``raw`` as the cached copy of data set ``name``; return the path written."""
    path = cache_path(name, cache_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"x_train": raw.x_train, "y_train": raw.y_train.astype(np.uint8),
                  "x_test": raw.x_test, "y_test": raw.y_test.astype(np.uint8),
                  "source": np.array(source), "digest": np.array(digest(raw))}
        write_npz(path, arrays)
    except OSError as error:
        raise DataError(f"cannot write the cache file {path} ({error.strerror or error}); set NNSCRATCH_DATA "
                        f"to a writable directory") from None
    return path


def verify_cache_file(path):
    """Check one cache file fully: return a dict with name, path, size, counts, source and a verdict."""
    path = Path(path)
    entry = {"name": path.stem, "path": str(path), "bytes": path.stat().st_size}
    try:
        arrays = read_npz(path, extra_keys=("source", "digest"))
    except DataError as error:
        return {**entry, "status": f"damaged: {error}"}
    raw = RawData(arrays["x_train"], arrays["y_train"].astype(np.int64), arrays["x_test"],
                  arrays["y_test"].astype(np.int64))
    entry.update(train=len(raw.x_train), test=len(raw.x_test), source=str(arrays.get("source", "unknown")))
    actual = digest(raw)
    if "digest" in arrays and str(arrays["digest"]) != actual:
        entry["status"] = "damaged: its content does not match the checksum recorded when it was written"
    elif KNOWN_DIGESTS.get(path.stem) == actual:
        entry["status"] = "verified: identical to the published data set"
    elif known_as(raw) not in (None, path.stem):
        entry["status"] = f"wrong data: this is the published {known_as(raw)} data set, not {path.stem}"
    elif path.stem in KNOWN_DIGESTS:
        entry["status"] = "intact, but differs from the published data set"
    else:
        entry["status"] = "intact (checksum matches)"
    return entry


def cache_info(cache_dir=None):
    """Describe every cached data set: a list of dicts as returned by ``verify_cache_file``."""
    directory = Path(cache_dir or default_cache_dir())
    if not directory.is_dir():
        return []
    return [verify_cache_file(path) for path in sorted(directory.glob("*.npz"))]
