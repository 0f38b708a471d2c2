"""Sweeps whose trials fail, and how many workers a sweep starts: a failed trial is nnscratch's one line with its
error (no Optuna warning, no traceback), a sweep where every trial failed exits 1 with a one-line summary,
``--workers`` below 1 is refused, and no more workers start than there are trials left. Trials train on the
``lines`` data set for one epoch (a diverging learning rate makes them fail), or run a tiny function of their own."""
import multiprocessing
import os
import subprocess
import sys

import pytest

optuna = pytest.importorskip("optuna", reason="sweeps need Optuna: pip install nnscratch[sweep]")

from nnscratch.cli import main  # noqa: E402
from nnscratch.sweep import runner, sweep  # noqa: E402

DIVERGING = ["--preset", "lines", "--train-size", "300", "--validation-size", "200", "--batch-size", "1",
             "--epochs", "1", "--sampler", "grid"]


def run_cli(*args):
    """``nnscratch ARGS`` in a process of its own, so that everything it and its workers print is caught."""
    done = subprocess.run([sys.executable, "-m", "nnscratch", *args], capture_output=True, text=True, timeout=240)
    return done.returncode, done.stdout, done.stderr


def assert_no_optuna_noise(text):
    assert "Traceback" not in text, f"a traceback was printed:\n{text}"
    warnings = [line for line in text.splitlines() if line.startswith("[W ") or "failed with parameters" in line]
    assert not warnings, f"Optuna's own warnings were printed: {warnings}"


def trial_lines(text):
    return [line for line in text.splitlines() if line.startswith("trial ")]


def test_a_sweep_where_every_trial_diverged_exits_1_with_one_line_per_trial_and_a_summary(tmp_path):
    out = str(tmp_path / "study")
    code, stdout, stderr = run_cli("sweep", *DIVERGING, "--param", "lr=choice:100000,200000", "--trials", "2",
                                   "--workers", "1", "--out", out)
    assert code == 1, f"expected exit 1 when every trial failed, got {code}; stderr: {stderr}"
    assert_no_optuna_noise(stdout + stderr)
    lines = trial_lines(stdout)
    assert len(lines) == 2 and all(" failed " in line and "error: the loss grew" in line for line in lines), lines
    assert stderr.count("\n") == 1, f"expected one line on stderr, got {stderr!r}"
    assert stderr.startswith("nnscratch sweep: error: all 2 trials failed: the loss grew"), stderr
    assert "training diverged" in stderr and os.path.join(out, "trials.csv") in stderr, stderr


def test_worker_processes_whose_trials_cannot_read_the_data_print_no_traceback_either(tmp_path):
    data = tmp_path / "digits.npz"
    data.write_bytes(b"not an npz file")
    code, stdout, stderr = run_cli("sweep", "--data", str(data), "--train-size", "100", "--validation-size", "50",
                                   "--epochs", "1", "--param", "lr=choice:0.01,0.1", "--sampler", "grid",
                                   "--trials", "2", "--workers", "2", "--out", str(tmp_path / "study"))
    assert code == 1, f"expected exit 1 when every trial failed, got {code}; stderr: {stderr}"
    assert_no_optuna_noise(stdout + stderr)
    lines = trial_lines(stdout)
    assert len(lines) == 2 and all("error: " in line and "digits.npz" in line for line in lines), lines
    assert stderr.count("\n") == 1 and stderr.startswith("nnscratch sweep: error: all 2 trials failed: "), stderr
    assert "digits.npz: not a readable .npz file" in stderr, stderr


