"""Sweeps: the search space's syntax, trials in this process and in worker processes sharing one journal file,
resuming, joining, pruning, failures, and the files a sweep leaves. Trials train on the ``lines`` data set
(drawn from the seed, no download) for an epoch or two, so that each takes a fraction of a second."""
import csv
import os
import re
import subprocess
import sys
import time

import pytest

optuna = pytest.importorskip("optuna", reason="sweeps need Optuna: pip install nnscratch[sweep]")

from nnscratch.cli import main  # noqa: E402
from nnscratch.serialization import load_model  # noqa: E402
from nnscratch.sweep import SweepError, parse_param, parse_space, status, sweep  # noqa: E402
from nnscratch.sweep.space import trial_settings  # noqa: E402

LINES = {"preset": "lines", "train_size": 300, "validation_size": 200, "batch_size": 10, "epochs": 2}
LINES_FLAGS = ["--preset", "lines", "--train-size", "300", "--validation-size", "200", "--batch-size", "10",
               "--epochs", "2"]


def nnscratch(*args, **options):
    return subprocess.Popen([sys.executable, "-m", "nnscratch", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **options)


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_params_parse_to_one_canonical_form():
    assert parse_param("lr=loguniform:1e-4:1e-1").spec == parse_param("lr=loguniform:0.0001:0.1").spec
    assert parse_param("hidden=choice:64,128,256").choices == (64, 128, 256)
    assert parse_param("seed=int:0:4").grid() == [0, 1, 2, 3, 4]
    assert parse_param("activation=choice:relu,tanh").choices == ("relu", "tanh")
    assert parse_space({"lr": "uniform:0.01:0.1", "hidden": [8, 16]})["hidden"].choices == (8, 16)


@pytest.mark.parametrize("text, expected", [
    ("lr=logunifrm:1e-4:1e-1", "--param lr: unknown kind 'logunifrm'"),
    ("lr=loguniform:1e-4", "--param lr: loguniform needs LOW:HIGH"),
    ("lr=loguniform:0:1", "--param lr: loguniform needs LOW > 0"),
    ("lr=uniform:0.1:0.01", "--param lr: LOW must be below HIGH"),
    ("seed=int:0:2.5", "--param seed: int needs whole numbers"),
    ("hidden=choice:", "--param hidden: choice needs at least one value"),
    ("widht=choice:1,2", "--param widht: unknown setting"),
    ("lr", "--param 'lr': expected NAME=KIND:ARGS"),
    ("hidden=choice:0,8", "--param hidden: layers needs at least two positive sizes"),
])
def test_param_mistakes_are_one_line_naming_the_parameter(text, expected, tmp_path, capsys):
    status_code = main(["sweep", *LINES_FLAGS, "--param", text, "--out", str(tmp_path / "s"), "--workers", "1"])
    error = capsys.readouterr().err
    assert status_code == 2, f"expected exit 2, got {status_code}; stderr: {error}"
    assert error.count("\n") == 1 and expected in error, f"expected one line with {expected!r}, got {error!r}"
    assert not (tmp_path / "s" / "trials.csv").exists()


def test_a_parameter_cannot_also_be_fixed(tmp_path, capsys):
    assert main(["sweep", *LINES_FLAGS, "--lr", "0.1", "--param", "lr=loguniform:1e-3:1e-1",
                 "--out", str(tmp_path)]) == 2
    assert "--param lr: also fixed by a flag" in capsys.readouterr().err


def test_hidden_sets_every_hidden_layer_of_an_mlp_and_the_hidden_setting_of_a_cnn():
    mlp = trial_settings({"layers": [784, 1024, 512, 10]}, {"hidden": 64}, [784, 1024, 512, 10])
    assert mlp["layers"] == [784, 64, 64, 10] and "hidden" not in mlp
    cnn = trial_settings({"architecture": "cnn", "layers": None}, {"hidden": 64}, None)
    assert cnn["hidden"] == 64 and cnn["layers"] is None


def test_a_sweep_in_this_process_writes_its_files_and_a_best_model_that_evaluate_reads(tmp_path, capsys):
    out = tmp_path / "study"
    result = sweep({"lr": "loguniform:1e-3:1e-1", "hidden": "choice:4,8"}, LINES, trials=4, out=out, seed=0)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("trial")]
    assert len(lines) == 4, f"expected a progress line per trial, got {lines}"
    rows = read_csv(out / "trials.csv")
    assert [row["trial"] for row in rows] == ["0", "1", "2", "3"]
    assert {row["state"] for row in rows} == {"complete"} and {row["epochs"] for row in rows} == {"2"}
    assert list(rows[0])[:5] == ["trial", "state", "val_accuracy", "hidden", "lr"]
    best = max(rows, key=lambda row: float(row["val_accuracy"]))
    assert result.best["value"] == pytest.approx(float(best["val_accuracy"]))
    model, metadata = load_model(str(out / "best.npz"))
    assert model.layers[0].out_features == int(best["hidden"]), "best.npz is not the best trial's network"
    assert (out / "best.history.json").exists() and (out / "sweep.png").stat().st_size > 5000
    assert main(["evaluate", str(out / "best.npz")]) == 0


