"""Small file helpers shared by the readers: checksums, and gzip data decompressed within a limit.

Every file nnscratch writes goes to a temporary name in the destination directory first and is renamed into
place only when it is complete (``nnscratch.files.atomic_write``), so a crash or an interrupt never
leaves a half-written file under the name a reader looks for. Every file it reads is read as a hostile one: sizes
are checked before bodies are read, and compressed data may expand only so far (``expansion_limit``).
"""
import hashlib
import zlib

from ..serialization.archive import MAX_ARCHIVE_BYTES, expansion_limit
from .errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_SIZE = 1 << 20
MAX_DATA_BYTES = MAX_ARCHIVE_BYTES   # the most any one data file may hold, uncompressed (EMNIST's largest: 0.2 GB)
GZIP_ERRORS = (OSError, EOFError, zlib.error)


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


def gunzip(data, name):
    """``data`` decompressed when it is gzip (recognised by its magic bytes), as it is otherwise; refused in one
    line when damaged, or when it would expand past ``expansion_limit(len(data))`` or ``MAX_DATA_BYTES``: by the
    size its trailer declares, before decompressing, and by what it gives, in chunks, while decompressing."""
    if not is_gzip(data):
        return data
    limit = min(expansion_limit(len(data)), MAX_DATA_BYTES)
    if len(data) >= 18 and int.from_bytes(data[-4:], "little") > limit:  # the size, modulo 2³², it ends with
        raise expands_too_far(name, len(data), limit)
    decompressor, out, pending = zlib.decompressobj(wbits=31), bytearray(), data
    try:
        while not decompressor.eof:
            chunk = decompressor.decompress(pending, CHUNK_SIZE)
            pending = decompressor.unconsumed_tail
            if not chunk and not pending:
                raise DataError(f"{name}: damaged gzip data (it ends before the end of its stream)")
            out += chunk
            if len(out) > limit:
                raise expands_too_far(name, len(data), limit)
    except zlib.error as error:
        raise DataError(f"{name}: damaged gzip data ({error})") from None
    return bytes(out)


def expands_too_far(name, compressed, limit):
    return DataError(f"{name}: its {compressed:,} bytes of gzip data expand to more than {limit:,}, the most "
                     f"nnscratch reads from them (a gzip bomb?)")


def open_gzip(file):
    """A binary stream of ``file``'s data: decompressed when it is gzip (by its magic bytes), as it is otherwise.
    ``file`` must offer ``peek`` (an ``open(..., "rb")`` file or a zip member)."""
    return GunzipStream(file) if is_gzip(file.peek(2)[:2]) else file


class GunzipStream:
    """The decompressed data of a gzip stream, read ``CHUNK_SIZE`` compressed bytes at a time: ``readinto``
    fills a buffer with at most its size, ``read(n)`` returns at most ``n`` bytes, so nothing expands past what
    the reader asks for. Members written one after another are read in turn, as ``gzip`` does."""

    def __init__(self, file):
        self.file, self.decompressor, self.pending = file, zlib.decompressobj(wbits=31), b""

    def read(self, count):
        buffer = bytearray(count)
        return bytes(buffer[:self.readinto(buffer)])

    def readinto(self, buffer):
        view, filled = memoryview(buffer).cast("B"), 0
        while filled < len(view):
            if self.decompressor.eof:
                self.pending = self.decompressor.unused_data or self.file.read(CHUNK_SIZE)
                if not self.pending:
                    break
                self.decompressor = zlib.decompressobj(wbits=31)
            if not self.pending:
                self.pending = self.file.read(CHUNK_SIZE)
                if not self.pending:
                    raise EOFError("the gzip data end before the end of their stream")
            chunk = self.decompressor.decompress(self.pending, len(view) - filled)
            self.pending = self.decompressor.unconsumed_tail
            view[filled:filled + len(chunk)] = chunk
            filled += len(chunk)
        return filled
