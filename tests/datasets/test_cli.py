"""``nnscratch data``: fetch (from files), info, and convert round trips through every loader."""
import zipfile

import numpy as np
import pytest

from nnscratch.cli import main
from nnscratch.datasets import RawData, read_path
from nnscratch.datasets.idx import write_idx
from nnscratch.datasets.sources import MNIST


@pytest.fixture
def datasets_cached(tmp_path, monkeypatch):
    """A tiny data set imported into a temporary cache with ``nnscratch data fetch --data``."""
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "cache"))
    rng = np.random.default_rng(3)
    raw = RawData(rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), rng.integers(0, 10, 12),
                  rng.integers(0, 256, (4, 28, 28), dtype=np.uint8), rng.integers(0, 10, 4))
    source = tmp_path / "source"
    source.mkdir()
    for name, array in (("train-images-idx3-ubyte", raw.x_train), ("train-labels-idx1-ubyte", raw.y_train),
                        ("t10k-images-idx3-ubyte", raw.x_test), ("t10k-labels-idx1-ubyte", raw.y_test)):
        write_idx(source / name, np.asarray(array, np.uint8))
    assert main(["data", "fetch", "--data", str(source)]) == 0
    return raw


def assert_same(got, raw):
    for a, b, part in zip(got, raw, RawData._fields, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=part)


def test_fetch_from_files_then_info(datasets_cached, tmp_path, capsys):
    assert (tmp_path / "cache" / "mnist.npz").is_file()
    capsys.readouterr()
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert f"cache: {tmp_path / 'cache'}" in out
    assert "mnist: 12 train + 4 test" in out and "intact, but differs from the published data set" in out


@pytest.mark.parametrize("options", [["--to", "idx"], ["--to", "idx", "--plain"], ["--to", "idx", "--dotted"],
                                     ["--to", "idx", "--dotted", "--plain"], ["--to", "csv"], ["--to", "npz"],
                                     ["--to", "npz", "--plain"]])
def test_convert_round_trip(datasets_cached, tmp_path, options):
    out = tmp_path / "out"
    assert main(["data", "convert", *options, str(out)]) == 0
    assert_same(read_path(out, MNIST), datasets_cached)
    if "--dotted" in options:
        assert (out / ("train-images.idx3-ubyte" + ("" if "--plain" in options else ".gz"))).is_file()
    if options[1] == "csv":  # the same CSV files zipped load too
        with zipfile.ZipFile(tmp_path / "mnist.zip", "w") as archive:
            for path in out.iterdir():
                archive.write(path, path.name)
        assert_same(read_path(tmp_path / "mnist.zip", MNIST), datasets_cached)


def test_convert_without_cache_says_how_to_fetch(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "empty"))
    assert main(["data", "convert", "--to", "csv", str(tmp_path / "out")]) == 2
    assert "nnscratch data: error: mnist is not cached; run: nnscratch data fetch mnist" in capsys.readouterr().err


def test_fetch_bad_files_is_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "cache"))
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"GARBAGE!")
    assert main(["data", "fetch", "--data", str(tmp_path / "train-images-idx3-ubyte")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnscratch data: error: ") and "expected the four IDX files" in err
    assert not (tmp_path / "cache" / "mnist.npz").exists()
