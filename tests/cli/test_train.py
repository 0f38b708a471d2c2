"""`nnscratch train`, `evaluate` and `presets` end to end through cli.main, on tiny synthetic data."""
import json
import re
from contextlib import contextmanager

import numpy as np
import pytest

from nnscratch import cli
from nnscratch.cli import console
from nnscratch.cli.console import epoch_line, percent, results_table
from nnscratch.runs import TrainingData
from nnscratch.serialization import load_model, save_model
from nnscratch.training import Evaluation


def blobs(n, rng, features=16, classes=3):
    """Three well separated clusters: class c has mean 2 in feature block c."""
    y = rng.integers(0, classes, n)
    x = rng.normal(0.0, 0.5, (n, features)).astype(np.float32)
    x[np.arange(n), y] += 3.0
    return x, y.astype(np.int64)


@pytest.fixture
def toy_data(use_loader):
    """Replace the data loader by 300 / 100 / 100 synthetic examples of 16 features and 3 classes."""
    requests = []

    def load(settings):
        requests.append(dict(settings))
        rng = np.random.default_rng(0)
        train, validation, test = blobs(300, rng), blobs(100, rng), blobs(100, rng)
        if settings.get("train_size"):
            train = (train[0][:settings["train_size"]], train[1][:settings["train_size"]])
        return TrainingData("toy", ["a", "b", "c"], train,
                                   validation if settings["validation_size"] else None, test)

    use_loader(load)
    return requests


TINY = ["--layers", "16,8,3", "--epochs", "3", "--batch-size", "20", "--lr", "0.1", "--quiet"]


@contextmanager
def ctrl_c_at(epoch, step):
    """Ctrl-C after batch ``step`` of epoch ``epoch`` (both counted from 0), for the commands run in the block."""
    original = console.ConsoleProgress.on_batch_end

    def interrupting(self, state):
        original(self, state)
        if (state.epoch, state.step - 1) == (epoch, step):
            raise KeyboardInterrupt

    console.ConsoleProgress.on_batch_end = interrupting
    try:
        yield
    finally:
        console.ConsoleProgress.on_batch_end = original


def cut_four_epochs(flags, out, cut):
    """A run of 4 epochs cut short: stopped "after epoch 2", or by a "ctrl-c in epoch 3"."""
    if cut == "after epoch 2":
        assert cli.main(["train", *flags, "--epochs", "2", "--out", str(out)]) == 0
    else:
        with ctrl_c_at(epoch=2, step=1):
            assert cli.main(["train", *flags, "--epochs", "4", "--out", str(out)]) == 130


def resume_to_four_epochs(out, reference, capsys):
    """Resume the cut run to 4 epochs and check every saved array against the unbroken run's ``reference``."""
    assert cli.main(["train", "--resume", str(out), "--epochs", "4", "--quiet"]) == 0
    assert "Training for 2 epochs (from epoch 3)" in capsys.readouterr().out
    resumed = saved_arrays(out)
    assert sorted(resumed) == sorted(reference)
    for key, value in reference.items():
        np.testing.assert_array_equal(resumed[key], value, err_msg=key)


def train(tmp_path, *extra):
    return cli.main(["train", *TINY, "--out", str(tmp_path / "m.npz"), *extra])


def test_train_prints_banner_epoch_lines_and_table_and_saves(tmp_path, toy_data, capsys):
    assert train(tmp_path) == 0
    out = capsys.readouterr().out
    assert "Input (m, 16) --> Linear (m, 8) --> ReLU --> Linear (m, 3) --> Output (m, 3)" in out
    assert "train (300, 16) labels (300,)" in out
    lines = [line for line in out.splitlines() if line.startswith("Epoch ")]
    assert len(lines) == 3, out
    pattern = (r"Epoch [123]/3 \| loss \d+\.\d{4}  accuracy \d+\.\d\d % \| validation loss \d+\.\d{4}  "
               r"\d+ / 100 \(\d+\.\d\d %\) \| \d+\.\d s")
    for line in lines:
        assert re.fullmatch(pattern, line), line
    assert re.search(r"│ Test\s+│ \d\.\d{4} │ \d+ / 100\s+│ \d+\.\d\d %", out), out
    model, metadata = load_model(tmp_path / "m.npz")
    assert metadata["dataset"] == "toy" and metadata["input_shape"] == [16]
    assert metadata["test_accuracy"] > 0.9, "three separated clusters should be learnt in three epochs"
    history = json.loads((tmp_path / "m.history.json").read_text())
    assert [record["epoch"] for record in history["history"]["epochs"]] == [1, 2, 3]
    assert history["settings"]["layers"] == [16, 8, 3] and history["timings"]["total_seconds"] > 0
    assert history["results"]["test"]["accuracy"] == metadata["test_accuracy"]


