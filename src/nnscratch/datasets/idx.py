"""The IDX format of the MNIST family: a 4-byte magic number, one big-endian uint32 size per dimension, data.

The magic number is two zero bytes, a type code (0x08 means unsigned bytes) and the number of dimensions, so
``train-images-idx3-ubyte`` starts ``00 00 08 03`` and then holds 60000, 28, 28 and 47,040,000 pixels. Files
may be gzipped or plain; the reader tells them apart by their first bytes, not their names. It reads the header
first and the body only once the size the header declares is known to fit: exactly the rest of a plain file, or
no more than a gzipped file can sensibly expand to (``expansion_limit``).
"""
import gzip
import io
import math
import os
import struct

import numpy as np

from ..files import atomic_write
from ..serialization.archive import expansion_limit, fill_from
from .errors import DataError
from .files import GZIP_ERRORS, MAX_DATA_BYTES, open_gzip

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
TYPE_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}


def read_idx(path):
    """Read an IDX file, gzipped or plain."""
    with open(path, "rb") as file:
        return read_idx_stream(file, os.fspath(path), os.fstat(file.fileno()).st_size)


def parse_idx(data, name="IDX data"):
    """Decode the bytes of an IDX file (gzipped or plain) into an array of the shape its header gives."""
    return read_idx_stream(io.BufferedReader(io.BytesIO(data)), name, len(data))


def read_idx_stream(file, name, size):
    """The IDX array in ``file``, a binary stream of ``size`` bytes that offers ``peek`` (an open file, a zip
    member): decompressed in chunks when it is gzip, with the size its header declares checked first."""
    stream = open_gzip(file)
    if stream is file:
        return read_body(stream, name, size, MAX_DATA_BYTES)
    try:
        return read_body(stream, name, None, min(expansion_limit(size), MAX_DATA_BYTES))
    except GZIP_ERRORS as error:
        raise DataError(f"{name}: damaged gzip data ({error})") from None


def read_body(stream, name, size, limit):
    """Header, then body: ``size`` is the plain file's size (None for gzip), ``limit`` the most data it may
    declare."""
    magic = stream.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_TYPES or magic[3] == 0:
        found = " ".join(f"0x{byte:02x}" for byte in magic)
        raise DataError(f"{name}: not an IDX file (magic number {found or 'missing'}, expected 0x00 0x00, "
                        f"a type code such as 0x08 and a dimension count)")
    dtype, ndim = np.dtype(IDX_TYPES[magic[2]]), magic[3]
    header_size = 4 + 4 * ndim
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DataError(f"{name}: the file ends inside its header ({4 + len(sizes)} bytes, the header of a "
                        f"{ndim}-dimensional IDX file takes {header_size})")
    shape = struct.unpack(f">{ndim}I", sizes)
    expected = math.prod(shape) * dtype.itemsize  # Python integers: no overflow
    if size is not None and size - header_size != expected:
        raise length_error(name, shape, expected, size - header_size)
    if expected > limit:
        raise DataError(f"{name}: its header declares shape {shape}, {expected:,} bytes of data, more than the "
                        f"{limit:,} nnscratch reads from a {'gzip ' if size is None else ''}file of this size")
    array = np.empty(math.prod(shape), dtype)
    found = fill_from(stream, array.view(np.uint8))
    if found < expected:
        raise length_error(name, shape, expected, found)
    if stream.read(1):
        raise length_error(name, shape, expected, f"more than {expected}")
    array = array.reshape(shape)
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def length_error(name, shape, expected, found):
    problem = "is shorter than" if isinstance(found, int) and found < expected else "is longer than"
    return DataError(f"{name}: the file {problem} its header says (header: shape {shape}, {expected} bytes of "
                     f"data; file: {found} bytes of data)")


def encode_idx(array):
    """Return the bytes of ``array`` (uint8 or int8) as an IDX file."""
    array = np.ascontiguousarray(array)
    if array.dtype not in TYPE_CODES:
        raise DataError(f"IDX writer expected uint8 or int8 data, got {array.dtype}")
    header = bytes([0, 0, TYPE_CODES[array.dtype], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.tobytes()


def write_idx(path, array, compress=None):
    """Write ``array`` as an IDX file, gzipped when ``compress`` is true (default: when the name ends in .gz)."""
    compress = os.fspath(path).endswith(".gz") if compress is None else compress
    data = encode_idx(array)
    with atomic_write(path) as file:
        file.write(gzip.compress(data, compresslevel=6, mtime=0) if compress else data)
