"""Hostile files built in a moment: sparse files, crafted headers, and zip and gzip bombs written by hand.

A bomb's deflate stream is one compressed block repeated (after a full flush the compressor starts afresh, so
the same input gives the same bytes), and its CRC-32 is computed by squaring the map one block applies to the
checksum, so a file that expands to gigabytes takes milliseconds to write and is exactly what a real one is.
"""
import io
import json
import struct
import zlib

import numpy as np

MEGABYTE = 1 << 20
KAGGLE_HEADER = "label," + ",".join(f"{row}x{col}" for row in range(1, 29) for col in range(1, 29))


def crc32_of_repeats(block, count, crc=0):
    """``zlib.crc32(block * count, crc)``: one block maps a checksum c to L c xor w over GF(2), and the map is
    squared rather than applied ``count`` times."""
    offset = zlib.crc32(block, 0)
    columns = [zlib.crc32(block, 1 << bit) ^ offset for bit in range(32)]

    def apply(columns, value):
        result = 0
        for bit in range(32):
            if value >> bit & 1:
                result ^= columns[bit]
        return result

    while count:
        if count & 1:
            crc = apply(columns, crc) ^ offset
        columns, offset = [apply(columns, column) for column in columns], apply(columns, offset) ^ offset
        count >>= 1
    return crc


def deflated_repeats(head, block, count, tail=b""):
    """A deflated zip member ``(stream, method 8, crc32, size)`` of ``head + block * count + tail``."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    last = compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(tail, crc32_of_repeats(block, count, zlib.crc32(head)))
    return first + repeated * count + last, 8, crc, len(head) + len(block) * count + len(tail)


def stored(data):
    """A zip member stored as it is: ``(data, method 0, crc32, size)``."""
    return data, 0, zlib.crc32(data), len(data)


def deflated(data):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(), 8, zlib.crc32(data), len(data)


def write_zip(path, members):
    """A zip file (no zip64, so every size below 4 GiB) of ``{name: (data as stored, method, crc32, size)}``."""
    central, offset = b"", 0
    with open(path, "wb") as file:
        for name, (data, method, crc, size) in members.items():
            encoded = name.encode()
            local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(data), size,
                                len(encoded), 0) + encoded
            central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(data), size,
                                   len(encoded), 0, 0, 0, 0, 0, offset) + encoded
            file.write(local + data)
            offset += len(local) + len(data)
        file.write(central + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central),
                                         offset, 0))
    return path


def write_gzip(path, stream, crc, size):
    """A gzip file around a raw deflate stream."""
    with open(path, "wb") as file:
        file.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + stream + struct.pack("<2I", crc, size % (1 << 32)))
    return path


def npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_header(shape, descr):
    """The .npy header alone (version 1.0) of an array of ``shape`` and dtype ``descr``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    return buffer.getvalue()


def linear_architecture(in_features, out_features, dtype="float64"):
    return {"type": "Sequential", "dtype": dtype,
            "config": {"layers": [{"type": "Linear", "config": {"in_features": in_features,
                                                                "out_features": out_features}}]}}


def model_entries(architecture):
    """The three header members of a model file, stored."""
    return {"format_version.npy": stored(npy_bytes(np.array(1, np.int64))),
            "architecture.npy": stored(npy_bytes(np.array(json.dumps(architecture)))),
            "metadata.npy": stored(npy_bytes(np.array("{}")))}


def model_without_weights(path, size=15000):
    """A model file of a few hundred bytes whose architecture declares Linear(size, size) in float64 and that
    holds no weights at all."""
    return write_zip(path, model_entries(linear_architecture(size, size)))


def zip_bomb_model(path, size=19000):
    """A model file of about 2.9 MB whose ``param.0.W`` expands to size² float64 zeros (2.9 GB for 19000)."""
    count, tail = divmod(size * size * 8, MEGABYTE)
    members = model_entries(linear_architecture(size, size))
    members["param.0.W.npy"] = deflated_repeats(npy_header((size, size), "<f8"), bytes(MEGABYTE), count, bytes(tail))
    members["param.0.b.npy"] = deflated(npy_header((size,), "<f8") + bytes(size * 8))
    return write_zip(path, members)


def huge_member_model(path, rows=10**6, columns=10**6):
    """A model file whose ``param.0.W`` declares rows × columns float32 values (10¹² by default) and holds none."""
    members = model_entries(linear_architecture(rows, columns, "float32"))
    members["param.0.W.npy"] = stored(npy_header((rows, columns), "<f4"))
    members["param.0.b.npy"] = stored(npy_header((columns,), "<f4"))
    return write_zip(path, members)


def idx_bytes(array, type_code=0x08):
    array = np.asarray(array)
    return bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def idx_folder(folder, write, name="train-images-idx3-ubyte"):
    """The four MNIST IDX files in ``folder``: three small valid ones, and ``write(folder / name)`` in place of
    the fourth (``name``: one of the four, plain or ending in .gz)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    valid = {"train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)),
             "train-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, 6, dtype=np.uint8)),
             "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)),
             "t10k-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, 3, dtype=np.uint8))}
    for part, data in valid.items():
        if part != name.removesuffix(".gz"):
            (folder / part).write_bytes(data)
    write(folder / name)
    return folder


def gzip_bomb_idx(path, count=5_100_000):
    """A gzipped IDX file of about 4 MB declaring ``count`` 28×28 images, all of them there (4.0 GB of zeros)."""
    head = bytes([0, 0, 8, 3]) + struct.pack(">3I", count, 28, 28)
    blocks, tail = divmod(count * 28 * 28, MEGABYTE)
    stream, _, crc, size = deflated_repeats(head, bytes(MEGABYTE), blocks, bytes(tail))
    return write_gzip(path, stream, crc, size)


def sparse_file(path, size=10**9, start=b""):
    """A file of ``size`` bytes that takes no disk space: ``start`` followed by zero bytes."""
    with open(path, "wb") as file:
        file.write(start)
        file.truncate(size)
    return path


def overflowing_idx(path):
    """An IDX file of 16 bytes declaring dimensions (2³¹, 2³¹, 4): a size whose product overflows 64 bits."""
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 1 << 31, 1 << 31, 4))
    return path


def csv_bomb_zip(path, rows=2_540_000):
    """A Kaggle-style ``archive.zip`` of about 4 MB holding a train.csv of ``rows`` rows of 785 zeros (4 GB)."""
    row = ("0," * 784 + "0\n").encode()
    per_block = MEGABYTE // len(row)
    blocks, rest = divmod(rows, per_block)
    member = deflated_repeats((KAGGLE_HEADER + "\n").encode(), row * per_block, blocks, row * rest)
    return write_zip(path, {"train.csv": member})


def deep_json(path, depth=100_000):
    """A model JSON whose architecture is lists nested ``depth`` levels deep."""
    path.write_text('{"format": "nnscratch-model", "format_version": 1, "weights": {}, "architecture": '
                    + "[" * depth + "]" * depth + "}")
    return path


def long_integer_json(path, digits=5000):
    """A model JSON whose format_version is an integer of ``digits`` digits (Python converts at most 4,300)."""
    path.write_text('{"format": "nnscratch-model", "format_version": 1' + "0" * digits
                    + ', "weights": {}, "architecture": {}}')
    return path
