"""`nnscratch train` never silently replaces a better model, never races another run for one file, saves on
SIGTERM and SIGHUP as on Ctrl-C, leaves a checkpoint that `--resume` continues after a hard kill, and keeps the
trained model somewhere when the destination's disk is full."""
import errno
import os
import re
import signal
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from nnscratch import cli
from nnscratch.runs import TrainingData
from nnscratch.runs import run as run_module
from nnscratch.runs.guard import Claim
from nnscratch.serialization import load_model
from tests.cli.test_train import TINY, blobs, ctrl_c_at


@pytest.fixture
def toy(use_loader):
    def load(settings):
        rng = np.random.default_rng(0)
        train, validation, test = blobs(300, rng), blobs(100, rng), blobs(100, rng)
        return TrainingData("toy", ["a", "b", "c"], train, validation, test)
    use_loader(load)


def train(out, *argv):
    return cli.main(["train", *TINY, "--out", str(out), *argv])


def validation_accuracy(path):
    _, metadata = load_model(path)
    return metadata["validation_accuracy"]


# A weak run, above chance: one epoch at a learning rate too small to separate the classes well.
WEAK = ["--epochs", "1", "--lr", "0.015"]


def test_a_worse_run_is_saved_beside_the_better_model_and_says_so(tmp_path, toy, capsys):
    out = tmp_path / "m.npz"
    assert train(out) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert train(out, *WEAK) == 0
    printed = capsys.readouterr().out
    assert out.read_bytes() == before
    assert f"Kept {out}: holds a better model" in printed and f"this run is saved as {tmp_path / 'm.1.npz'}" in printed
    assert "(pass --force to replace it)" in printed, printed
    assert validation_accuracy(tmp_path / "m.1.npz") < validation_accuracy(out)
    assert (tmp_path / "m.1.history.json").exists()
    assert train(out, *WEAK) == 0  # the next one takes the next free number
    assert (tmp_path / "m.2.npz").exists() and out.read_bytes() == before


def test_a_better_run_replaces_the_model_and_says_what_it_replaced(tmp_path, toy, capsys):
    out = tmp_path / "m.npz"
    assert train(out, *WEAK) == 0
    weak = validation_accuracy(out)
    capsys.readouterr()
    assert train(out) == 0
    printed = capsys.readouterr().out
    assert f"This run replaces {out}, which was no better" in printed, printed
    assert validation_accuracy(out) > weak and not (tmp_path / "m.1.npz").exists()


def test_force_replaces_even_a_better_model(tmp_path, toy, capsys):
    out = tmp_path / "m.npz"
    assert train(out) == 0
    strong = validation_accuracy(out)
    assert train(out, *WEAK, "--force") == 0
    assert validation_accuracy(out) < strong and not (tmp_path / "m.1.npz").exists()


def test_ctrl_c_in_epoch_two_never_replaces_a_longer_trained_model(tmp_path, toy, capsys):
    out = tmp_path / "m.npz"
    assert train(out, "--epochs", "6") == 0
    before = out.read_bytes()
    with ctrl_c_at(epoch=1, step=3):
        assert train(out, "--epochs", "6", "--lr", "0.015") == 130
    assert out.read_bytes() == before
    _, metadata = load_model(tmp_path / "m.1.npz")
    assert metadata["epochs_trained"] == 1


def test_a_file_that_is_not_a_model_is_never_replaced(tmp_path, toy, capsys):
    out = tmp_path / "m.npz"
    out.write_bytes(b"someone's file")
    assert train(out) == 0
    assert out.read_bytes() == b"someone's file"
    assert "does not say how good it is" in capsys.readouterr().out
    load_model(tmp_path / "m.1.npz")


def test_a_second_run_aimed_at_the_same_file_is_refused_while_the_first_runs(tmp_path, toy, capsys):
    out = tmp_path / "m.npz"
    holder = Claim(str(out))  # what a run in another process holds while it trains
    try:
        assert train(out) == 2
    finally:
        holder.release()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"another run (process {os.getpid()}) is writing {out}" in err, err
    assert "choose another --out" in err and not out.exists()
    assert train(out) == 0  # once the first has ended, the file is free again


# ---- real processes, real signals ------------------------------------------------------------------------------

LONG = ["train", "--dataset", "lines", "--train-size", "2000", "--validation-size", "200", "--layers", "256,8,2",
        "--epochs", "500", "--batch-size", "50", "--lr", "0.05", "--print-every", "1", "--quiet"]


