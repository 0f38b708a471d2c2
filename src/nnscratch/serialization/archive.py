"""Reading a NumPy ``.npz`` archive as a hostile file: every size is checked from the headers before any array
is allocated.

A zip member says how many bytes it holds once uncompressed, and the ``.npy`` file inside starts with a header
giving its array's shape and dtype. ``NpzArchive`` checks, before reading a byte of data, that each member's
declared shape × itemsize is exactly what the member holds, that the archive holds at most ``MAX_ARCHIVE_BYTES``
uncompressed, and that no member expands more than ``MAX_EXPANSION`` times (a zip bomb). Arrays are then read
in bounded chunks into arrays of the size already checked, and objects are never unpickled.
"""
import math
import os
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

MAX_ARCHIVE_BYTES = 1 << 30       # 1 GiB uncompressed: far above any MNIST network or data set (EMNIST: 0.2 GB)
MAX_EXPANSION = 100               # compressed data expands at most this many times (MNIST's own files: about 5)
ANY_EXPANSION_BELOW = 64 << 20    # ... unless it stays this small (blank test images compress 1000 times)
CHUNK_BYTES = 1 << 20
ARRAY_KINDS = "biufcSU"           # booleans, integers, floats, complex numbers, bytes and text
# What reading a damaged or unusual zip raises: also NotImplementedError (a compression method zipfile lacks) and
# RuntimeError (an encrypted member).
ZIP_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)
NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def expansion_limit(compressed_bytes):
    """How many bytes ``compressed_bytes`` of deflate or gzip data may expand to before they count as a bomb."""
    return max(ANY_EXPANSION_BELOW, MAX_EXPANSION * compressed_bytes)


def check_expansion(name, compressed_bytes, declared_bytes):
    """A problem (one line) when ``compressed_bytes`` claim to expand to ``declared_bytes``, more than
    ``expansion_limit`` allows; None otherwise."""
    if declared_bytes > expansion_limit(compressed_bytes):
        return (f"{name} would expand from {compressed_bytes:,} to {declared_bytes:,} bytes, more than "
                f"{MAX_EXPANSION} times as much (a zip bomb?)")
    return None


class ArrayHeader(NamedTuple):
    """What a ``.npy`` member declares: its array's shape, dtype and layout, and where its data start."""
    shape: tuple
    dtype: np.dtype
    fortran_order: bool
    info: zipfile.ZipInfo
    data_offset: int

    @property
    def nbytes(self):
        return math.prod(self.shape) * self.dtype.itemsize


class NpzArchive:
    """An ``.npz`` file opened for checked reading: ``headers`` maps each array's key to its ``ArrayHeader``,
    ``others`` lists the members that are not ``.npy`` files, and ``read(key)`` returns an array. Every problem
    raises ``error`` (an exception class) with the one line ``{path}: not a readable {what} ({problem})``. Use it
    as a context manager.
    """

    def __init__(self, path, error, what=".npz file", max_bytes=MAX_ARCHIVE_BYTES):
        self.path, self.error, self.what = os.fspath(path), error, what
        try:
            self.zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise error(f"{self.path}: no such file") from None
        except (ValueError, *ZIP_ERRORS) as problem:
            raise self.refused(problem) from None
        try:
            self.headers = self.read_headers(max_bytes)
        except BaseException:
            self.zip.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.zip.close()

    def refused(self, problem):
        return self.error(f"{self.path}: not a readable {self.what} ({problem})")

    def read_headers(self, max_bytes):
        """Every member's sizes from the zip directory, then every ``.npy`` header, checked against each other."""
        members = [info for info in self.zip.infolist() if not info.is_dir()]
        total = sum(info.file_size for info in members)
        if total > max_bytes:
            raise self.refused(f"it holds {total:,} bytes uncompressed, more than the {max_bytes:,} nnscratch reads")
        problem = check_expansion("the archive", os.path.getsize(self.path), total)
        for info in members:
            problem = problem or check_expansion(repr(info.filename), info.compress_size, info.file_size)
        if problem:
            raise self.refused(problem)
        self.others = sorted(info.filename for info in members if not info.filename.endswith(".npy"))
        return {info.filename[:-len(".npy")]: self.read_header(info) for info in members
                if info.filename.endswith(".npy")}

    def read_header(self, info):
        key = info.filename[:-len(".npy")]
        try:
            with self.zip.open(info) as stream:
                version = np.lib.format.read_magic(stream)
                if version not in NPY_HEADER_READERS:
                    raise ValueError(f"a .npy file of version {version}, not 1.0 or 2.0")
                shape, fortran_order, dtype = NPY_HEADER_READERS[version](stream)
                header = ArrayHeader(tuple(shape), dtype, fortran_order, info, stream.tell())
        except (ValueError, *ZIP_ERRORS) as problem:
            raise self.refused(f"{key!r}: {problem}") from None
        if dtype.hasobject:
            raise self.refused(f"{key!r} holds pickled Python objects (it would need allow_pickle), which are "
                               f"never loaded")
        if dtype.kind not in ARRAY_KINDS:
            raise self.refused(f"{key!r} holds values of dtype {dtype}; nnscratch reads numbers and text only")
        held = info.file_size - header.data_offset
        if header.nbytes != held:
            raise self.refused(f"{key!r} declares shape {header.shape} of {dtype}, {header.nbytes:,} bytes, but "
                               f"holds {held:,}")
        return header

    def read(self, key):
        """The array ``key``, read in chunks of ``CHUNK_BYTES`` into an array of its checked size."""
        header = self.headers[key]
        array = np.empty(math.prod(header.shape), header.dtype)
        if header.nbytes:
            self.read_into(header, array.view(np.uint8), key)
        if header.fortran_order:
            return array.reshape(header.shape[::-1]).transpose()
        return array.reshape(header.shape)

    def read_into(self, header, into, key):
        try:
            with self.zip.open(header.info) as stream:
                stream.read(header.data_offset)
                filled = fill_from(stream, into)
                if filled < into.size:
                    raise EOFError(f"it ends after {filled:,} of its {into.size:,} bytes")
                stream.read(1)  # at the end of the member, where the zip checks its CRC
        except ZIP_ERRORS as problem:
            raise self.refused(f"{key!r}: {problem}") from None


def fill_from(stream, into):
    """Read ``stream`` into the uint8 array ``into``, ``CHUNK_BYTES`` at a time, until it is full or the stream
    ends; return how many bytes were read."""
    view, position = memoryview(into), 0
    while position < len(view):
        count = stream.readinto(view[position:position + CHUNK_BYTES])
        if not count:
            break
        position += count
    return position