def test_running_it_again_resumes_the_study(tmp_path, capsys):
    out = tmp_path / "study"
    sweep({"lr": "loguniform:1e-3:1e-1"}, LINES, trials=2, out=out, seed=0)
    first = read_csv(out / "trials.csv")
    sweep({"lr": "loguniform:1e-3:1e-1"}, LINES, trials=3, out=out, seed=0)
    second = read_csv(out / "trials.csv")
    assert len(second) == 3 and second[:2] == first, "the trials done were redone or changed"
    sweep({"lr": "loguniform:1e-3:1e-1"}, LINES, trials=3, out=out)
    assert len(read_csv(out / "trials.csv")) == 3


def test_a_study_with_another_search_space_is_refused_with_the_reason(tmp_path, capsys):
    out = str(tmp_path / "study")
    sweep({"lr": "loguniform:1e-3:1e-1"}, LINES, trials=1, out=out)
    status_code = main(["sweep", *LINES_FLAGS, "--param", "lr=uniform:1e-3:1e-1", "--out", out, "--workers", "1"])
    error = capsys.readouterr().err
    assert status_code == 2 and error.count("\n") == 1
    assert "exists with another search space: lr=loguniform:0.001:0.1 there, lr=uniform:0.001:0.1 here" in error
    with pytest.raises(SweepError, match="other fixed settings .*epochs 2 there, 3 here"):
        sweep({"lr": "loguniform:1e-3:1e-1"}, {**LINES, "epochs": 3}, trials=2, out=out)
    with pytest.raises(SweepError, match="optimises val_accuracy, not val_loss"):
        sweep({"lr": "loguniform:1e-3:1e-1"}, LINES, trials=2, out=out, metric="val_loss")


def test_a_diverging_trial_is_failed_with_its_message_and_the_sweep_goes_on(tmp_path, capsys):
    out = tmp_path / "study"
    result = sweep({"lr": "choice:0.01,100000"}, {**LINES, "batch_size": 1, "epochs": 1}, trials=5, out=out,
                   sampler="grid")
    rows = {row["lr"]: row for row in read_csv(out / "trials.csv")}
    assert len(result.table) == 2, "the grid has two points; the total is capped at them"
    assert rows["0.01"]["state"] == "complete"
    assert rows["100000"]["state"] == "failed" and "training diverged" in rows["100000"]["error"]
    assert "error: " in capsys.readouterr().out


def test_hopeless_trials_are_pruned_and_a_training_function_of_ones_own_can_be_swept(tmp_path):
    def train(settings, report):
        for epoch in (1, 2, 3):
            report(settings["x"] * epoch, epoch)
        return settings["x"] * 3

    result = sweep({"x": "uniform:0:1"}, {}, trials=14, out=tmp_path, sampler="random", seed=3, train=train,
                   metric="score", quiet=True)
    states = [row["state"] for row in result.table]
    assert states.count("pruned") >= 1 and states.count("complete") >= 5, states
    assert all(row["epochs"] < 3 for row in result.table if row["state"] == "pruned")
    assert result.best["value"] == max(row["value"] for row in result.table if row["state"] == "complete")
    assert not (tmp_path / "best.npz").exists()


def test_two_workers_share_one_journal(tmp_path):
    out = tmp_path / "study"
    result = sweep({"lr": "loguniform:1e-3:1e-1", "seed": "int:0:3"}, LINES, trials=8, out=out, workers=2,
                   pruner="none")
    rows = read_csv(out / "trials.csv")
    assert [int(row["trial"]) for row in rows] == list(range(8)) and {row["state"] for row in rows} == {"complete"}
    workers = {row["worker"] for row in rows}
    assert len(workers) == 2 and os.getpid() not in {int(worker.rpartition(":")[2]) for worker in workers}, workers
    assert result.best is not None and (out / "best.npz").exists()


