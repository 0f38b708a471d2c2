"""``sweep(...)``: many training runs of one search space, in worker processes that share one study.

The study lives in a journal file in ``out`` or in a database (``storage``); the total of trials is the study's,
so a rerun resumes it and workers on other machines (``join``) share it. When the workers are done this
process writes ``trials.csv`` and ``sweep.png`` in ``out`` and returns the trials as a table.
"""
import dataclasses
import multiprocessing
import multiprocessing.connection
import os
from dataclasses import dataclass

import optuna

from ..runs import SettingsError, resolve
from .results import best_table, rows, write_csv
from .space import SweepError, parse_space, trial_settings
from .storage import counted, describe, open_storage, open_study, retry_lost_trials
from .worker import BLAS_THREADS, Job, make_pruner, optuna_errors_only, work

METRICS = ("val_accuracy", "val_loss")
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "none")
MAX_ROUNDS = 3  # rounds of workers when some die before the study has its total


@dataclass
class SweepResult:
    """The trials of a study (``table``: one dict per trial), its parameter names, metric and best trial."""
    table: list
    names: list
    metric: str
    best: dict
    out: str

    def summary(self, top=5):
        return best_table(self.table, self.names, self.metric, top)

    def all_failed(self):
        """None unless the study has trials and every one of them failed; then one line saying so, with the error
        (the last trial's, where they differ)."""
        if not self.table or any(row["state"] != "failed" for row in self.table):
            return None
        errors = [row["error"] or "no error recorded" for row in self.table]
        total = len(self.table)
        text = f"all {total} trials failed: {errors[-1]}" if total > 1 else f"the one trial failed: {errors[-1]}"
        if len(set(errors)) > 1:
            csv_path = os.path.join(self.out, "trials.csv")
            text += f" (trial {self.table[-1]['trial']}; each trial's error is in {csv_path})"
        return text


def sweep(space=None, settings=None, *, trials=20, out="runs/sweep", workers=1, storage=None, study=None,
          sampler="tpe", pruner="median", metric="val_accuracy", train=None, join=False, quiet=False, plot=True,
          seed=None):
    """Run a sweep and return a ``SweepResult``.

    space : ``{name: "KIND:ARGS" or [choices]}`` (or a list of ``"NAME=KIND:ARGS"``): what varies.
    settings : the training settings every trial shares (a ``preset`` among them); see ``nnscratch train``.
    trials : the study's total: finished trials count, so a rerun resumes rather than repeats.
    workers : processes on this machine, each with single-threaded BLAS (1: this process); no more are started
        than there are trials left to run.
    storage : a database URL (``postgresql://user@host/db``) shared by machines; None: a journal file in ``out``.
    study : the study's name (default: the name of ``out``); ``join``: it must exist, and may supply the space.
    sampler : tpe, random or grid; pruner : median or none; metric : val_accuracy or val_loss.
    train : ``train(settings, report) -> value``, a training function of your own that calls ``report(value,
        epoch)`` after each epoch, instead of nnscratch's training (then ``best.npz`` is not written).
    """
    check_choice("--metric", metric, METRICS if train is None else (metric,))
    check_choice("--sampler", sampler, SAMPLERS)
    check_choice("--pruner", pruner, PRUNERS)
    if int(trials) < 1:
        raise SweepError(f"--trials must be at least 1, got {trials}")
    if int(workers) < 1:
        raise SweepError(f"--workers must be at least 1, got {workers}")
    out = os.fspath(out)
    name = study or os.path.basename(os.path.abspath(out))
    space = parse_space(space or {}, check_names=train is None)
    given = dict(settings or {})
    description = None
    if join and given and not space:
        raise SweepError("--join takes the study's settings; give its --param flags too to check yours against "
                         "them, or leave the settings out")
    if space or not join:
        if not space:
            raise SweepError("give at least one --param NAME=KIND:ARGS (e.g. lr=loguniform:1e-4:1e-1)")
        description = describe(space, fixed_settings(space, given, metric) if train is None else given, metric)
    with optuna_errors_only():
        return run_study(Job(storage, out, name, space, {}, metric, int(trials), sampler, pruner, train, quiet,
                             seed), description, join, int(workers), plot)


def run_study(job, description, join, workers, plot):
    """Open (or create) ``job``'s study, run ``workers`` on it until it has its total, and return the results."""
    opened = open_storage(job.storage, job.out)
    the_study, description = open_study(opened, job.study, description, make_pruner(job.pruner), join)
    job.metric, job.fixed = description["metric"], description["fixed"]
    if not job.space:
        job.space = parse_space(description["space"], check_names=job.train is None)
    if job.sampler == "grid":
        total = 1
        for param in job.space.values():
            total *= len(param.grid())
        job.trials = min(job.trials, total)
    run_workers(job, workers, the_study)
    return results(the_study, job.metric, job.out, plot)


