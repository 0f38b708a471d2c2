"""`nnscratch info MODEL`: a model file's architecture, figures, settings and history, from the file alone."""
import json
import zipfile

import numpy as np
import pytest

import nnscratch.datasets
import nnscratch.training
from nnscratch import Conv2D, Flatten, Linear, MaxPool2D, ReLU, Sequential
from nnscratch.cli import console, main
from nnscratch.runs import TrainingData
from nnscratch.serialization import load_checkpoint, save_model
from nnscratch.viz.summary import architecture_line


def blobs(n, rng, features=16, classes=3):
    """Three well separated clusters: class c has mean 3 in feature c."""
    y = rng.integers(0, classes, n)
    x = rng.normal(0.0, 0.5, (n, features)).astype(np.float32)
    x[np.arange(n), y] += 3.0
    return x, y.astype(np.int64)


def toy_loader(settings):
    rng = np.random.default_rng(0)
    train, validation, test = blobs(300, rng), blobs(100, rng), blobs(100, rng)
    return TrainingData("toy", ["a", "b", "c"], train, validation if settings["validation_size"] else None, test)


@pytest.fixture
def no_data_no_evaluation(use_loader, monkeypatch):
    """From here on, loading a data set or evaluating fails the test, and the network may run on nothing but the
    one blank example with which the summary finds each layer's shape."""
    def refuse(*args, **kwargs):
        raise AssertionError("nnscratch info loaded data or evaluated the model")

    use_loader(refuse)
    monkeypatch.setattr(nnscratch.datasets, "load_dataset", refuse)
    monkeypatch.setattr(nnscratch.training, "evaluate", refuse)
    forward = Sequential.forward

    def blank_only(self, x):
        assert x.shape[0] == 1 and not x.any(), f"the network ran on a batch of shape {x.shape}"
        return forward(self, x)

    monkeypatch.setattr(Sequential, "forward", blank_only)


@pytest.fixture
def trained(tmp_path, use_loader, capsys):
    """A model trained for 4 epochs by `nnscratch train` on the toy data, and its metadata as saved."""
    use_loader(toy_loader)
    path = tmp_path / "toy.npz"
    assert main(["train", "--layers", "16,8,3", "--epochs", "4", "--batch-size", "20", "--lr", "0.1", "--seed",
                 "5", "--quiet", "--evaluate-train", "--out", str(path)]) == 0
    capsys.readouterr()
    model, metadata, _ = load_checkpoint(path)
    return str(path), model, metadata