def test_flags_override_the_preset(tmp_path, toy_data, capsys):
    assert cli.main(["train", "--preset", "nielsen", "--layers", "16,5,3", "--epochs", "1", "--quiet",
                     "--out", str(tmp_path / "m.npz")]) == 0
    settings = toy_data[0]
    assert settings["lr"] == 3.0 and settings["loss"] == "quadratic" and settings["batch_size"] == 10
    assert settings["epochs"] == 1 and settings["layers"] == [16, 5, 3]
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch 1/1"))
    assert re.search(r"\| test \d+ / 100 \(\d+\.\d\d %\) \|", line), line


def test_evaluate_before_and_after(tmp_path, toy_data, capsys):
    assert train(tmp_path, "--evaluate-before") == 0
    out = capsys.readouterr().out
    before = re.search(r"Before training: test accuracy (\d+) / 100", out)
    after = re.search(r"After training: test accuracy (\d+) / 100", out)
    assert before and after and int(after.group(1)) > int(before.group(1)), out


def test_full_batch_and_no_shuffle(tmp_path, toy_data, capsys):
    assert train(tmp_path, "--batch-size", "full", "--no-shuffle", "--epochs", "2") == 0
    assert toy_data[0]["batch_size"] == "full" and toy_data[0]["shuffle"] is False


def test_same_seed_same_model(tmp_path, toy_data):
    assert train(tmp_path, "--out", str(tmp_path / "a.npz")) == 0
    assert train(tmp_path, "--out", str(tmp_path / "b.npz")) == 0
    a, _ = load_model(tmp_path / "a.npz")
    b, _ = load_model(tmp_path / "b.npz")
    for key, value in a.state_dict().items():
        np.testing.assert_array_equal(value, b.state_dict()[key], err_msg=key)


def test_resume_continues_where_it_stopped(tmp_path, toy_data, capsys):
    one_go = tmp_path / "one.npz"
    assert cli.main(["train", *TINY, "--epochs", "4", "--optimizer", "adam", "--lr", "0.01",
                     "--validation-size", "0", "--out", str(one_go)]) == 0
    split = tmp_path / "split.npz"
    assert cli.main(["train", *TINY, "--epochs", "2", "--optimizer", "adam", "--lr", "0.01",
                     "--validation-size", "0", "--out", str(split)]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(split), "--epochs", "4", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Training for 2 epochs (from epoch 3)" in out
    assert [line.split(" |")[0] for line in out.splitlines() if line.startswith("Epoch")] == ["Epoch 3/4",
                                                                                            "Epoch 4/4"]
    resumed, metadata = load_model(split)
    assert metadata["epochs_trained"] == 4
    reference, _ = load_model(one_go)
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[key], value, err_msg=key)


def test_resume_a_finished_run_asks_for_more_epochs(tmp_path, toy_data, capsys):
    assert train(tmp_path) == 0
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(tmp_path / "m.npz")]) == 2
    assert "already trained for 3 epochs" in capsys.readouterr().err


def test_ctrl_c_saves_best_model_and_history(tmp_path, toy_data, capsys):
    with ctrl_c_at(epoch=1, step=3):
        assert train(tmp_path) == 130
    out = capsys.readouterr().out
    assert "Stopped by Ctrl-C during epoch 2" in out and f"Saved the model to {tmp_path / 'm.npz'}" in out
    _, metadata = load_model(tmp_path / "m.npz")
    assert metadata["epochs_trained"] == 1 and metadata["best_epoch"] == 1
    assert len(json.loads((tmp_path / "m.history.json").read_text())["history"]["epochs"]) == 1


