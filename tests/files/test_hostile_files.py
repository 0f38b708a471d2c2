"""Hostile files are refused in one line, from what their headers declare, with tracemalloc's peak measured.

Each case is built in tmp_path by ``hostile_files`` (sparse files, crafted headers, zip and gzip bombs written
by hand) and read while tracemalloc watches: the peak must stay under ``PEAK_LIMIT``, where the readers before
took the gigabytes noted beside each case (measured under an 8 GB address-space limit). A legitimate model file
is held to a small multiple of its weights the same way.
"""
import re
import struct
import tracemalloc

import numpy as np
import pytest

from nnscratch import BatchNorm, Conv2D, Flatten, Layer, Linear, MaxPool2D, ReLU, Sequential
from nnscratch.datasets import DataError, read_path
from nnscratch.datasets.idx import read_idx, write_idx
from nnscratch.datasets.safe_pickle import read_nielsen_pickle
from nnscratch.datasets.sources import MNIST
from nnscratch.serialization import ModelFileError, load_model, save_model
from nnscratch.serialization.architecture import declared_shapes, model_from_config
from nnscratch.serialization.archive import expansion_limit
from nnscratch.serialization.older_projects import read_older_project_model
from tests.files import hostile_files as hostile

PEAK_LIMIT = 16 << 20   # bytes: what refusing any of these files may take, headers and buffers included
MEGABYTE = 1 << 20


def peak_of(call):
    """``(the exception call() raised or None, tracemalloc's peak in bytes while it ran)``."""
    tracemalloc.start()
    try:
        call()
        raised = None
    except Exception as error:  # noqa: BLE001 - the test says which it expected
        raised = error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return raised, peak


def assert_refused(call, error_class, pattern):
    raised, peak = peak_of(call)
    assert isinstance(raised, error_class), f"expected {error_class.__name__}, got {raised!r}"
    message = str(raised)
    assert "\n" not in message and re.search(pattern, message), f"message {message!r} does not match {pattern!r}"
    assert peak <= PEAK_LIMIT, f"refusing it took a peak of {peak / MEGABYTE:.1f} MiB, more than " \
                               f"{PEAK_LIMIT / MEGABYTE:.0f} MiB"


def read_mnist(path):
    return lambda: read_path(path, MNIST)


# ---- model files (.npz) ----

@pytest.mark.parametrize("size", [15000, 30000])  # before: 5.2 GB; 30000: 6.9 GB, then "too large to build"
def test_a_model_declaring_a_huge_layer_without_weights_is_refused_before_building_it(tmp_path, size):
    path = hostile.model_without_weights(tmp_path / "m.npz", size)
    assert path.stat().st_size < 2000
    assert_refused(lambda: load_model(path), ModelFileError, r"missing arrays 0\.W, 0\.b$")


def test_a_zip_bomb_model_is_refused_from_the_zip_directory(tmp_path):  # before: 6.9 GB, a MemoryError traceback
    path = hostile.zip_bomb_model(tmp_path / "bomb.npz", 19000)
    assert path.stat().st_size < 3 * MEGABYTE
    assert_refused(lambda: load_model(path), ModelFileError,
                   r"not a readable model file \(it holds 2,888,153,228 bytes uncompressed, more than the "
                   r"1,073,741,824 nnscratch reads\)")


def test_a_zip_bomb_model_within_the_size_cap_is_refused_by_its_expansion(tmp_path):
    path = hostile.zip_bomb_model(tmp_path / "bomb.npz", 8000)  # 512 MB of zeros in about 0.5 MB
    assert_refused(lambda: load_model(path), ModelFileError, r"would expand from [\d,]+ to [\d,]+ bytes, more than "
                                                             r"100 times as much")


def test_a_member_declaring_a_trillion_values_is_refused_by_its_header(tmp_path):  # before: a MemoryError traceback
    path = hostile.huge_member_model(tmp_path / "huge.npz")
    assert_refused(lambda: load_model(path), ModelFileError,
                   r"'param\.0\.W' declares shape \(1000000, 1000000\) of float32, 4,000,000,000,000 bytes, but "
                   r"holds 0")


