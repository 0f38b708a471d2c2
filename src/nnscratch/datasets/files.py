"""Small file helpers shared by the readers and writers: checksums, gzip-aware reading, and atomic writes.

Every file nnscratch writes goes to a temporary name in the destination directory first and is renamed into
place only when it is complete (``nnscratch.files.atomic_write``), so a crash or an interrupt never leaves a
half-written file under the name a reader looks for.
"""
import gzip
import hashlib

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
