"""What evaluate, plot, predict and data say to a user: files named in errors, checks before long work, undefined
precision shown as undefined, the test index of each mistake, and --help texts in plain words."""
import importlib
import json
import re

import numpy as np
import pytest

import nnscratch.viz.plots as plots
from nnscratch import Network
from nnscratch.cli import main
from nnscratch.datasets import RawData
from nnscratch.datasets.idx import write_idx
from nnscratch.metrics import confusion_matrix, precision_recall
from nnscratch.runs import TrainingData
from nnscratch.serialization import save_model


@pytest.mark.parametrize("content, message", [
    ('{"epochs": [{"loss": "a"}]}', "epoch 1's 'loss' must be a number, got 'a'"),
    ('{"epochs": [{"loss": 0.5, "epoch": [1]}]}', "epoch 1's 'epoch' must be a number"),
    ('{"epochs": [{"loss": NaN}]}', "no epoch of this history has a finite loss"),
    ('{"epochs": [{"loss": 0.1, "val_accuracy": {"a": 1}}]}', "epoch 1's 'val_accuracy' must be a number"),
    ("[" * 100000, "not a history JSON file"),
])
def test_plot_of_a_bad_history_names_the_file(tmp_path, capsys, content, message):
    path = tmp_path / "bad.history.json"
    path.write_text(content)
    assert main(["plot", str(path), "--out", str(tmp_path / "curves.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nnscratch plot: error: {path}: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err and "Warning" not in err, err
    assert not (tmp_path / "curves.png").exists()


@pytest.fixture
def loaded(use_loader):
    """Replace the data loader, recording each call: a call means the evaluation began."""
    calls = []
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (40, 784)).astype(np.float32)
    y = rng.integers(0, 10, 40)

    def load(settings):
        calls.append(dict(settings))
        return TrainingData("mnist", [str(digit) for digit in range(10)], (x, y), None, (x, y))

    use_loader(load)
    return calls


def test_evaluate_plots_into_an_unwritable_folder_fails_before_evaluating(tmp_path, loaded, capsys):
    save_model(tmp_path / "model.npz", Network([784, 8, 10], output=None, rng=0), {"dataset": "mnist"})
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for folder, reason in ((blocker, "is a file, not a folder"), (blocker / "plots", "cannot write there")):
        assert main(["evaluate", str(tmp_path / "model.npz"), "--plots", str(folder)]) == 2
        err = capsys.readouterr().err
        assert err == f"nnscratch evaluate: error: --plots {folder}: {reason}" + err[err.index(reason) + len(reason):]
        assert err.count("\n") == 1, err
    assert loaded == [], "the data were loaded (the evaluation began) before the --plots folder was checked"


def test_precision_of_a_class_never_predicted_is_undefined():
    confusion = confusion_matrix(np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1]), 3)  # class 2 never predicted
    precision, recall = precision_recall(confusion)
    np.testing.assert_allclose(precision[:2], [0.5, 1.0])
    assert np.isnan(precision[2]), f"precision of a class never predicted should be NaN, got {precision[2]}"
    np.testing.assert_allclose(recall, [1.0, 1.0, 0.0])  # class 2 has an example, found never: recall 0
    _, recall = precision_recall(confusion_matrix(np.array([0, 1]), np.array([0, 1]), 3))
    assert np.isnan(recall[2]), f"recall of a class without examples should be NaN, got {recall[2]}"


def test_evaluate_shows_undefined_precision_as_undefined(tmp_path, loaded, capsys):
    model = Network([784, 8, 10], output=None, rng=0)
    model[-1].params["W"][:] = 0
    model[-1].params["b"][:] = np.arange(10, dtype=np.float32)  # always predicts class 9
    save_model(tmp_path / "model.npz", model, {"dataset": "mnist"})
    assert main(["evaluate", str(tmp_path / "model.npz")]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if re.match(r"\d\s+(undefined|\d)", line)}
    assert len(rows) == 10, out
    for digit in "012345678":
        assert "undefined (never predicted)" in rows[digit] and "0.00 %   " not in rows[digit].split("undefined")[0], \
            rows[digit]
    assert re.match(r"9\s+\d+\.\d\d %\s+100\.00 %", rows["9"]), rows["9"]


def test_mistakes_png_shows_each_digits_test_index(tmp_path, monkeypatch):
    titles = []
    real_save = plots.save_figure

    def save(figure, path):
        titles.extend(axes.get_title() for axes in figure.axes if axes.get_title())
        return real_save(figure, path)

    monkeypatch.setattr(plots, "save_figure", save)
    probabilities = np.full((6, 3), 0.1)
    probabilities[np.arange(6), [0, 1, 2, 0, 1, 2]] = 0.8
    y = np.array([0, 2, 2, 1, 1, 0])                   # rows 1, 3 and 5 are wrong
    plots.plot_mistakes(np.zeros((6, 784)), y, probabilities, tmp_path / "mistakes.png")
    assert sorted(re.match(r"#(\d+): said", title).group(1) for title in titles) == ["1", "3", "5"], titles


def test_evaluate_on_a_small_folder_just_works(tmp_path, monkeypatch, capsys):
    """A model trained with a 10,000-example validation split, measured on a folder of 12 + 4 digits."""
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "cache"))
    rng = np.random.default_rng(3)
    raw = RawData(rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), rng.integers(0, 10, 12),
                  rng.integers(0, 256, (4, 28, 28), dtype=np.uint8), rng.integers(0, 10, 4))
    for name, array in (("train-images-idx3-ubyte", raw.x_train), ("train-labels-idx1-ubyte", raw.y_train),
                        ("t10k-images-idx3-ubyte", raw.x_test), ("t10k-labels-idx1-ubyte", raw.y_test)):
        write_idx(tmp_path / name, np.asarray(array, np.uint8))
    save_model(tmp_path / "model.npz", Network([784, 8, 10], output=None, rng=0),
               {"dataset": "mnist", "training": {"settings": {"validation_size": 10000}}})
    assert main(["evaluate", str(tmp_path / "model.npz"), "--data", str(tmp_path)]) == 0, capsys.readouterr().err
    assert "mnist test split, 4 examples" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path / "model.npz"), "--data", str(tmp_path), "--split", "validation"]) == 2
    err = capsys.readouterr().err
    assert "--split validation" in err and "--split test" in err and "validation_size" not in err, err


@pytest.mark.parametrize("command", ["evaluate", "plot", "predict", "data"])
def test_help_text_is_plain_text(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "``" not in out, f"nnscratch {command} --help shows RST markup:\n{out[:400]}"
    description = importlib.import_module(f"nnscratch.cli.{command}").__doc__.strip().splitlines()[0]
    assert " ".join(description.replace("``", "").split()) in " ".join(out.split()), \
        f"the help of {command} lacks its description:\n{out[:400]}"


def test_history_json_written_by_hand_still_plots(tmp_path):
    path = tmp_path / "run.history.json"
    path.write_text(json.dumps({"epochs": [{"epoch": 1, "loss": 0.5, "accuracy": None}, {"loss": 0.25}]}))
    assert plots.read_history(path)["loss"] == [0.5, 0.25]