def test_a_weight_array_of_the_wrong_shape_is_refused_before_the_network_is_built(tmp_path):
    members = hostile.model_entries({"type": "Sequential", "dtype": "float32", "config": {"layers": [
        {"type": "Linear", "config": {"in_features": 10 ** 6, "out_features": 10 ** 6}}]}})
    members["param.0.W.npy"] = hostile.deflated(hostile.npy_header((2, 2), "<f4") + bytes(16))
    members["param.0.b.npy"] = hostile.deflated(hostile.npy_header((2,), "<f4") + bytes(8))
    path = hostile.write_zip(tmp_path / "m.npz", members)
    assert_refused(lambda: load_model(path), ModelFileError,
                   r"'0\.W' has shape \(2, 2\), the architecture needs \(1000000, 1000000\)")


def test_a_deeply_nested_architecture_inside_a_model_file_is_one_line(tmp_path):
    members = hostile.model_entries({})
    members["architecture.npy"] = hostile.stored(hostile.npy_bytes(np.array("[" * 100_000 + "]" * 100_000)))
    path = hostile.write_zip(tmp_path / "m.npz", members)
    assert_refused(lambda: load_model(path), ModelFileError, r"the architecture: nested more than 100 levels deep")


def test_a_member_compressed_by_a_method_zipfile_lacks_is_one_line(tmp_path):
    members = hostile.model_entries({})
    data, _, crc, size = members["metadata.npy"]
    members["metadata.npy"] = (data, 99, crc, size)   # 99: AES encryption
    path = hostile.write_zip(tmp_path / "m.npz", members)
    assert_refused(lambda: load_model(path), ModelFileError, r"not a readable model file \('metadata': .*not supported")
    (tmp_path / "data").mkdir()
    hostile.write_zip(tmp_path / "data" / "archive.zip", {"train.csv": (data, 99, crc, size)})
    assert_refused(read_mnist(tmp_path / "data"), DataError, r"archive\.zip: not a readable zip file \(.*not supported")


def test_a_legitimate_model_loads_within_a_small_multiple_of_its_weights(tmp_path):
    model = Sequential(Linear(784, 1000, rng=0), ReLU(), Linear(1000, 1000, rng=1), ReLU(), Linear(1000, 10, rng=2))
    weights = sum(array.nbytes for array in model.parameters().values())
    save_model(tmp_path / "m.npz", model)
    raised, peak = peak_of(lambda: load_model(tmp_path / "m.npz"))
    assert raised is None, raised
    # the weights, their (zero) gradients, and one stored array at a time: before, 4.1 times the weights
    assert peak <= 3.2 * weights, f"loading {weights / MEGABYTE:.1f} MiB of weights peaked at {peak / MEGABYTE:.1f} MiB"


# ---- data files ----

def test_a_gzip_bomb_idx_file_is_refused_by_its_header(tmp_path):  # before: 7.6 GB, then a count of labels
    folder = hostile.idx_folder(tmp_path / "data", hostile.gzip_bomb_idx, "train-images-idx3-ubyte.gz")
    assert (folder / "train-images-idx3-ubyte.gz").stat().st_size < 4 * MEGABYTE
    assert_refused(read_mnist(folder), DataError,
                   r"train-images-idx3-ubyte\.gz: its header declares shape \(5100000, 28, 28\), 3,998,400,000 bytes "
                   r"of data, more than the [\d,]+ nnscratch reads from a gzip file of this size")


def test_gzip_data_longer_than_its_header_says_is_refused_once_past_the_declared_size(tmp_path):
    head = bytes([0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28])   # 10 images declared, 4 GB follow
    stream, _, crc, size = hostile.deflated_repeats(head, bytes(MEGABYTE), 4000)
    folder = hostile.idx_folder(tmp_path / "data", lambda path: hostile.write_gzip(path, stream, crc, size),
                                "train-images-idx3-ubyte.gz")
    assert_refused(read_mnist(folder), DataError, r"the file is longer than its header says \(header: shape "
                                                  r"\(10, 28, 28\), 7840 bytes of data; file: more than 7840")