def test_resume_after_ctrl_c_matches_an_uninterrupted_run(tmp_path, toy_data, capsys):
    flags = [*TINY, "--epochs", "4", "--optimizer", "adam", "--lr", "0.01", "--validation-size", "0"]
    assert cli.main(["train", *flags, "--out", str(tmp_path / "one.npz")]) == 0
    with ctrl_c_at(epoch=2, step=5):
        assert cli.main(["train", *flags, "--out", str(tmp_path / "cut.npz")]) == 130
    assert cli.main(["train", "--resume", str(tmp_path / "cut.npz"), "--quiet"]) == 0
    assert "Training for 2 epochs (from epoch 3)" in capsys.readouterr().out
    resumed, _ = load_model(tmp_path / "cut.npz")
    reference, _ = load_model(tmp_path / "one.npz")
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[key], value, err_msg=key)


def saved_arrays(path):
    """Every entry of a model file but its JSON (which holds dates and timings), and the architecture (a loaded
    model's initialiser names need not be the constructor's)."""
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files if key not in ("metadata", "architecture")}


@pytest.mark.parametrize("cut", ["after epoch 2", "ctrl-c in epoch 3"])
def test_resume_with_validation_gives_the_files_of_an_unbroken_run(tmp_path, toy_data, capsys, cut):
    """The best epoch (by validation accuracy) is the 2nd, not the last: the resumed run must go on from the
    last epoch's weights, and still end with the best epoch's, exactly as the unbroken run does."""
    flags = [*TINY, "--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.9", "--train-size", "60", "--seed", "12"]
    assert cli.main(["train", *flags, "--epochs", "4", "--out", str(tmp_path / "one.npz")]) == 0
    reference = saved_arrays(tmp_path / "one.npz")
    _, one_metadata = load_model(tmp_path / "one.npz")
    assert one_metadata["best_epoch"] == 2 and one_metadata["epochs_trained"] == 4, "the test needs a best " \
        f"epoch before the last, got best {one_metadata['best_epoch']} of {one_metadata['epochs_trained']}"
    best, last = reference["param.0.W"], reference["optimizer.resume.0.W"]
    assert not np.array_equal(best, last), "the best and the last epoch's weights should differ"
    cut_four_epochs(flags, tmp_path / "cut.npz", cut)
    resume_to_four_epochs(tmp_path / "cut.npz", reference, capsys)
    _, metadata = load_model(tmp_path / "cut.npz")
    for key in ("best_epoch", "epochs_trained", "validation_accuracy", "test_accuracy"):
        assert metadata[key] == one_metadata[key], f"{key}: resumed {metadata[key]}, unbroken {one_metadata[key]}"
    without_seconds = [{**record, "seconds": None} for record in metadata["training"]["history"]["epochs"]]
    assert without_seconds == [{**record, "seconds": None}
                               for record in one_metadata["training"]["history"]["epochs"]]


def test_evaluate_prints_accuracy_precision_recall_and_confusion(tmp_path, toy_data, capsys):
    assert train(tmp_path) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    _, metadata = load_model(tmp_path / "m.npz")
    correct = round(metadata["test_accuracy"] * 100)
    assert f"Accuracy  {correct} / 100 ({percent(correct / 100)})" in out
    assert re.search(r"class\s+precision\s+recall\s+examples", out)
    assert "Confusion matrix (rows: true class, columns: predicted class)" in out
    matrix = [line.split()[1:] for line in out.splitlines() if re.match(r"[abc]\s+\d+\s+\d+\s+\d+$", line)]
    assert len(matrix) == 3 and sum(int(row[i]) for i, row in enumerate(matrix)) == correct


def test_presets_lists_every_preset(capsys):
    from nnscratch.presets import PRESETS
    assert cli.main(["presets"]) == 0
    out = capsys.readouterr().out
    for name, _preset in PRESETS.items():
        assert re.search(rf"^{re.escape(name)}\s", out, re.M), name
    assert cli.main(["presets", "nielsen"]) == 0
    assert "lr" in capsys.readouterr().out


def test_epoch_line_format():
    record = {"epoch": 3, "loss": 0.123456, "accuracy": 0.9, "val_loss": 0.2, "val_accuracy": 0.9421,
              "val_correct": 9421, "val_total": 10000, "seconds": 1.234}
    record.update(test_loss=0.1, test_accuracy=0.9, test_correct=9000, test_total=10000)
    assert epoch_line(record, 15) == (
        "Epoch  3/15 | loss 0.1235  accuracy 90.00 % | validation loss 0.2000  9421 / 10000 (94.21 %) | "
        "test 9000 / 10000 (90.00 %) | 1.2 s")


