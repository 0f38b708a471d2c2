"""The command line at its edges: memory running out is one line and status 2, Ctrl-C while the modules still
import is status 130 without a traceback, and the progress bar says how long the whole run has left."""
import io
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nnscratch
from nnscratch import cli
from nnscratch.callbacks import TrainingState
from nnscratch.cli.console import ConsoleProgress, time_left
from nnscratch.runs import TrainingData

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOO_LARGE = (1 << 25, 1 << 25)  # 1 PiB of bytes: beyond the address space, so refused at once, never touched


def with_run(command, run):
    """``cli.build_parser`` whose ``command`` runs ``run``."""
    build_parser = cli.build_parser

    def build():
        parser = build_parser()
        choices = next(action.choices for action in parser._actions if action.dest == "command")
        choices[command].set_defaults(run=run)
        return parser
    return build


def test_numpy_running_out_of_memory_is_one_line_with_the_size(monkeypatch, capsys):
    def allocating(args):
        np.empty(TOO_LARGE, dtype=np.uint8)

    monkeypatch.setattr(cli, "build_parser", with_run("presets", allocating))
    assert cli.main(["presets"]) == 2
    err = capsys.readouterr().err
    assert err == ("nnscratch presets: error: not enough memory to run nnscratch presets (an array of 1.00 PiB did "
                   "not fit): try a smaller input\n"), err


def test_a_bare_memory_error_is_one_line_too(monkeypatch, capsys):
    def failing(args):
        raise MemoryError

    monkeypatch.setattr(cli, "build_parser", with_run("evaluate", failing))
    assert cli.main(["evaluate", "model.npz"]) == 2
    assert capsys.readouterr().err == ("nnscratch evaluate: error: not enough memory to evaluate this model: try a "
                                       "smaller model, or a data set of fewer examples\n")


def test_a_network_too_large_to_build_says_what_to_make_smaller(tmp_path, use_loader, capsys):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 16)).astype(np.float32), rng.integers(0, 3, 40)
    use_loader(lambda settings: TrainingData("toy", ["a", "b", "c"], (x, y), (x, y), (x, y)))
    layers = f"16,{10 ** 13},3"  # 1.6e14 weights: petabytes, refused by the allocator before anything is written
    assert cli.main(["train", "--layers", layers, "--epochs", "1", "--quiet", "--out", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert re.fullmatch(r"nnscratch train: error: not enough memory to train this network \(an array of [\d.]+ PiB "
                        r"did not fit\): try a smaller --batch-size, network \(--layers, --hidden\) or --train-size\n",
                        err), err


def test_ctrl_c_while_the_command_modules_import_is_status_130(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["presets"]) == 130
    assert capsys.readouterr().err == "nnscratch: interrupted\n"


def console_script():
    """``(module, function)`` of the ``nnscratch`` console script, as pyproject.toml declares it."""
    text = (ROOT / "pyproject.toml").read_text()  # (tomllib is Python 3.11's; nnscratch runs on 3.10)
    entry = re.search(r'^\[project\.scripts\]\n(?:.*\n)*?nnscratch\s*=\s*"([\w.]+):(\w+)"', text, re.M)
    assert entry, "pyproject.toml declares no nnscratch console script"
    return entry.group(1), entry.group(2)


def test_the_console_script_enters_through_a_module_that_imports_nothing_heavy():
    module, function = console_script()
    assert not module.startswith("nnscratch."), "a module inside nnscratch would run nnscratch/__init__.py first"
    code = (f"import sys; from {module} import {function}; "
            f"print(sorted(name for name in ('numpy', 'nnscratch') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_environment())
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def child_environment():
    source = str(ROOT / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}


@pytest.mark.parametrize("delay", [0.05, 0.1, 0.15, 0.2, 0.3])
def test_ctrl_c_in_the_first_second_prints_no_traceback(tmp_path, delay):
    """The console script as pip writes it (import the entry, call it), interrupted ``delay`` seconds after its
    first line ran: while NumPy and the command modules still import (they take a second or more here), or at
    the latest in the first epoch of a long training run."""
    module, function = console_script()
    code = f"import os, sys; os.write(1, b'started\\n'); from {module} import {function}; sys.exit({function}())"
    command = [sys.executable, "-c", code, "train", "--dataset", "lines", "--layers", "256,16,2", "--epochs",
               "1000", "--quiet", "--out", "model.npz"]
    child = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=child_environment())
    try:
        assert child.stdout.readline() == "started\n"
        time.sleep(delay)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert "Traceback" not in err, err
    assert child.returncode == 130, (child.returncode, out, err)
    assert err.strip().splitlines()[-1] in ("nnscratch: interrupted",
                                            "Stopped by Ctrl-C before the first epoch ended: nothing was saved."), err


def test_a_job_that_ignores_ctrl_c_goes_on_ignoring_it(tmp_path):
    """A shell starts a background job (``nnscratch ... &``) with SIGINT ignored; the entry leaves it so."""
    module, function = console_script()
    code = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); os.write(1, b'started\\n'); "
            f"from {module} import {function}; sys.exit({function}())")
    child = subprocess.Popen([sys.executable, "-c", code, "presets"], cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=child_environment())
    try:
        assert child.stdout.readline() == "started\n"
        time.sleep(0.1)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0 and err == "", err
    assert "cnn-fast" in out, out


def test_python_dash_m_runs_the_command_line():
    result = subprocess.run([sys.executable, "-m", "nnscratch", "--version"], capture_output=True, text=True,
                            env=child_environment())
    assert (result.returncode, result.stdout.strip()) == (0, f"nnscratch {nnscratch.__version__}"), result


