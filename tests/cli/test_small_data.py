"""`nnscratch train` on data sets too small for the default validation split, an IDX set without images and lines
too many to draw end in one line that says what fits, and the banner and legend describe the run truly."""

import numpy as np
import pytest

from nnscratch.cli import main
from nnscratch.datasets import RawData
from nnscratch.datasets.idx import encode_idx
from tests.datasets.test_formats import write_idx_set
from tests.datasets.test_real_files import kaggle_files


def raw(n_train, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    return RawData(rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train),
                   rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test))


def one_line_error(capsys):
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    return captured.err


def test_a_small_kaggle_set_with_the_default_validation_size_gets_a_size_that_fits(tmp_path, capsys):
    folder = kaggle_files(tmp_path / "kaggle-dir", raw(700))  # 600 train.csv rows after the test share
    status = main(["train", "--data", str(folder), "--preset", "cnn", "--out", str(tmp_path / "m.npz")])
    assert status == 2
    err = one_line_error(capsys)
    assert "--validation-size 10000 leaves nothing to train on" in err, err
    assert "training examples; hold out fewer, such as --validation-size 100 (a sixth" in err, err
    assert not (tmp_path / "m.npz").exists()


def test_the_suggested_validation_size_then_trains(tmp_path, capsys):
    folder = kaggle_files(tmp_path / "kaggle-dir", raw(210))
    assert main(["train", "--data", str(folder), "--layers", "784,8,10", "--epochs", "1", "--validation-size",
                 "30", "--quiet", "--out", str(tmp_path / "m.npz")]) == 0
    assert "validation (30, 784)" in capsys.readouterr().out


def test_a_validation_size_as_large_as_mnist_s_training_set_is_one_line(tmp_path, capsys):
    folder = tmp_path / "idx"
    write_idx_set(folder, raw(60))
    assert main(["train", "--data", str(folder), "--validation-size", "60", "--out", str(tmp_path / "m.npz")]) == 2
    err = one_line_error(capsys)
    assert "--validation-size 60 leaves nothing to train on" in err and "has 60 training examples" in err, err


def test_an_idx_set_without_images_is_one_line(tmp_path, capsys):
    folder = tmp_path / "idx"
    write_idx_set(folder, raw(0))
    assert main(["train", "--data", str(folder), "--out", str(tmp_path / "m.npz")]) == 2
    err = one_line_error(capsys)
    assert f"{folder} holds no training images" in err, err


def test_more_lines_than_memory_holds_is_refused_before_drawing(tmp_path, capsys):
    assert main(["train", "--preset", "lines", "--train-size", "50000000000", "--out", str(tmp_path / "m.npz")]) == 2
    err = one_line_error(capsys)
    assert "--train-size 50000000000: that many images of lines would take 47,683.7 GiB of memory" in err, err
    assert "draw fewer" in err


def test_the_banner_shows_the_shape_of_every_dense_layer_even_of_equal_width(tmp_path, capsys, use_loader):
    from nnscratch.runs import TrainingData
    rng = np.random.default_rng(0)
    split = lambda n: (rng.normal(size=(n, 16)).astype(np.float32), rng.integers(0, 3, n))  # noqa: E731
    use_loader(lambda settings: TrainingData("toy", ["a", "b", "c"], split(60), split(30), split(30)))
    assert main(["train", "--layers", "16,16,16,3", "--epochs", "1", "--quiet", "--out",
                 str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    layers = " ".join(out.split("Architecture")[1].split("parameters")[0].split())
    assert "Input (m, 16) --> Linear (m, 16) --> ReLU --> Linear (m, 16) --> ReLU --> Linear (m, 3)" in layers, out
    assert "with dropout on" not in out
    assert main(["train", "--layers", "16,16,3", "--epochs", "1", "--dropout", "0.2", "--quiet", "--out",
                 str(tmp_path / "d.npz")]) == 0
    assert "with dropout on" in capsys.readouterr().out


@pytest.mark.parametrize("count", [0])
def test_encode_idx_of_no_images_is_what_the_test_above_reads(count):
    assert len(encode_idx(np.zeros((count, 28, 28), np.uint8))) == 16  # magic and three dimensions, no body
