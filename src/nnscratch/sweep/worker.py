"""One worker of a sweep: it takes trials from the study until the study has its total, trains each, reports
the metric after every epoch (so the pruner can stop a hopeless trial) and records how it ended.

Every worker, whether a process of this machine or of another, runs ``work(job)`` against the same storage;
the study, not the worker, decides when the sweep is done. A trial that fails (training diverged, settings that
cannot be used, data that cannot be read) is recorded as failed with its message, shown in the worker's one
line for the trial (Optuna's own warning and traceback are silenced), and the worker goes on.
"""
import contextlib
import os
import time
from dataclasses import dataclass, field

import optuna

from ..callbacks import Callback
from ..errors import NNScratchError
from ..runs import Run, resolve
from ..runs import run as runs  # its load_data, which tests may replace
from .best import better, keep_if_best
from .results import progress_line
from .space import trial_settings
from .storage import counted, open_storage, retry_lost_trials, worker_name

BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                "NUMEXPR_NUM_THREADS")
DATA_SETTINGS = ("dataset", "data", "validation_size", "train_size", "architecture")
# What a trial may fail of and the sweep go on after: training diverged, settings or data that cannot be used,
# a file that cannot be written, a network too big for memory. Anything else is a bug and stops the sweep.
TRIAL_FAILURES = (FloatingPointError, ValueError, NNScratchError, OSError, MemoryError)


@dataclass
class Job:
    """All a worker needs to know, in a form that a new process can receive."""
    storage: str            # a database URL, or None for the journal file in ``out``
    out: str
    study: str
    space: dict             # {name: Param}
    fixed: dict             # the settings every trial shares
    metric: str
    trials: int             # the study's total
    sampler: str = "tpe"
    pruner: str = "median"
    train: object = None    # train(settings, report) -> metric, instead of nnscratch's training
    quiet: bool = False
    seed: int = None        # the sampler's seed
    extra: dict = field(default_factory=dict)


class TrialFailed(Exception):
    """A trial that ended in an error the sweep goes on after (its message is in the trial's ``error``)."""


class Surplus(Exception):
    """A trial started after the study already had its total (two workers started at the same moment)."""


@contextlib.contextmanager
def optuna_errors_only():
    """Optuna's own log shows errors only, while inside: its warning and traceback for each failed trial would
    repeat the one line a worker prints for it. The level it had is restored afterwards."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def work(job):
    """Run trials of ``job``'s study until it has ``job.trials`` of them."""
    with optuna_errors_only():
        work_quietly(job)


def work_quietly(job):
    storage = open_storage(job.storage, job.out)
    study = optuna.load_study(study_name=job.study, storage=storage, sampler=make_sampler(job),
                              pruner=make_pruner(job.pruner))
    objective = Objective(job)
    try:
        while True:
            retry_lost_trials(study)
            trials = study.get_trials(deepcopy=False)
            waiting = any(trial.state == optuna.trial.TrialState.WAITING for trial in trials)
            if not waiting and len(counted(trials)) >= job.trials:
                return
            study.optimize(objective, n_trials=1, catch=(TrialFailed, Surplus),
                           callbacks=[] if job.quiet else [Progress(job)])
    finally:
        if objective.best is not None:  # this worker's best run, saved once rather than after every record
            keep_if_best(*objective.best, job.metric, job.out)


def make_sampler(job):
    if job.sampler == "grid":
        return optuna.samplers.GridSampler({name: param.grid() for name, param in job.space.items()}, seed=job.seed)
    if job.sampler == "random":
        return optuna.samplers.RandomSampler(seed=job.seed)
    return optuna.samplers.TPESampler(seed=job.seed, constant_liar=True)


def make_pruner(name):
    return optuna.pruners.NopPruner() if name == "none" else optuna.pruners.MedianPruner(n_startup_trials=5)


class Objective:
    """One trial: its settings from the space, a training run, and the metric of its best epoch."""

    def __init__(self, job):
        self.job, self.data, self.best = job, {}, None
        fixed = job.fixed
        self.mlp_layers = fixed.get("layers") if fixed.get("architecture", "mlp") == "mlp" else None

    def __call__(self, trial):
        trial.set_user_attr("worker", worker_name())
        if trial.user_attrs.get("retry_of") is None and self.surplus(trial):
            trial.set_user_attr("surplus", True)
            raise Surplus()
        values = {name: param.suggest(trial) for name, param in self.job.space.items()}
        started = time.perf_counter()
        try:
            if self.job.train is not None:
                return float(self.job.train({**self.job.fixed, **values}, Report(trial).__call__))
            return self.train(trial, values)
        except TRIAL_FAILURES as error:
            trial.set_user_attr("error", first_line(error))
            raise TrialFailed(first_line(error)) from None
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        finally:
            trial.set_user_attr("seconds", round(time.perf_counter() - started, 3))

    def surplus(self, trial):
        earlier = [other for other in counted(trial.study.get_trials(deepcopy=False)) if other.number < trial.number]
        return len(earlier) >= self.job.trials

    def train(self, trial, values):
        settings = resolve(trial_settings(self.job.fixed, values, self.mlp_layers))
        best_path = os.path.join(self.job.out, "best.npz")
        run = Run.start(settings, best_path, data=self.data_for(settings))
        history = run.train([Report(trial, self.job.metric)])
        if history.interrupted:
            raise KeyboardInterrupt
        record = next(record for record in history.epochs if record["epoch"] == run.best_epoch)
        value = float(record[self.job.metric])
        trial.set_user_attr("epochs", len(history))
        trial.set_user_attr("best_epoch", run.best_epoch)
        if self.best is None or better(value, self.best[2], self.job.metric):
            self.best = (run, trial.number, value, values)
        return value

    def data_for(self, settings):
        """The data set of these settings, loaded once per worker."""
        key = tuple(str(settings.get(name)) for name in DATA_SETTINGS)
        if settings["dataset"] == "lines":
            key += (settings["seed"],)
        if key not in self.data:
            self.data[key] = runs.load_data(settings)
        return self.data[key]


def first_line(error):
    """An error's message in one line, or its kind where it has none (``MemoryError``)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Report(Callback):
    """After each epoch: the metric to the trial, and a stop if the pruner finds the trial hopeless."""

    def __init__(self, trial, metric=None):
        self.trial, self.metric = trial, metric

    def __call__(self, value, epoch):
        """``report(value, epoch)``, for a training function of your own."""
        self.trial.report(float(value), int(epoch))
        self.trial.set_user_attr("epochs", int(epoch))
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch}")

    def on_epoch_end(self, state):
        self(state.record[self.metric], state.record["epoch"])


class Progress:
    """A line per finished trial."""

    def __init__(self, job):
        self.job = job

    def __call__(self, study, trial):
        if trial.user_attrs.get("surplus"):
            return
        print(progress_line(study, trial, self.job), flush=True)
