"""The IDX format of the MNIST family: a 4-byte magic number, one big-endian uint32 size per dimension, data.

The magic number is two zero bytes, a type code (0x08 means unsigned bytes) and the number of dimensions, so
``train-images-idx3-ubyte`` starts ``00 00 08 03`` and then holds 60000, 28, 28 and 47,040,000 pixels. Files
may be gzipped or plain; the reader tells them apart by their first bytes, not their names.
"""
import gzip
import os

import numpy as np

from .errors import DataError
from ..serialization.files import atomic_write
from .files import read_maybe_gzip

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
TYPE_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}


def parse_idx(data, name="IDX data"):
    """Decode the bytes of an IDX file into an array of the shape its header gives (no copy for uint8)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES or data[3] == 0:
        found = " ".join(f"0x{byte:02x}" for byte in data[:4])
        raise DataError(f"{name}: not an IDX file (magic number {found or 'missing'}, expected 0x00 0x00, "
                        f"a type code such as 0x08 and a dimension count)")
    dtype, ndim = np.dtype(IDX_TYPES[data[2]]), data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(f"{name}: the file ends inside its header ({len(data)} bytes, the header of a "
                        f"{ndim}-dimensional IDX file takes {header_size})")
    shape = tuple(int(size) for size in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header_size
    if found != expected:
        problem = "is shorter than" if found < expected else "is longer than"
        raise DataError(f"{name}: the file {problem} its header says (header: shape {shape}, "
                        f"{expected} bytes of data; file: {found} bytes of data)")
    array = np.frombuffer(data, dtype, offset=header_size).reshape(shape)
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def read_idx(path):
    """Read an IDX file, gzipped or plain."""
    return parse_idx(read_maybe_gzip(path), os.fspath(path))


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