def start(argv):
    return subprocess.Popen([sys.executable, "-m", "nnscratch", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_epoch(process, epoch):
    """Read the run's output up to the line of ``epoch`` (the line is printed once the epoch has ended)."""
    for line in process.stdout:
        if re.match(rf"Epoch +{epoch}/", line):
            return
    process.kill()
    pytest.fail(f"the run ended before epoch {epoch}: {process.stderr.read()}")


@pytest.mark.parametrize("number, status, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP")])
def test_sigterm_and_sighup_save_the_run_as_ctrl_c_does(tmp_path, number, status, name):
    out = tmp_path / "m.npz"
    process = start([*LONG, "--out", str(out)])
    wait_for_epoch(process, 3)
    process.send_signal(number)
    printed, err = process.communicate(timeout=60)
    assert process.returncode == status, err
    assert "Traceback" not in err and f"Stopped by {name}" in printed, printed + err
    _, metadata = load_model(out)
    assert metadata["epochs_trained"] >= 3
    assert f"Continue with: nnscratch train --resume {out} --epochs 500" in printed


def test_a_second_process_aimed_at_a_file_in_use_is_refused(tmp_path):
    out = tmp_path / "m.npz"
    first = start([*LONG, "--out", str(out)])
    try:
        wait_for_epoch(first, 1)
        second = start([*LONG, "--out", str(out)])
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2 and f"another run (process {first.pid}) is writing {out}" in err, err
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    load_model(out)  # the first run's file, whole


def test_a_killed_run_leaves_a_checkpoint_that_resume_continues_exactly(tmp_path):
    out, checkpoint = tmp_path / "m.npz", tmp_path / "m.checkpoint.npz"
    short = [*LONG[:LONG.index("--epochs")], "--epochs", "6", *LONG[LONG.index("--epochs") + 2:]]
    process = start([*LONG, "--out", str(out)])
    wait_for_epoch(process, 4)
    process.kill()  # no chance to save anything: a power cut, an out-of-memory kill
    process.communicate(timeout=60)
    assert not out.exists() and checkpoint.exists()
    _, metadata = load_model(checkpoint)
    done = metadata["epochs_trained"]
    assert done >= 3

    again = subprocess.run([sys.executable, "-m", "nnscratch", *short, "--out", str(out)], capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 2 and f"{checkpoint} holds an unfinished run aimed at {out}" in again.stderr

    resumed = subprocess.run([sys.executable, "-m", "nnscratch", "train", "--resume", str(checkpoint),
                              "--epochs", str(done + 2), "--quiet"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert not checkpoint.exists() and not (tmp_path / "m.checkpoint.history.json").exists()  # saved whole
    unbroken = subprocess.run([sys.executable, "-m", "nnscratch", *LONG[:LONG.index("--epochs")], "--epochs",
                               str(done + 2), *LONG[LONG.index("--epochs") + 2:], "--out", str(tmp_path / "u.npz")],
                              capture_output=True, text=True, timeout=120)
    assert unbroken.returncode == 0, unbroken.stderr
    model, _ = load_model(out)
    reference, _ = load_model(tmp_path / "u.npz")
    for name, array in reference.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], array, err_msg=name)


# ---- a full disk ----------------------------------------------------------------------------------------------

def fail_for(target, monkeypatch):
    """Writing ``target`` (not a checkpoint, not elsewhere) fails as on a full disk."""
    real_save = run_module.save_model

    def save(path, *args, **kwargs):
        if os.path.abspath(path) == os.path.abspath(target):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr(run_module, "save_model", save)


def test_a_full_disk_names_the_file_and_keeps_the_model_in_the_temporary_folder(tmp_path, toy, capsys,
                                                                                 monkeypatch):
    out = tmp_path / "m.npz"
    fail_for(out, monkeypatch)
    assert train(out) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"cannot write {out} (No space left on device); the trained model is kept in " in err, err
    kept = err.split("kept in ")[1].split(" (its history")[0]
    assert kept.startswith(os.path.join(tempfile.gettempdir(), "nnscratch-rescued-")), kept
    _, metadata = load_model(kept)
    assert metadata["epochs_trained"] == 3 and not out.exists()


def test_when_not_even_the_model_fits_the_history_is_kept(tmp_path, toy, capsys, monkeypatch):
    out = tmp_path / "m.npz"

    def no_room(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(run_module, "save_model", no_room)
    assert train(out) == 1
    err = capsys.readouterr().err
    assert f"cannot write {out} (No space left on device); not even the model fitted" in err, err
    history = err.split("its history is in ")[1].strip()
    assert os.path.exists(history) and '"epochs"' in open(history).read()


def test_a_symlinked_out_stays_a_link_and_its_target_gets_the_model(tmp_path, toy, capsys):
    (tmp_path / "store").mkdir()
    target, link = tmp_path / "store" / "m.npz", tmp_path / "m.npz"
    assert train(target, *WEAK) == 0
    link.symlink_to(target)
    assert train(link) == 0  # better: it replaces the weak model, through the link
    assert link.is_symlink() and validation_accuracy(target) > 0.9