def test_results_table_prints_percentages_cleanly():
    table = results_table([("Training", Evaluation(0.25, 0.9248, 46240, 50000))])
    assert "92.48 %" in table and "46240 / 50000" in table and "0.2500" in table
    assert "92.4799" not in table and table.startswith("╒")


@pytest.mark.parametrize("argv, message", [
    (["--preset", "nope"], "unknown preset 'nope'; known: nielsen"),
    (["--lr", "-0.5"], "--lr must be positive, got -0.5"),
    (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--batch-size", "many"], "--batch-size expects a number or 'full'"),
    (["--layers", "784,100,10"], "--layers 784,100,10 takes 784 inputs per example, but toy examples have 16"),
    (["--layers", "16,4,7"], "has 7 outputs, but toy has 3 classes"),
    (["--layers", "16,x"], "--layers expects sizes like 784,100,10"),
    (["--activation", "swish"], "--activation must be one of sigmoid, tanh, relu, leaky_relu, got 'swish'"),
    (["--dropout", "1.5"], "--dropout must be in [0, 1)"),
    (["--patience", "2", "--validation-size", "0"],
     "--patience needs a validation set: --validation-size must be > 0"),
])
def test_bad_training_input_is_one_line_and_status_2(tmp_path, toy_data, capsys, argv, message):
    assert cli.main(["train", *TINY, "--out", str(tmp_path / "m.npz"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnscratch train: error: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_patience_without_validation_fails_before_loading_data(tmp_path, toy_data, capsys):
    assert train(tmp_path, "--patience", "2", "--validation-size", "0") == 2
    captured = capsys.readouterr()
    assert toy_data == [], "the settings should be refused before any data is loaded"
    assert captured.out == "", f"nothing (no banner) should be printed before the error, got:\n{captured.out}"


def test_unknown_dataset_lists_every_choice_lines_included(tmp_path, capsys):
    assert train(tmp_path, "--dataset", "mnits") == 2
    err = capsys.readouterr().err
    assert err.startswith("nnscratch train: error: --dataset must be one of mnist, fashion-mnist"), err
    assert err.count("\n") == 1, err
    assert "or lines, got 'mnits'" in err, err


def test_missing_and_corrupt_model_files(tmp_path, toy_data, capsys):
    assert cli.main(["evaluate", str(tmp_path / "absent.npz")]) == 2
    assert "no such model file" in capsys.readouterr().err
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    assert cli.main(["evaluate", str(tmp_path / "bad.npz")]) == 2
    err = capsys.readouterr().err
    assert "not an nnscratch model file" in err and err.count("\n") == 1
    assert cli.main(["train", "--resume", str(tmp_path / "bad.npz")]) == 2
    assert "not an nnscratch model file" in capsys.readouterr().err


def test_model_for_another_input_size(tmp_path, toy_data, capsys):
    from nnscratch import Network
    save_model(tmp_path / "wide.npz", Network([20, 3], rng=0), {"dataset": "toy"})
    assert cli.main(["evaluate", str(tmp_path / "wide.npz")]) == 2
    err = capsys.readouterr().err
    assert "takes 20 inputs per example, but toy examples have 16 values" in err and err.count("\n") == 1


def test_the_input_shape_of_a_model_from_its_metadata_or_its_first_dense_layer():
    from nnscratch.layers import Dropout, Linear, ReLU
    from nnscratch.network import Sequential
    from nnscratch.serialization import input_shape_of
    model = Sequential(Dropout(0.5), Linear(4, 3), ReLU(), Linear(3, 2))
    assert input_shape_of(model, {}) == (4,)
    assert input_shape_of(model, {"input_shape": [1, 2, 2]}) == (1, 2, 2)
    assert input_shape_of(Sequential(ReLU()), {}) is None


def test_the_training_set_is_measured_again_only_when_asked(tmp_path, toy_data, capsys):
    assert train(tmp_path) == 0
    out = capsys.readouterr().out
    assert "│ Validation │" in out and "│ Test " in out and "│ Train " not in out, out
    assert "train_accuracy" not in load_model(tmp_path / "m.npz")[1]
    assert cli.main(["train", *TINY, "--out", str(tmp_path / "t.npz"), "--evaluate-train"]) == 0
    assert "│ Train " in capsys.readouterr().out
    assert 0 < load_model(tmp_path / "t.npz")[1]["train_accuracy"] <= 1