def test_a_sparse_idx_file_is_refused_by_its_magic_number(tmp_path):  # before: 954 MB read to reject it
    folder = hostile.idx_folder(tmp_path / "data", hostile.sparse_file)
    assert_refused(read_mnist(folder), DataError, r"not an IDX file \(magic number 0x00 0x00 0x00 0x00")


def test_idx_dimensions_whose_product_overflows_are_refused(tmp_path):  # before: a ValueError traceback
    folder = hostile.idx_folder(tmp_path / "data", hostile.overflowing_idx)
    assert_refused(read_mnist(folder), DataError,
                   r"shorter than its header says \(header: shape \(2147483648, 2147483648, 4\), "
                   r"18446744073709551616 bytes of data; file: 0 bytes of data\)")


def test_a_zip_holding_a_csv_bomb_is_refused_from_the_zip_directory(tmp_path):  # before: 7.6 GB, a MemoryError
    (tmp_path / "data").mkdir()
    hostile.csv_bomb_zip(tmp_path / "data" / "archive.zip")
    assert_refused(read_mnist(tmp_path / "data"), DataError,
                   r"archive\.zip!train\.csv: 3,987,804,206 bytes uncompressed, more than the 1,073,741,824")


def test_a_zip_member_within_the_size_cap_is_refused_by_its_expansion(tmp_path):
    (tmp_path / "data").mkdir()
    hostile.csv_bomb_zip(tmp_path / "data" / "archive.zip", rows=300_000)   # 471 MB of zeros
    assert_refused(read_mnist(tmp_path / "data"), DataError, r"archive\.zip!train\.csv: it would expand from "
                                                             r"[\d,]+ to 471,004,206 bytes, more than 100 times")


def test_a_sparse_csv_without_a_newline_is_refused_by_its_first_line(tmp_path):  # before: 2.9 GB, "1 columns"
    (tmp_path / "data").mkdir()
    hostile.sparse_file(tmp_path / "data" / "mnist_train.csv", 10 ** 9)
    assert_refused(read_mnist(tmp_path / "data"), DataError, r"mnist_train\.csv: its first line runs past 65,536 "
                                                             r"bytes without ending")


