"""Small file helpers shared by the readers and writers: checksums, atomic writes, gzip-aware opening.

Every file nnscratch writes goes to a temporary name in the destination directory first and is renamed into
place only when it is complete, so a crash or an interrupt never leaves a half-written file under the name a
reader looks for.
"""
import gzip
import hashlib
import os
import tempfile
from contextlib import contextmanager

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_SIZE = 1 << 20


def sha256_file(path):
    """Return the hex SHA-256 digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def is_gzip(data):
    return data[:2] == GZIP_MAGIC


def read_maybe_gzip(path):
    """Read a whole file, decompressing it when it is gzip (recognised by its magic bytes, not its name)."""
    from .errors import DataError
    with open(path, "rb") as file:
        data = file.read()
    if not is_gzip(data):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: damaged gzip data ({error})") from None


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path`` for writing; rename it to ``path`` only if the block succeeds."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(handle, mode) as file:
            yield file
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