def check_choice(flag, value, allowed):
    if value not in allowed:
        raise SweepError(f"{flag} must be {' or '.join(allowed)}, got {value!r}")


def fixed_settings(space, given, metric):
    """The checked settings every trial shares, as stored with the study; each parameter's ends are tried too,
    so that a space that cannot work fails now, not in every trial."""
    both = sorted(set(space) & set(given))
    if both:
        raise SweepError(f"--param {both[0]}: also fixed by a flag; either sweep it or fix it")
    given = {"monitor": metric, **given}
    fixed = resolve(given)
    if not fixed["validation_size"]:
        raise SettingsError(f"a sweep measures {metric} on the validation set: {{validation_size}} must be > 0",
                            "validation_size")
    layers = fixed["layers"] if fixed["architecture"] == "mlp" else None
    for param in space.values():
        for corner in param.corners():
            try:
                resolve(trial_settings(fixed, {param.name: corner}, layers))
            except SettingsError as error:
                raise SweepError(f"--param {param.name}: {error}") from None
    return fixed


def run_workers(job, asked, study):
    """``asked`` processes (or this one), but no more than there are trials left, until the study has its total;
    another round if some died early."""
    for round_number in range(MAX_ROUNDS):
        retry_lost_trials(study)
        trials = study.get_trials(deepcopy=False)
        if len(counted(trials)) >= job.trials and not any(
                trial.state == optuna.trial.TrialState.WAITING for trial in trials):
            return
        workers = min(asked, trials_left(trials, job.trials))
        if workers < asked and round_number == 0:
            left = f"{workers} trial{'s' if workers != 1 else ''} left to run"
            print(f"--workers {asked}: {left}, so {workers} worker{'s' if workers != 1 else ''}", flush=True)
        if workers == 1:
            work(job)
            continue
        context = multiprocessing.get_context("spawn")
        processes = [context.Process(target=work, args=(worker_job(job, index),), name=f"sweep-worker-{index}")
                     for index in range(workers)]
        saved = {name: os.environ.get(name) for name in BLAS_THREADS}
        os.environ.update({name: "1" for name in BLAS_THREADS})  # read by each child as NumPy loads
        try:
            for process in processes:
                process.start()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        try:
            waiting = list(processes)
            while waiting:  # reap each worker as it ends, so that its process id reads as dead at once
                for sentinel in multiprocessing.connection.wait([process.sentinel for process in waiting]):
                    waiting = [process for process in waiting if process.sentinel != sentinel]
            for process in processes:
                process.join()
        except KeyboardInterrupt:
            for process in processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.terminate()
            raise
        if all(process.exitcode == 0 for process in processes):
            return


def trials_left(trials, total):
    """How many trials of the study's ``total`` no worker has taken yet (those waiting to be tried again among
    them): more workers than that would find nothing to do. At least 1."""
    taken = [trial for trial in counted(trials) if trial.state != optuna.trial.TrialState.WAITING]
    waiting = sum(trial.state == optuna.trial.TrialState.WAITING for trial in trials)
    return max(total - len(taken), waiting, 1)


def worker_job(job, index):
    """The job of worker ``index``: a sampler seed of its own, so that seeded workers do not draw alike."""
    return dataclasses.replace(job, seed=None if job.seed is None else job.seed + index)


def results(study, metric, out, plot=True):
    """Write ``trials.csv`` (and ``sweep.png``) in ``out`` and return the ``SweepResult``."""
    table, names = rows(study)
    os.makedirs(out, exist_ok=True)
    write_csv(os.path.join(out, "trials.csv"), table, metric)
    if plot and table:
        from .plot import plot_sweep
        plot_sweep(os.path.join(out, "sweep.png"), table, names, metric, study.user_attrs)
    done = [row for row in table if row["state"] == "complete" and row["value"] is not None]
    best = (max if not metric.endswith("loss") else min)(done, key=lambda row: row["value"]) if done else None
    return SweepResult(table, names, metric, best, out)


def status(out="runs/sweep", storage=None, study=None):
    """The trials of a study so far, without running any."""
    with optuna_errors_only():
        return read_status(out, storage, study)


def read_status(out, storage, study):
    name = study or os.path.basename(os.path.abspath(os.fspath(out)))
    if storage is None and not os.path.exists(os.path.join(out, "journal.log")):
        raise SweepError(f"--out {out}: no sweep there (no journal.log); give --storage for a database")
    opened = open_storage(storage, out)
    try:
        the_study = optuna.load_study(study_name=name, storage=opened)
    except KeyError:
        raise SweepError(f"--study {name}: no study of that name in this storage") from None
    metric = the_study.user_attrs.get("nnscratch_sweep", {}).get("metric", "value")
    table, names = rows(the_study)
    done = [row for row in table if row["state"] == "complete" and row["value"] is not None]
    best = (max if not metric.endswith("loss") else min)(done, key=lambda row: row["value"]) if done else None
    return SweepResult(table, names, metric, best, out)