def info(capsys, *args):
    status = main(["info", *map(str, args)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return status, captured.out, captured.err


def test_the_text_shows_architecture_figures_settings_and_history(trained, no_data_no_evaluation, capsys):
    path, model, metadata = trained
    status, out, err = info(capsys, path)
    assert status == 0 and err == "", err
    assert architecture_line(model, (16,)) in out
    assert f"{model.num_parameters():,} parameters, float32" in out
    assert "Data set         toy, input (16,), 3 classes (a, b, c)" in out
    accuracies = ", ".join(f"{split} {console.percent(metadata[f'{split}_accuracy'])}"
                           for split in ("train", "validation", "test"))
    assert f"Accuracy         {accuracies}" in out
    assert f"seed 5, created {metadata['created']}, by nnscratch {metadata['nnscratch_version']}" in out
    assert "lr 0.1" in out and "batch-size 20" in out and "epochs 4" in out
    epochs, best = metadata["training"]["history"]["epochs"], metadata["best_epoch"]
    assert f"Training history: 4 epochs, best epoch {best} by val_accuracy" in out
    table = out[out.index("Training history"):].splitlines()[3:]
    assert len(table) == 4, out
    for line, record in zip(table, epochs, strict=True):
        cells = line.split()
        assert cells[:2] == [str(record["epoch"]), f"{record['loss']:.4f}"], line
        assert console.percent(record["val_accuracy"]) in line, line
        assert line.endswith("best") == (record["epoch"] == best), line


def test_json_is_one_object_with_the_files_figures(trained, no_data_no_evaluation, capsys):
    path, model, metadata = trained
    status, out, _ = info(capsys, path, "--json")
    assert status == 0
    document = json.loads(out)
    assert document["architecture"] == architecture_line(model, (16,))
    assert document["parameters"] == model.num_parameters() and document["input_shape"] == [16]
    assert document["accuracy"] == {split: metadata[f"{split}_accuracy"] for split in ("train", "validation", "test")}
    for key in ("dataset", "class_names", "seed", "preset", "created", "nnscratch_version"):
        assert document[key] == metadata[key], key
    assert document["settings"] == metadata["training"]["settings"]
    assert document["history"]["epochs"] == metadata["training"]["history"]["epochs"]
    assert document["history"]["best_epoch"] == metadata["best_epoch"]
    assert document["resumable"] is True, "the file keeps the optimizer's state, for --resume with more epochs"
    assert "rng_state" not in out


def test_a_json_export_reads_the_same(trained, no_data_no_evaluation, tmp_path, capsys):
    path, _, _ = trained
    exported = tmp_path / "toy.json"
    assert main(["export", path, str(exported)]) == 0
    capsys.readouterr()
    from_npz, from_json = (json.loads(info(capsys, file, "--json")[1]) for file in (path, exported))
    differing = sorted(key for key in from_npz if from_npz[key] != from_json[key])
    assert differing == ["file", "resumable"], differing
    assert from_json["resumable"] is False, "an export keeps no optimizer state to resume from"


def test_without_a_validation_set_the_best_epoch_is_the_latest(tmp_path, use_loader, capsys):
    use_loader(toy_loader)
    path = tmp_path / "no-validation.npz"
    assert main(["train", "--layers", "16,8,3", "--epochs", "2", "--validation-size", "0", "--quiet",
                 "--evaluate-train", "--out", str(path)]) == 0
    capsys.readouterr()
    status, out, _ = info(capsys, path)
    assert status == 0
    assert "best epoch 2 (the latest: nothing to monitor without a validation set)" in out, out
    header = out[out.index("Training history"):].splitlines()[1]
    assert header.split() == ["epoch", "loss", "accuracy", "seconds"], header
    accuracy = next(line for line in out.splitlines() if line.startswith("Accuracy"))
    assert accuracy.split()[1::3] == ["train", "test"], accuracy


def test_an_interrupted_run_says_how_to_continue(tmp_path, use_loader, monkeypatch, capsys):
    use_loader(toy_loader)
    original = console.ConsoleProgress.on_batch_end

    def ctrl_c_in_the_third_epoch(self, state):
        original(self, state)
        if state.epoch == 2 and state.step == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(console.ConsoleProgress, "on_batch_end", ctrl_c_in_the_third_epoch)
    path = tmp_path / "stopped.npz"
    assert main(["train", "--layers", "16,8,3", "--epochs", "10", "--batch-size", "20", "--quiet",
                 "--out", str(path)]) == 130
    capsys.readouterr()
    status, out, _ = info(capsys, path)
    assert status == 0
    assert "Training history: 2 of 10 epochs" in out, out
    assert "Stopped during epoch 3" in out
    assert f"Continue with: nnscratch train --resume {path} --epochs 10" in out


def test_a_convolutional_network_without_training_records(tmp_path, capsys):
    rng = np.random.default_rng(0)
    model = Sequential(Conv2D(1, 4, 3, rng=rng), ReLU(), MaxPool2D(2), Flatten(), Linear(4 * 13 * 13, 10, rng=rng))
    path = tmp_path / "cnn.npz"
    save_model(path, model, {"input_shape": [1, 28, 28]})
    status, out, _ = info(capsys, path)
    assert status == 0
    assert "Conv2D (m, 4, 26, 26) --> ReLU --> MaxPool2D (m, 4, 13, 13)" in out.replace("\n                 ", " ")
    assert "Accuracy         not recorded in the file" in out
    assert "Settings         not recorded in the file" in out
    assert "Training history: none in the file" in out


def test_a_recorded_shape_the_network_cannot_take_is_reported(tmp_path, capsys):
    model = Sequential(Linear(784, 10, rng=np.random.default_rng(0)))
    path = tmp_path / "odd.npz"
    save_model(path, model, {"input_shape": [1, 20, 20]})
    status, out, _ = info(capsys, path, "--json")
    document = json.loads(out)
    assert status == 0
    assert document["architecture"] == "784 → 10"
    assert "the recorded input shape (1, 20, 20) does not fit the network" in document["architecture_problem"]
    assert "Linear expected 784 input features" in document["architecture_problem"]


def test_odd_metadata_values_still_give_one_line_each(tmp_path, capsys):
    model = Sequential(Linear(4, 2, rng=np.random.default_rng(0)))
    path = tmp_path / "odd.npz"
    save_model(path, model, {"dataset": "two\nlines", "test_accuracy": "high", "seed": [1, 2],
                             "training": {"settings": "none", "history": {"epochs": [{"epoch": 1, "loss": "x"},
                                                                                     "not a record"]}},
                             "imported_from": "somewhere"})
    status, out, _ = info(capsys, path)
    assert status == 0
    assert "Data set         two lines, input (4,)" in out
    assert "Accuracy         not recorded in the file" in out
    assert "seed [1, 2]" in out and "imported_from    somewhere" in out
    assert "Training history: 1 epochs" in out


@pytest.mark.parametrize("name, content, reason", [
    ("missing.npz", None, "no such model file"),
    ("text.npz", b"hello", "not an nnscratch model file"),
    ("empty.json", b"", "not valid JSON"),
    ("list.json", b"[1, 2]", "expected a JSON object"),
    ("zip.npz", "zip", "not an nnscratch model file"),
])
def test_a_bad_file_is_one_line_and_status_2(tmp_path, capsys, name, content, reason):
    path = tmp_path / name
    if content == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("hello.txt", "hello")
    elif content is not None:
        path.write_bytes(content)
    status, out, err = info(capsys, path)
    assert status == 2 and out == ""
    assert err.startswith(f"nnscratch info: error: {path}") and err.count("\n") == 1, err
    assert reason in err, err


def test_a_folder_is_one_line_and_status_2(tmp_path, capsys):
    status, _, err = info(capsys, tmp_path)
    assert status == 2 and err.count("\n") == 1 and "is a folder" in err, err
