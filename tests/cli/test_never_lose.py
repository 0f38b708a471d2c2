"""`nnscratch train` never loses a finished run: the destination is checked first, the model is saved before it
is evaluated and through a second Ctrl-C, a broken pipe or a narrow terminal encoding cannot lose it, and a
diverged or chance-level run never replaces a model that is already there."""
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from nnscratch import cli
from nnscratch.runs import TrainingData
from nnscratch.runs import run as run_module
from nnscratch.serialization import load_model
from tests.cli.test_train import TINY, blobs


@pytest.fixture
def toy(use_loader):
    def load(settings):
        rng = np.random.default_rng(0)
        train, validation, test = blobs(300, rng), blobs(100, rng), blobs(100, rng)
        return TrainingData(
            "toy", ["a", "b", "c"], train, validation if settings["validation_size"] else None, test)
    use_loader(load)


def train(*argv):
    return cli.main(["train", *TINY, *argv])


@pytest.mark.parametrize("make_out, reason", [
    (lambda tmp: tmp / "folder.npz", "it is a folder"),
    (lambda tmp: tmp / "file.png" / "m.npz", "is a file, not a folder"),
    (lambda tmp: tmp / "m.json", "must end in .npz, not .json"),
    (lambda tmp: tmp / "m.txt", "must end in .npz, not .txt"),
])
def test_an_unwritable_destination_is_refused_before_the_data_is_loaded(tmp_path, capsys, use_loader, make_out,
                                                                        reason):
    (tmp_path / "folder.npz").mkdir()
    (tmp_path / "file.png").write_bytes(b"not a folder")
    use_loader(lambda settings: pytest.fail("the data was loaded"))
    out = make_out(tmp_path)
    assert train("--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out) in err and reason in err, err


def test_a_second_ctrl_c_during_the_save_still_leaves_the_model(tmp_path, toy, capsys, monkeypatch):
    real_save = run_module.save_model

    def save_interrupted(path, *args, **kwargs):
        if not str(path).endswith(".checkpoint.npz"):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives while the model file is being written
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr(run_module, "save_model", save_interrupted)
    assert train("--out", str(tmp_path / "m.npz")) == 130
    captured = capsys.readouterr()
    assert "the model is saved in" in captured.err
    model, metadata = load_model(tmp_path / "m.npz")
    assert metadata["epochs_trained"] == 3


def test_the_model_is_saved_before_the_evaluation_and_survives_ctrl_c_there(tmp_path, toy, capsys, monkeypatch):
    def evaluate_interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "evaluate", evaluate_interrupted)
    assert train("--out", str(tmp_path / "m.npz")) == 130
    assert "Interrupted while evaluating; the model is saved in" in capsys.readouterr().err
    load_model(tmp_path / "m.npz")


def test_an_exploding_loss_is_divergence_and_the_existing_model_stays(tmp_path, toy, capsys):
    assert train("--out", str(tmp_path / "m.npz")) == 0
    before = (tmp_path / "m.npz").read_bytes()
    capsys.readouterr()
    assert train("--out", str(tmp_path / "m.npz"), "--lr", "1e9", "--optimizer", "adam") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training diverged" in err and "learning rate 1e+09" in err, err
    assert "RuntimeWarning" not in err
    assert (tmp_path / "m.npz").read_bytes() == before


def test_a_model_at_chance_never_replaces_an_existing_one(tmp_path, use_loader, capsys):
    def noise(settings):  # labels that have nothing to do with the inputs: accuracy stays at chance
        from nnscratch.runs import TrainingData
        rng = np.random.default_rng(1)
        split = lambda n: (rng.normal(size=(n, 16)).astype(np.float32), rng.integers(0, 3, n))  # noqa: E731
        return TrainingData("noise", ["a", "b", "c"], split(300), split(300), split(100))

    (tmp_path / "m.npz").write_bytes(b"the user's earlier model")
    use_loader(noise)
    assert train("--out", str(tmp_path / "m.npz")) == 2
    err = capsys.readouterr().err
    assert "no better than chance" in err and "m.rejected.npz" in err, err
    assert (tmp_path / "m.npz").read_bytes() == b"the user's earlier model"
    load_model(tmp_path / "m.rejected.npz")


@pytest.mark.parametrize("argv, message", [
    (["--momentum", "1"], "--momentum must be in [0, 1), got 1.0"),
    (["--momentum", "-0.1"], "--momentum must be in [0, 1), got -0.1"),
    (["--augment", "9"], "--augment must be 0 to 8 pixels (or 'affine' or 'elastic'), got 9"),
    (["--epochs", "1.5"], "--epochs expects a whole number, got '1.5'"),
    (["--seed", "-1"], "--seed must be >= 0, got -1"),
    (["--validation-size", "-1"], "--validation-size must be >= 0, got -1"),
    (["--lr", "nan"], "--lr expects a finite number, got 'nan'"),
])
def test_out_of_range_settings_get_one_line_naming_the_flag(tmp_path, capsys, argv, message):
    assert train("--out", str(tmp_path / "m.npz"), *argv) == 2
    err = capsys.readouterr().err
    assert err == f"nnscratch train: error: {message}\n"


def test_resume_from_a_json_export_says_it_holds_no_optimizer_state(tmp_path, capsys):
    (tmp_path / "m.json").write_text("{}")
    assert cli.main(["train", "--resume", str(tmp_path / "m.json")]) == 2
    assert "JSON export, which holds no optimizer state" in capsys.readouterr().err


LINES = ["train", "--dataset", "lines", "--train-size", "300", "--validation-size", "100", "--layers",
         "256,8,2", "--epochs", "3", "--batch-size", "10", "--lr", "0.05"]


def run_cli(argv, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "nnscratch", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


def test_a_broken_pipe_ends_quietly_and_the_model_is_saved(tmp_path):
    process = run_cli([*LINES, "--out", str(tmp_path / "m.npz")])
    process.stdout.readline()  # like `| head -1`
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    load_model(tmp_path / "m.npz")


def test_a_terminal_that_cannot_print_unicode_gets_ascii(tmp_path):
    env = {**os.environ, "PYTHONIOENCODING": "cp1252"}
    process = run_cli([*LINES, "--out", str(tmp_path / "m.npz")], env=env)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    assert b"UnicodeEncodeError" not in err and b"Traceback" not in err
    out.decode("cp1252")  # every byte is cp1252
    assert b"Saved the model to" in out and b"|" in out
    load_model(tmp_path / "m.npz")
