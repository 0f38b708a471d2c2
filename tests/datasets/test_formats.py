"""Every file format the loaders read, written by the tests themselves, and every bad-input case."""
import gzip
import pickle
import zipfile

import numpy as np
import pytest

from nnscratch.datasets import DataError, RawData, read_path
from nnscratch.datasets.csvfile import encode_csv, parse_csv, write_csv
from nnscratch.datasets.idx import encode_idx, parse_idx, write_idx
from nnscratch.datasets.npz import write_npz
from nnscratch.datasets.safe_pickle import load_arrays_pickle, read_nielsen_pickle
from nnscratch.datasets.sources import EMNIST_LETTERS, MNIST

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def make_raw(seed=0, n_train=20, n_test=5):
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    return RawData(x_train, rng.integers(0, 10, n_train).astype(np.int64), x_test,
                   rng.integers(0, 10, n_test).astype(np.int64))


def assert_same(raw, expected):
    for got, want, part in zip(raw, expected, RawData._fields, strict=True):
        assert got.shape == want.shape, f"{part}: shape {got.shape}, expected {want.shape}"
        assert got.dtype == (np.uint8 if part.startswith("x") else np.int64), f"{part}: dtype {got.dtype}"
        np.testing.assert_array_equal(got, want, err_msg=part)


def write_idx_set(directory, raw, dotted=False, compress=True, prefix="", test_word="t10k"):
    for name, array in zip(IDX_NAMES, (raw.x_train, raw.y_train.astype(np.uint8), raw.x_test,
                                       raw.y_test.astype(np.uint8)), strict=True):
        name = prefix + name.replace("t10k", test_word)
        if dotted:
            name = name.replace("-idx", ".idx")
        write_idx(directory / (name + (".gz" if compress else "")), array)


@pytest.mark.parametrize("dotted", [False, True])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_both_namings_gz_and_plain(tmp_path, dotted, compress):
    raw = make_raw()
    write_idx_set(tmp_path, raw, dotted=dotted, compress=compress)
    assert_same(read_path(tmp_path, MNIST), raw)
    assert_same(read_path(next(tmp_path.iterdir()), MNIST), raw)  # naming one of the four files works too


def test_idx_header_and_layout():
    data = encode_idx(np.arange(6, dtype=np.uint8).reshape(1, 2, 3))
    assert data[:4] == bytes([0, 0, 8, 3])
    assert data[4:16] == bytes([0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3])
    assert data[16:] == bytes(range(6))


def test_gzip_recognised_by_content_not_name(tmp_path):
    raw = make_raw()
    write_idx_set(tmp_path, raw, compress=False)
    plain = tmp_path / IDX_NAMES[0]
    plain.write_bytes(gzip.compress(plain.read_bytes()))  # gzipped data under the plain name
    assert_same(read_path(tmp_path, MNIST), raw)


def test_csv_plain_and_zipped(tmp_path):
    raw = make_raw()
    write_csv(tmp_path / "mnist_train.csv", raw.x_train, raw.y_train)
    write_csv(tmp_path / "mnist_test.csv", raw.x_test, raw.y_test)
    assert (tmp_path / "mnist_train.csv").read_text().startswith("label,1x1,1x2,")
    assert_same(read_path(tmp_path, MNIST), raw)
    assert_same(read_path(tmp_path / "mnist_test.csv", MNIST), raw)
    archive = tmp_path / "zipped" / "mnist.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(tmp_path / "mnist_train.csv", "mnist_train.csv")
        zipped.write(tmp_path / "mnist_test.csv", "data/mnist_test.csv")
    assert_same(read_path(archive, MNIST), raw)
    assert_same(read_path(archive.parent, MNIST), raw)


def test_csv_pixel_header_and_no_header():
    raw = make_raw()
    pixel_header = "label," + ",".join(f"pixel{i}" for i in range(784))
    for header_bytes in (encode_csv(raw.x_train, raw.y_train, pixel_header),
                         encode_csv(raw.x_train, raw.y_train).split(b"\n", 1)[1]):
        pixels, labels = parse_csv(header_bytes.replace(b"\n", b"\r\n"))
        np.testing.assert_array_equal(pixels, raw.x_train.reshape(-1, 784))
        np.testing.assert_array_equal(labels, raw.y_train)


def test_zip_of_idx_files(tmp_path):
    raw = make_raw()
    write_idx_set(tmp_path, raw)
    with zipfile.ZipFile(tmp_path / "mnist.zip", "w") as zipped:
        for name in IDX_NAMES:
            zipped.write(tmp_path / (name + ".gz"), "mnist/" + name + ".gz")
    assert_same(read_path(tmp_path / "mnist.zip", MNIST), raw)


def test_keras_npz(tmp_path):
    raw = make_raw()
    write_npz(tmp_path / "mnist.npz", {"x_train": raw.x_train, "y_train": raw.y_train.astype(np.uint8),
                                       "x_test": raw.x_test, "y_test": raw.y_test.astype(np.uint8)})
    assert_same(read_path(tmp_path / "mnist.npz", MNIST), raw)
    assert_same(read_path(tmp_path, MNIST), raw)


def nielsen_pickle(raw, scale=256.0):
    x_train = raw.x_train.reshape(-1, 784).astype(np.float32) / np.float32(scale)
    x_test = raw.x_test.reshape(-1, 784).astype(np.float32) / np.float32(scale)
    cut = 15
    content = ((x_train[:cut], raw.y_train[:cut]), (x_train[cut:], raw.y_train[cut:]), (x_test, raw.y_test))
    return gzip.compress(pickle.dumps(content, protocol=2))