def test_a_zip_bomb_keras_npz_is_refused(tmp_path):
    images = 400_000 * 784   # 313 MB of zeros in 0.3 MB
    members = {"x_train.npy": hostile.deflated_repeats(hostile.npy_header((400_000, 28, 28), "|u1"), bytes(MEGABYTE),
                                                       images // MEGABYTE, bytes(images % MEGABYTE))}
    hostile.write_zip(tmp_path / "mnist.npz", members)
    assert_refused(read_mnist(tmp_path / "mnist.npz"), DataError, r"mnist\.npz: not a readable \.npz file \(.*would "
                                                                  r"expand from")


def test_a_legitimate_gzipped_idx_file_is_read_within_its_array_and_a_buffer(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (10_000, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    read = []
    raised, peak = peak_of(lambda: read.append(read_idx(tmp_path / "train-images-idx3-ubyte.gz")))
    assert raised is None, raised
    np.testing.assert_array_equal(read[0], images)
    # before: the compressed file, its decompressed bytes and their copies, 5.0 times the array
    assert peak <= images.nbytes + 4 * MEGABYTE, f"{images.nbytes / MEGABYTE:.0f} MiB read at a peak of " \
                                                 f"{peak / MEGABYTE:.1f} MiB"


def gzip_bytes(stream, crc, size):
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + stream + struct.pack("<2I", crc, size % (1 << 32))


def test_a_gzip_bomb_pickle_is_refused_by_the_size_it_declares():
    stream, _, crc, size = hostile.deflated_repeats(b"", bytes(MEGABYTE), 1000)   # 1 GB of zeros in 1 MB
    assert_refused(lambda: read_nielsen_pickle(gzip_bytes(stream, crc, size), "mnist.pkl.gz"), DataError,
                   r"mnist\.pkl\.gz: its [\d,]+ bytes of gzip data expand to more than [\d,]+, the most")


def test_a_gzip_bomb_that_lies_about_its_size_is_stopped_at_the_expansion_limit():
    stream, _, crc, size = hostile.deflated_repeats(b"", bytes(MEGABYTE), 200)   # 200 MB in 200 kB, saying 1 kB
    data = gzip_bytes(stream, crc, 1000)
    raised, peak = peak_of(lambda: read_nielsen_pickle(data, "mnist.pkl.gz"))
    assert isinstance(raised, DataError) and "expand to more than 67,108,864" in str(raised), raised
    assert peak <= 1.25 * expansion_limit(len(data)), f"peak {peak / MEGABYTE:.1f} MiB"  # a bytearray grows by 1/8


# ---- JSON ----

def test_a_model_json_nested_a_hundred_thousand_levels_is_one_line(tmp_path):  # before: a RecursionError
    path = hostile.deep_json(tmp_path / "m.json")
    assert_refused(lambda: load_model(path), ModelFileError, r"m\.json: nested more than 100 levels deep")


def test_json_nested_deeper_than_the_limit_but_parseable_is_refused_too(tmp_path):
    path = hostile.deep_json(tmp_path / "m.json", depth=500)
    assert_refused(lambda: load_model(path), ModelFileError, r"m\.json: nested more than 100 levels deep")


def test_an_integer_of_five_thousand_digits_is_one_line(tmp_path):  # before: a ValueError traceback
    path = hostile.long_integer_json(tmp_path / "m.json")
    assert_refused(lambda: load_model(path), ModelFileError, r"m\.json: holds a number too long to read")


def test_an_older_projects_json_nested_too_deeply_is_one_line(tmp_path):
    path = tmp_path / "model.json"
    path.write_text('{"sizez": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert_refused(lambda: read_older_project_model(path), ValueError, r"nested more than 100 levels deep")


def test_a_json_model_declaring_a_huge_layer_without_weights_is_refused_before_building_it(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"format": "nnscratch-model", "format_version": 1, "weights": {}, "architecture": '
                    '{"type": "Sequential", "dtype": "float64", "config": {"layers": [{"type": "Linear", '
                    '"config": {"in_features": 30000, "out_features": 30000}}]}}}')
    assert_refused(lambda: load_model(path), ModelFileError, r"missing arrays 0\.W, 0\.b$")


# ---- the shapes an architecture declares ----

class Doubler(Layer):
    """y = x W with W of shape (size, size), a custom layer: its shapes are learned by building it."""

    def __init__(self, size=3):
        super().__init__()
        self.size = int(size)
        self.params["W"] = np.zeros((self.size, self.size), np.float32)

    def config(self):
        return {"size": self.size}


@pytest.mark.parametrize("model", [
    Sequential(Conv2D(1, 4, 3, rng=0), BatchNorm(4), MaxPool2D(2), ReLU(), Flatten(), Linear(4 * 13 * 13, 10, rng=1)),
    Sequential(Conv2D(2, 3, (3, 5), stride=2, padding=1, rng=0), Sequential(BatchNorm(3), ReLU())),
    Sequential(Linear(5, 7, rng=0), Doubler(7)),
])
def test_declared_shapes_are_the_built_layers_own(model):
    config = {"type": type(model).__name__, "config": model.config()}
    built = {name: array.shape for name, array in {**model.parameters(), **model.named_buffers()}.items()}
    assert declared_shapes(config, [Doubler]) == built
    rebuilt = model_from_config(config, [Doubler], initialize=False)
    assert {name: array.shape for name, array in {**rebuilt.parameters(), **rebuilt.named_buffers()}.items()} == built


def test_declared_shapes_of_built_in_layers_allocate_nothing():
    config = {"type": "Sequential", "config": {"layers": [
        {"type": "Conv2D", "config": {"in_channels": 64, "out_channels": 10 ** 5, "kernel_size": 5}},
        {"type": "BatchNorm", "config": {"num_features": 10 ** 9}},
        {"type": "Linear", "config": {"in_features": 10 ** 6, "out_features": 10 ** 6}}]}}
    shapes = {}
    raised, peak = peak_of(lambda: shapes.update(declared_shapes(config)))
    assert raised is None, raised
    assert shapes["0.W"] == (10 ** 5, 64, 5, 5) and shapes["1.running_var"] == (10 ** 9,)
    assert shapes["2.W"] == (10 ** 6, 10 ** 6) and peak < MEGABYTE, f"peak {peak / MEGABYTE:.1f} MiB"


def test_a_config_the_layer_refuses_is_reported_in_the_builders_words():
    with pytest.raises(ModelFileError, match="cannot build layer Linear"):
        declared_shapes({"type": "Linear", "config": {"in_features": -3, "out_features": 2}})


# ---- the commands ----

@pytest.fixture
def good_model(tmp_path):
    return str(save_model(tmp_path / "good.npz", Sequential(Linear(784, 10, rng=0)),
                          {"dataset": "mnist", "input_shape": [784]}))


def in_folder(folder, name):
    folder.mkdir()
    return folder / name


HOSTILE_MODELS = {
    "no-weights.npz": (hostile.model_without_weights, r"missing arrays 0\.W, 0\.b"),
    "bomb.npz": (hostile.zip_bomb_model, r"it holds 2,888,153,228 bytes uncompressed"),
    "huge.npz": (hostile.huge_member_model, r"declares shape \(1000000, 1000000\)"),
    "deep.json": (hostile.deep_json, r"nested more than 100 levels deep"),
    "long.json": (hostile.long_integer_json, r"holds a number too long to read"),
}
HOSTILE_DATA = {
    "gzip-bomb": (lambda folder: hostile.idx_folder(folder, hostile.gzip_bomb_idx, "train-images-idx3-ubyte.gz"),
                  r"its header declares shape \(5100000, 28, 28\)"),
    "sparse-idx": (lambda folder: hostile.idx_folder(folder, hostile.sparse_file), r"not an IDX file"),
    "overflow-idx": (lambda folder: hostile.idx_folder(folder, hostile.overflowing_idx), r"shorter than its header"),
    "csv-bomb": (lambda folder: hostile.csv_bomb_zip(in_folder(folder, "archive.zip")), r"bytes uncompressed"),
    "sparse-csv": (lambda folder: hostile.sparse_file(in_folder(folder, "mnist_train.csv")), r"first line runs past"),
}


@pytest.fixture(scope="module")
def cli():
    """The command line with its command modules imported, so that importing them is not measured (tracemalloc
    makes imports slow)."""
    from nnscratch import cli
    cli.build_parser()
    return cli


def assert_one_line_status_2(cli, argv, capsys, pattern):
    status = []
    raised, peak = peak_of(lambda: status.append(cli.main(argv)))
    err = capsys.readouterr().err
    assert raised is None and status == [2], f"{argv}: raised {raised!r}, status {status}, stderr {err!r}"
    assert err.count("\n") == 1 and "Traceback" not in err and re.search(pattern, err), err
    assert peak <= PEAK_LIMIT, f"{argv}: a peak of {peak / MEGABYTE:.1f} MiB"


@pytest.mark.parametrize("name", HOSTILE_MODELS)
@pytest.mark.parametrize("command", [["evaluate"], ["predict", "--index", "0"], ["draw", "--no-browser"]])
def test_commands_refuse_hostile_model_files_in_one_line(cli, tmp_path, capsys, name, command):
    build, pattern = HOSTILE_MODELS[name]
    path = str(build(tmp_path / name))
    assert_one_line_status_2(cli, [command[0], path, *command[1:]], capsys, pattern)


@pytest.mark.parametrize("name", HOSTILE_DATA)
@pytest.mark.parametrize("command", [["evaluate"], ["predict", "--index", "0"]])
def test_commands_refuse_hostile_data_files_in_one_line(cli, tmp_path, capsys, good_model, name, command):
    build, pattern = HOSTILE_DATA[name]
    build(tmp_path / name)
    assert_one_line_status_2(cli, [command[0], good_model, *command[1:], "--data", str(tmp_path / name)], capsys,
                             pattern)