def test_a_sweep_with_one_good_trial_exits_0_and_shows_the_failed_one_in_its_own_line(tmp_path):
    code, stdout, stderr = run_cli("sweep", *DIVERGING, "--param", "lr=choice:0.01,100000", "--trials", "2",
                                   "--workers", "1", "--out", str(tmp_path / "study"))
    assert code == 0, f"expected exit 0 when a trial completed, got {code}; stderr: {stderr}"
    assert_no_optuna_noise(stdout + stderr)
    assert stderr == "", f"expected nothing on stderr, got {stderr!r}"
    lines = trial_lines(stdout)
    assert sorted(line.split()[2] for line in lines) == ["complete", "failed"], lines
    assert "error: the loss grew" in next(line for line in lines if " failed " in line)


def test_the_summary_of_a_single_failed_trial_and_a_bug_that_is_not_a_failed_trial(tmp_path):
    def bad_setting(settings, report):
        raise ValueError(f"x={settings['x']:.1f} cannot be used\nsecond line")

    result = sweep({"x": "uniform:0:1"}, {}, trials=1, out=tmp_path / "one", train=bad_setting, metric="score",
                   quiet=True)
    assert result.all_failed() == f"the one trial failed: x={result.table[0]['x']:.1f} cannot be used"

    def bug(settings, report):
        raise RuntimeError("a bug in the training function")

    with pytest.raises(RuntimeError, match="a bug in the training function"):
        sweep({"x": "uniform:0:1"}, {}, trials=2, out=tmp_path / "bug", train=bug, metric="score", quiet=True)


def test_optuna_s_log_level_is_put_back_after_a_sweep(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        sweep({"x": "uniform:0:1"}, {}, trials=1, out=tmp_path, train=lambda settings, report: settings["x"],
              metric="score", quiet=True)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("workers", ["0", "-3"])
def test_workers_below_1_are_refused_in_one_line(workers, tmp_path, capfd):
    out = tmp_path / "study"
    code = main(["sweep", *DIVERGING, "--param", "lr=choice:0.01", "--trials", "1", "--workers", workers,
                 "--out", str(out)])
    captured = capfd.readouterr()
    assert code == 2, f"expected exit 2, got {code}; stderr: {captured.err}"
    assert captured.err == f"nnscratch sweep: error: --workers must be at least 1, got {workers}\n", captured.err
    assert captured.out == "" and not out.exists(), "a refused sweep started anyway"


def score_of_x(settings, report):
    """A trial's result: its x (a module-level function, so that worker processes can import it)."""
    return settings["x"]


def test_more_workers_than_trials_left_run_in_this_process_and_say_so(tmp_path, capsys):
    sweep({"x": "uniform:0:1"}, {}, trials=2, out=tmp_path, train=score_of_x, metric="score", quiet=True)
    capsys.readouterr()
    result = sweep({"x": "uniform:0:1"}, {}, trials=3, out=tmp_path, workers=4, train=score_of_x, metric="score",
                   quiet=True)
    assert capsys.readouterr().out == "--workers 4: 1 trial left to run, so 1 worker\n"
    assert len(result.table) == 3 and result.table[2]["state"] == "complete", result.table
    assert int(result.table[2]["worker"].rpartition(":")[2]) == os.getpid(), "the trial left ran in another process"


def test_no_more_worker_processes_start_than_there_are_trials(tmp_path, monkeypatch, capsys):
    started = []
    real_get_context = multiprocessing.get_context

    class CountingContext:
        def __init__(self, context):
            self.context = context

        def Process(self, *args, **kwargs):  # noqa: N802 - the name multiprocessing gives it
            started.append(self.context.Process(*args, **kwargs))
            return started[-1]

    monkeypatch.setattr(runner.multiprocessing, "get_context", lambda method: CountingContext(real_get_context(method)))
    result = sweep({"x": "uniform:0:1"}, {}, trials=2, out=tmp_path, workers=6, train=score_of_x, metric="score",
                   pruner="none", quiet=True)
    assert len(started) == 2, f"expected 2 worker processes for 2 trials, {len(started)} started"
    assert capsys.readouterr().out == "--workers 6: 2 trials left to run, so 2 workers\n"
    assert [row["state"] for row in result.table] == ["complete", "complete"], result.table