@pytest.mark.parametrize("scale", [256.0, 255.0])
def test_nielsen_pickle_restores_original_pixels(tmp_path, scale):
    raw = make_raw()
    (tmp_path / "mnist.pkl.gz").write_bytes(nielsen_pickle(raw, scale))
    assert_same(read_path(tmp_path / "mnist.pkl.gz", MNIST), raw)


def test_emnist_idx_is_transposed_upright_and_letters_start_at_zero(tmp_path):
    raw = make_raw()
    stored = RawData(raw.x_train.transpose(0, 2, 1), raw.y_train % 10 + 1, raw.x_test.transpose(0, 2, 1),
                     raw.y_test % 10 + 1)
    write_idx_set(tmp_path, stored, prefix="emnist-letters-", test_word="test")
    loaded = read_path(tmp_path, EMNIST_LETTERS)
    assert_same(loaded, RawData(raw.x_train, raw.y_train % 10, raw.x_test, raw.y_test % 10))


# ---- bad input: each case is refused with a message that says what is wrong -------------------------------

def test_wrong_magic_number(tmp_path):
    with pytest.raises(DataError, match=r"not an IDX file \(magic number 0x50 0x4b 0x03 0x04"):
        parse_idx(b"PK\x03\x04" + bytes(100), "images")


def test_file_shorter_than_header(tmp_path):
    data = encode_idx(np.zeros((3, 28, 28), np.uint8))[:-10]
    with pytest.raises(DataError, match=r"shorter than its header says .*2352 bytes of data; file: 2342"):
        parse_idx(data, "images")


def test_image_and_label_counts_differ(tmp_path):
    raw = make_raw()
    write_idx_set(tmp_path, raw._replace(y_train=raw.y_train[:-1]))
    with pytest.raises(DataError, match="20 training images but 19 training labels"):
        read_path(tmp_path, MNIST)


def test_labels_out_of_range(tmp_path):
    raw = make_raw()
    y_test = raw.y_test.copy()
    y_test[2] = 12
    write_idx_set(tmp_path, raw._replace(y_test=y_test))
    with pytest.raises(DataError, match=r"test label 12 is out of range, expected 0..9"):
        read_path(tmp_path, MNIST)


def test_csv_row_with_wrong_number_of_columns():
    rows = encode_csv(make_raw().x_train[:3], np.array([1, 2, 3])).split(b"\n")
    rows[2] = rows[2].rsplit(b",", 1)[0]  # the second data row loses its last pixel
    with pytest.raises(DataError, match="train.csv: line 3 has 784 columns, expected 785"):
        parse_csv(b"\n".join(rows), "train.csv")


def test_csv_non_numeric_cell():
    rows = encode_csv(make_raw().x_train[:3], np.array([1, 2, 3])).split(b"\n")
    cells = rows[3].split(b",")
    cells[7] = b"12a"
    rows[3] = b",".join(cells)
    with pytest.raises(DataError, match=r"line 4, column 8: '12a' is not a whole number 0..255"):
        parse_csv(b"\n".join(rows), "train.csv")


def test_csv_empty_cell_and_big_number():
    row = "5," + ",".join(["0"] * 784)
    with pytest.raises(DataError, match="line 1, column 3 holds an empty cell"):
        parse_csv(("5,0,," + ",".join(["0"] * 782)).encode())
    with pytest.raises(DataError, match="line 1, column 2 holds a number above 255"):
        parse_csv(row.replace("5,0", "5,1000", 1).encode())


def test_npz_with_missing_arrays(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match="missing y_train, x_test, y_test"):
        read_path(tmp_path / "mnist.npz", MNIST)


def test_npz_with_object_array_is_not_unpickled(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.array([{"a": 1}], dtype=object), y_train=np.zeros(1),
             x_test=np.zeros(1), y_test=np.zeros(1))
    with pytest.raises(DataError, match="not a readable .npz file .*allow_pickle"):
        read_path(tmp_path / "mnist.npz", MNIST)


class CreatesAFile:
    """A pickle payload: unpickling it calls open(path, "w"), which would create the file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    target = tmp_path / "pwned.txt"
    payload = pickle.dumps(((np.zeros((1, 784), np.float32), CreatesAFile(str(target))),), protocol=4)
    (tmp_path / "mnist.pkl.gz").write_bytes(gzip.compress(payload))
    with pytest.raises(DataError, match=r"refused to load the pickle: it refers to (builtins|io)\.open"):
        read_path(tmp_path / "mnist.pkl.gz", MNIST)
    assert not target.exists(), "the pickle's payload ran and created a file"
    # The same payload through the ordinary unpickler does create the file: the test can fail.
    pickle.loads(payload)
    assert target.exists()


def test_pickle_of_plain_python_objects_is_refused():
    with pytest.raises(DataError, match="it holds str, expected numeric NumPy arrays"):
        load_arrays_pickle(pickle.dumps(("hello", np.zeros(3))), "data.pkl")
    with pytest.raises(DataError, match=r"expected \(\(train_x, train_y\)"):
        read_nielsen_pickle(pickle.dumps((np.zeros(3),)), "data.pkl")


def test_truncated_gzip_pickle():
    data = gzip.compress(pickle.dumps((np.zeros(3),)))[:-8]
    with pytest.raises(DataError, match="data.pkl.gz: "):
        load_arrays_pickle(data, "data.pkl.gz")


def test_unknown_folder_lists_what_it_expects(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="found no mnist files; expected the IDX files train-images-idx3-ubyte.gz"):
        read_path(tmp_path, MNIST)