def test_an_interrupted_import_reported_as_another_error_still_ends_as_interrupted(monkeypatch, capsys):
    import nnscratch_entry

    def import_that_reports_an_import_error():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler runs here
        except KeyboardInterrupt:  # as NumPy's core does when Ctrl-C interrupts its import of datetime
            raise ImportError('PyCapsule_Import could not import module "datetime"') from None
        raise AssertionError("SIGINT did not interrupt")

    monkeypatch.setattr(cli, "main", import_that_reports_an_import_error)
    previous = signal.getsignal(signal.SIGINT)
    try:
        assert nnscratch_entry.main() == 130
    finally:
        signal.signal(signal.SIGINT, previous)
    assert capsys.readouterr().err == "nnscratch: interrupted\n"


def test_without_a_ctrl_c_an_import_error_keeps_its_traceback(monkeypatch):
    import nnscratch_entry

    def broken():
        raise ImportError("a module of nnscratch is missing")

    monkeypatch.setattr(cli, "main", broken)
    previous = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(ImportError, match="a module of nnscratch is missing"):
            nnscratch_entry.main()
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("seconds, said", [
    (0, "a few seconds left"), (9.9, "a few seconds left"), (10, "about 10 s left"), (44, "about 40 s left"),
    (46, "about 50 s left"), (54.9, "about 50 s left"), (55, "about 1 min left"), (90, "about 2 min left"),
    (150, "about 3 min left"), (3560, "about 59 min left"), (3570, "about 1 h left"), (5400, "about 1 h 30 min left"),
    (7000, "about 1 h 55 min left"), (86400, "about 24 h left"),
])
def test_time_left_is_said_as_a_person_would(seconds, said):
    assert time_left(seconds) == said


class Terminal(io.StringIO):
    """Captured output that says it is a terminal, so that ConsoleProgress draws its bar."""

    def isatty(self):
        return True


def run_epochs(progress, state, clock, epochs, batch_seconds, after_epoch_seconds=0.0):
    """Drive ``progress`` through ``epochs`` epochs as ``fit`` does, ``clock`` advancing ``batch_seconds`` a batch
    and ``after_epoch_seconds`` after each epoch's end (validation, checkpoints); returns each bar's first text."""
    shown = []
    for _ in range(epochs):
        state.step = 0
        before = len(progress.out.getvalue())
        progress.on_epoch_begin(state)
        shown.append(progress.out.getvalue()[before:])
        for step in range(1, state.steps + 1):
            clock[0] += batch_seconds
            state.step, state.batch_loss = step, 0.5
            progress.on_batch_end(state)
        state.record = {"epoch": state.epoch + 1, "loss": 0.5, "accuracy": 0.9, "seconds": 1.0}
        progress.on_epoch_end(state)
        clock[0] += after_epoch_seconds
        state.epoch += 1
    return shown


def fake_state(first_epoch=0, last_epoch=10, steps=5):
    state = TrainingState(model=None, optimizer=None, loss=None, history=None, first_epoch=first_epoch,
                          last_epoch=last_epoch, batch_size=32, steps=steps)
    state.epoch = first_epoch
    return state


def test_the_bar_says_the_time_left_for_the_whole_run_from_the_second_epoch():
    clock = [100.0]
    progress = ConsoleProgress(10, out=Terminal(), clock=lambda: clock[0])
    state = fake_state()
    progress.on_train_begin(state)
    shown = run_epochs(progress, state, clock, epochs=3, batch_seconds=10.0, after_epoch_seconds=10.0)
    assert "Epoch 1/10" in shown[0] and "left" not in shown[0], shown[0]
    assert "Epoch 2/10, about 9 min left" in shown[1], shown[1]   # 60 s an epoch, validation included; 9 to go
    assert "Epoch 3/10, about 8 min left" in shown[2], shown[2]


def test_the_time_left_counts_down_within_an_epoch():
    clock = [0.0]
    progress = ConsoleProgress(10, out=Terminal(), clock=lambda: clock[0])
    state = fake_state(steps=100)
    progress.on_train_begin(state)
    run_epochs(progress, state, clock, epochs=2, batch_seconds=0.6)   # 60 s an epoch
    progress.on_epoch_begin(state)
    for step in range(1, 52):
        clock[0] += 0.6
        state.step = step
        progress.on_batch_end(state)
    # 8 epochs of 60 s to go, this one's first 30.6 s spent: 449.4 s
    assert progress.bar.desc.startswith("Epoch 3/10, about 7 min left"), progress.bar.desc
    progress.on_train_end(state)


def test_a_resumed_run_estimates_from_its_own_epochs():
    clock = [0.0]
    progress = ConsoleProgress(10, out=Terminal(), clock=lambda: clock[0])
    state = fake_state(first_epoch=4)
    progress.on_train_begin(state)
    shown = run_epochs(progress, state, clock, epochs=2, batch_seconds=6.0)   # 30 s an epoch
    assert "Epoch 5/10" in shown[0] and "left" not in shown[0], shown[0]
    assert "Epoch 6/10, about 3 min left" in shown[1], shown[1]   # 5 epochs of 30 s


def test_quiet_progress_has_no_bar_and_no_estimate():
    clock = [0.0]
    out = Terminal()
    progress = ConsoleProgress(3, quiet=True, out=out, clock=lambda: clock[0])
    state = fake_state(last_epoch=3)
    progress.on_train_begin(state)
    run_epochs(progress, state, clock, epochs=3, batch_seconds=10.0)
    lines = out.getvalue().splitlines()
    assert [line.split(" | ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"], lines
    assert "left" not in out.getvalue()