def test_two_join_processes_on_one_journal_share_the_total(tmp_path, capsys):
    out = str(tmp_path / "study")
    sweep({"lr": "loguniform:1e-3:1e-1"}, {**LINES, "batch_size": 1}, trials=1, out=out)
    processes = [nnscratch("sweep", "--join", "--out", out, "--trials", "10", "--workers", "1") for _ in range(2)]
    outputs = [process.communicate(timeout=240) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    rows = read_csv(os.path.join(out, "trials.csv"))
    assert [int(row["trial"]) for row in rows] == list(range(10)), rows
    assert len({row["worker"] for row in rows[1:]}) == 2, "both joined processes should have run trials"
    assert main(["sweep", "status", "--out", out]) == 0
    summary = capsys.readouterr().out.split("Trials: ")[-1].splitlines()[0]
    counts = {state: int(count) for count, state in re.findall(r"(\d+) (\w+)", summary)}
    assert set(counts) <= {"complete", "pruned"} and sum(counts.values()) == 10, summary


def test_join_needs_a_study_that_exists(tmp_path, capsys):
    assert main(["sweep", "--join", "--out", str(tmp_path / "none"), "--workers", "1"]) == 2
    assert "--join: there is no study 'none'" in capsys.readouterr().err


def test_a_killed_worker_s_trial_is_failed_and_tried_again_and_the_study_goes_on(tmp_path, capsys):
    out = str(tmp_path / "study")
    slow = [*LINES_FLAGS[:-2], "--epochs", "20", "--batch-size", "1"]
    worker = nnscratch("sweep", *slow, "--param", "lr=loguniform:1e-3:1e-2", "--trials", "2", "--workers", "1",
                       "--out", out)
    journal = os.path.join(out, "journal.log")
    deadline = time.monotonic() + 60
    running = []
    while time.monotonic() < deadline and not running:
        time.sleep(0.2)
        if os.path.exists(journal):
            study = optuna.load_study(study_name="study", storage=optuna.storages.JournalStorage(
                optuna.storages.journal.JournalFileBackend(journal)))
            running = [trial for trial in study.trials if trial.state.name == "RUNNING"
                       and "worker" in trial.user_attrs]
    worker.kill()
    worker.communicate()
    assert running, "the worker never started a trial"
    assert [row["state"] for row in status(out).table] == ["running"]
    rows = sweep(["lr=loguniform:1e-3:1e-2"], dict(LINES, epochs=20, batch_size=1), trials=2, out=out,
                 quiet=True).table
    lost = rows[0]
    assert lost["state"] == "failed" and "died" in lost["error"], lost
    retry = [row for row in rows if row["retry_of"] == lost["trial"]]
    assert len(retry) == 1 and retry[0]["state"] == "complete" and retry[0]["lr"] == lost["lr"]
    assert sum(row["state"] == "complete" for row in rows) == 2, rows


def test_an_unreachable_database_is_one_line_and_exit_2_within_seconds(tmp_path, capsys):
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    started = time.monotonic()
    status_code = main(["sweep", *LINES_FLAGS, "--param", "lr=loguniform:1e-3:1e-1", "--workers", "1",
                        "--storage", f"postgresql://someone:secret@127.0.0.1:{port}/studies", "--study", "s",
                        "--out", str(tmp_path)])
    error = capsys.readouterr().err
    assert status_code == 2 and time.monotonic() - started < 10
    assert error.count("\n") == 1 and "cannot reach the database" in error and "secret" not in error, error


def single_threaded_blas(settings, report):
    """A trial's result: 1 when its process was started with single-threaded BLAS (a module-level function, so
    that worker processes can import it)."""
    return float(all(os.environ.get(name) == "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                                 "MKL_NUM_THREADS")))


def test_worker_processes_start_with_single_threaded_blas_and_this_process_keeps_its_own(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    result = sweep({"x": "uniform:0:1"}, {}, trials=2, out=tmp_path, workers=2, train=single_threaded_blas,
                   metric="single_threaded", pruner="none", quiet=True)
    assert [row["value"] for row in result.table] == [1.0, 1.0], result.table
    assert "OPENBLAS_NUM_THREADS" not in os.environ


def test_join_with_settings_but_no_space_is_refused(tmp_path, capsys):
    out = str(tmp_path / "study")
    sweep({"lr": "loguniform:1e-3:1e-1"}, LINES, trials=1, out=out, quiet=True)
    assert main(["sweep", "--join", "--out", out, "--epochs", "5", "--workers", "1"]) == 2
    assert "--join takes the study's settings" in capsys.readouterr().err
