"""The page's training runs: one at a time, in a thread of its own that owns the network.

``TrainingSession.start(given)`` checks the settings as the ``train`` command does (``runs.resolve``), builds a
``runs.Run`` and trains it in a thread. The thread alone touches the model. Every ``publish_seconds`` (and at
every pause, epoch end and state change) it publishes an immutable ``Snapshot`` (copied numbers, the first layer's
weights as bytes) under the session's lock and wakes the waiters; HTTP threads only ever read snapshots.
``PageControl`` changes the session's state only through the session's methods whose names end in
``_locked``, each called with the lock held.

The controls act at the next batch boundary: ``pause``, ``resume``, ``step`` (one batch, then paused), ``stop``
(the run is saved as if it had ended), ``change(lr=..., batch_size=...)`` (marked on the curves). Every few
dozen batches (as long as that takes under ``probe_share`` of the time) the thread also measures a fixed subset
of 1,000 validation digits and the health strip (``watch.Health``); ``page_control.PageControl`` does this inside
``fit``. A ``doctor.Doctor`` watches the run too, and each trouble it names joins the snapshot's ``diagnoses``. While
the run is paused, ``paused_example`` holds what the Step view steps on; ``change(steps_per_second=...)`` is the
speed control. When the run ends or stops, ``Run.save`` writes the model and its history atomically, then
``Run.evaluate`` measures every split, and ``on_saved(path, run)`` is told (the server makes it the page's model;
what it returns, if anything, is added to the run's closing message).
"""
import itertools
import math
import os
import threading
import time
import traceback
from dataclasses import dataclass, field, replace

from ..doctor import Doctor
from ..runs import Run, SettingsError, resolve
from ..training import DivergenceError
from .page_control import PageControl

ACTIVE = ("starting", "running", "paused")          # a run that can still be controlled
FINISHING = ("saving", "evaluating")
ENDED = ("done", "stopped", "error")
MAX_LR = 1e3
MAX_SPEED = 1e4                 # batches a second: the speed control's largest limit


class Conflict(Exception):
    """A control that does not apply in the session's state (HTTP 409)."""


@dataclass(frozen=True)
class Snapshot:
    """One published view of the session; never changed once published (lists are fresh copies)."""

    version: int = 0
    run: int = 0
    state: str = "idle"
    epoch: int = 0                  # the epoch under way, from 1
    epochs: int = 0
    step: int = 0                   # batches done in the whole run
    lr: float = None
    batch_size: int = None
    train_size: int = 0
    losses_from: int = 0            # global step of losses[0] (step n's loss is the n-th batch's, from 1)
    losses: tuple = ()
    probes: tuple = ()              # recent validation-subset points {"step", "loss", "accuracy"}
    marks: tuple = ()               # setting changes {"step", "lr"?, "batch_size"?}
    records: int = 0                # epoch records so far
    epoch_ends: tuple = ()          # the step at which each epoch ended
    weights_version: int = 0
    weights_shape: tuple = ()
    health: tuple = ()
    steps_per_second: float = None  # the speed control's limit (None: as fast as it goes)
    diagnoses: tuple = ()           # the doctor's {"step", "epoch", "code", "message"}, in the order made
    settings: dict = field(default_factory=dict)
    model: str = None               # the saved model's file name once saved
    message: str = None
    results: dict = field(default_factory=dict)

    def public(self):
        """The snapshot as JSON-ready data (a tick)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("losses", "probes", "marks", "health", "weights_shape", "epoch_ends", "diagnoses"):
            data[name] = list(data[name])
        return data


class TrainingSession:
    """At most one training run at a time, its controls, and the snapshots it publishes.

    ``models_dir``: where runs are saved (``NAME.npz`` and ``NAME.history.json``); ``on_saved(path, run)``: told
    when a run's model is saved and evaluated; ``log``: a function taking one line, for errors.
    """

    def __init__(self, models_dir="models", on_saved=None, log=None, publish_seconds=0.1, probe_every=40,
                 probe_share=0.05):
        self.models_dir, self.on_saved, self.log = os.fspath(models_dir), on_saved, log
        self.publish_seconds, self.probe_every, self.probe_share = publish_seconds, probe_every, probe_share
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.run_ids = itertools.count(1)
        self.snapshot = Snapshot()
        self.thread = None
        self.closed = False
        self.reset_run_data()
        self.reset_controls()

    def reset_run_data(self):
        self.losses, self.all_probes, self.epoch_records = [], [], []
        self.frames = {}            # weights version -> (bytes, shape): the replay
        self.frame_every = 1        # a replay frame every this many publications (doubles as frames fill up)
        self.publications = 0
        self.latest_frame = None
        self.live_weights = None    # (run, version, state dict): what the draw view predicts with during a run
        self.example = None         # a PausedExample while the run is paused (the Step view's), else None

    def reset_controls(self):
        self.paused, self.step_budget, self.stop_requested, self.pending = False, 0, False, {}
        self.steps_per_second = None    # the speed control: at most this many batches a second (None: no limit)

    # ---- what HTTP threads call ----------------------------------------------------------------------------
    def start(self, given):
        """Check ``given`` settings, load the data and start training; returns the run's id. ``SettingsError``
        for bad settings, ``Conflict`` while a run is active."""
        if not isinstance(given, dict):
            raise SettingsError("expected a JSON object of settings")
        if "out" in given or "resume" in given:
            raise SettingsError(f"the page saves its runs in {self.models_dir}/ under a name of its own; "
                                f"{'out' if 'out' in given else 'resume'} cannot be set here")
        with self.lock:
            if self.snapshot.state in ACTIVE + FINISHING:
                raise Conflict(f"a run is already {self.snapshot.state}; stop it first")
            if self.closed:
                raise Conflict("the server is shutting down")
            previous = self.snapshot
            self.reset_controls()
            self.publish_locked(state="starting")
        try:
            settings = resolve(given)
            run = Run.start(settings, self.new_path(settings))
        except BaseException:
            with self.lock:
                self.publish_locked(state=previous.state)
            raise
        with self.lock:
            run_id = next(self.run_ids)
            self.reset_run_data()
            self.publish_locked(**fresh_fields(run, run_id))
            self.thread = threading.Thread(target=self.train, args=(run, run_id), name=f"training-run-{run_id}",
                                           daemon=True)
            self.thread.start()
        return run_id

    def pause(self):
        with self.lock:
            self.require_active("pause")
            self.paused, self.step_budget = True, 0
            self.changed.notify_all()
            return self.snapshot.state

    def resume(self):
        with self.lock:
            self.require_active("resume")
            self.paused, self.step_budget = False, 0
            self.changed.notify_all()
            return self.snapshot.state

    def step(self):
        with self.lock:
            self.require_active("step")
            self.paused = True
            self.step_budget += 1
            self.changed.notify_all()
            return self.snapshot.state

    def stop(self):
        with self.lock:
            self.require_active("stop")
            self.stop_requested = True
            self.changed.notify_all()
            return self.snapshot.state

    def change(self, lr=None, batch_size=None, steps_per_second=None):
        """A new learning rate and/or batch size from the next batch on (marked on the curves), and/or a speed
        limit (at most ``steps_per_second`` batches a second; 0 lifts it); ValueError names a bad one."""
        if lr is None and batch_size is None and steps_per_second is None:
            raise ValueError("give lr, batch_size, steps_per_second or several")
        if steps_per_second is not None and (isinstance(steps_per_second, bool)
                                             or not isinstance(steps_per_second, (int, float))
                                             or not 0 <= steps_per_second <= MAX_SPEED):
            raise ValueError(f"steps_per_second must be a number from 0 (no limit) to {MAX_SPEED:g}, got "
                             f"{steps_per_second!r}")
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float))
                               or not (0 < lr <= MAX_LR and math.isfinite(lr))):
            raise ValueError(f"lr must be a positive number up to {MAX_LR:g}, got {lr!r}")
        with self.lock:
            self.require_active("change the settings of")
            limit = self.snapshot.train_size
            if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                           or not 1 <= batch_size <= limit):
                raise ValueError(f"batch_size must be a whole number in 1..{limit} (the training set), got "
                                 f"{batch_size!r}")
            self.pending.update({name: value for name, value in (("lr", lr), ("batch_size", batch_size))
                                 if value is not None})
            if steps_per_second is not None:   # not a setting of the run: applied at once, not marked
                self.steps_per_second = float(steps_per_second) or None
                self.publish_locked(steps_per_second=self.steps_per_second)
            self.changed.notify_all()
            return self.snapshot.state

    def require_active(self, what):
        state = self.snapshot.state
        if state in FINISHING:
            raise Conflict(f"cannot {what} the run: it has ended and is {state}")
        if state not in ACTIVE:
            raise Conflict(f"cannot {what} the run: no run is training (the session is {state})")
        if self.stop_requested:
            raise Conflict(f"cannot {what} the run: it is stopping")

    def wait(self, version, timeout):
        """The latest snapshot once its version is past ``version`` (or after ``timeout`` seconds, or on close)."""
        with self.lock:
            self.changed.wait_for(lambda: self.snapshot.version > version or self.closed, timeout)
            return self.snapshot

    def latest(self):
        with self.lock:
            return self.snapshot

    def history(self):
        """Everything of the current (or last) run so far: the snapshot, every batch loss, every validation-subset
        point and every epoch record."""
        with self.lock:
            return {**self.snapshot.public(), "losses_from": 1, "losses": list(self.losses),
                    "probes": list(self.all_probes), "history": list(self.epoch_records)}

    def records_since(self, run, count):
        """Epoch records of ``run`` after the first ``count`` (empty when ``run`` is not the current one)."""
        with self.lock:
            return list(self.epoch_records[count:]) if run == self.snapshot.run else []

    def weights(self, version=None):
        """``(version, bytes, shape)`` of the latest weight images, or of replay frame ``version``; KeyError."""
        with self.lock:
            if version is None or (self.latest_frame and version == self.latest_frame[0]):
                if self.latest_frame is None:
                    raise KeyError("no weights have been published yet")
                return self.latest_frame
            if version not in self.frames:
                raise KeyError(f"weights version {version} is not kept (the replay keeps "
                               f"{len(self.frames)} frames)")
            return (version, *self.frames[version])

    def live(self):
        """``(run, version, state dict)`` of the last published weights while a run is training, else None. The
        state dict is a copy that nobody changes."""
        with self.lock:
            return self.live_weights if self.snapshot.state in ACTIVE else None

    def paused_example(self):
        """The ``PausedExample`` the Step view steps on; ``Conflict`` unless a run is paused."""
        with self.lock:
            if self.snapshot.state != "paused" or self.example is None:
                raise Conflict(f"the Step view needs a paused run: pause it first (the session is "
                               f"{self.snapshot.state})")
            return self.example

    def replay_versions(self):
        with self.lock:
            return sorted(self.frames)

    def close(self, wait=True, timeout=None):
        """Stop an active run (it is saved), wait for its thread, and wake every waiter for good."""
        with self.lock:
            if self.snapshot.state in ACTIVE:
                self.stop_requested = True
            thread = self.thread
            self.changed.notify_all()
        if wait and thread is not None:
            thread.join(timeout)
        with self.lock:
            self.closed = True
            self.changed.notify_all()

    # ---- the training thread ------------------------------------------------------------------------------
    def new_path(self, settings):
        stem = f"page-{settings.get('preset') or settings['architecture']}-{time.strftime('%Y%m%d-%H%M%S')}"
        for number in itertools.count(1):
            name = stem if number == 1 else f"{stem}-{number}"
            path = os.path.join(self.models_dir, name + ".npz")
            if not os.path.exists(path):
                return path

    def train(self, run, run_id):
        control = PageControl(self, run)
        doctor = Doctor(on_diagnosis=self.diagnosed)   # after the control, so a pause comes before its copy
        try:
            run.train([control, doctor])
            control.publish(control.training_state, "saving")   # the weights kept (the best epoch's), last
            model_path, _ = run.save()
            self.publish(state="evaluating", model=os.path.basename(model_path))
            results = {name: result._asdict() for name, result in run.evaluate().items()}
            note = self.on_saved(model_path, run) if self.on_saved is not None else None
            ended = "stopped" if run.history.interrupted else "done"
            message = f"saved as {os.path.basename(model_path)}"
            if run.rejected:
                message += f" (no better than chance, so {os.path.basename(run.out)} was kept)"
            if note:
                message += f"; {note}"
            self.publish(state=ended, model=os.path.basename(model_path), results=results, message=message)
        except DivergenceError as error:
            self.publish(state="error", message=f"{error}; nothing was saved")
        except Exception as error:  # the run failed; the server goes on
            if self.log is not None:
                self.log("training run failed: " + traceback.format_exc().strip().replace("\n", " | "))
            self.publish(state="error", message=f"the run failed: {type(error).__name__}: {error}")

    def diagnosed(self, diagnosis):
        """The doctor named a trouble (in the training thread): it joins the health strip."""
        with self.lock:
            self.publish_locked(diagnoses=self.snapshot.diagnoses + (dict(diagnosis),))

    def publish(self, **changes):
        """Publish a new snapshot with ``changes``; takes the lock."""
        with self.lock:
            self.publish_locked(**changes)

    def publish_locked(self, **changes):
        """The lock held: publish a new snapshot (the next version) with ``changes`` and wake the waiters."""
        self.snapshot = replace(self.snapshot, version=self.snapshot.version + 1, **changes)
        self.changed.notify_all()

    # ---- what the training thread's PageControl calls, the lock held (it takes ``self.lock`` around them) ----
    def waits_locked(self):
        """Whether the run waits at this batch boundary: paused, with no step asked for and no stop."""
        return self.paused and self.step_budget == 0 and not self.stop_requested

    def wait_for_control_locked(self, timeout=None):
        """Sleep, the lock released meanwhile, until a control or a publication wakes the waiters (or ``timeout``
        seconds pass); the lock is held again on return."""
        self.changed.wait(timeout)

    def speed_limit_locked(self):
        """The speed control's limit in batches a second, or None when there is none or a control is waiting
        (stop, pause or a change): then the next batch starts at once."""
        if self.stop_requested or self.paused or self.pending:
            return None
        return self.steps_per_second

    def take_changes_locked(self):
        """The learning rate and/or batch size asked for since the last batch (``{}``: none), handed over once."""
        pending, self.pending = self.pending, {}
        return pending

    def hold_example_locked(self, example):
        """The run is paused on ``example``, what the Step view steps on (None: it goes on)."""
        self.example = example

    def take_a_step_locked(self):
        """A batch starts: while paused, it uses up one of the steps asked for."""
        if self.paused:
            self.step_budget -= 1

    def record_losses_locked(self, losses):
        """Add the batch losses since the last publication to the run's."""
        self.losses.extend(losses)

    def record_probe_locked(self, point):
        """Add a validation-subset point ``{"step", "loss", "accuracy"}`` to the run's."""
        self.all_probes.append(point)

    def record_epoch_locked(self, record):
        """Add an epoch's record (a copy of ``fit``'s) to the run's history."""
        self.epoch_records.append(record)

    def keep_frame_locked(self, weights, shape, replay_frames):
        """Keep the first layer's weight image (``weights`` as bytes, ``shape``) as the latest one, under the version
        the next ``publish_locked`` gives; every ``frame_every``-th publication also joins the replay, which keeps
        at most ``replay_frames`` (then every other frame, and half as many from then on). Returns the version."""
        version = self.snapshot.version + 1
        self.latest_frame = (version, weights, shape)
        self.publications += 1
        if self.publications % self.frame_every == 0:
            self.frames[version] = (weights, shape)
            if len(self.frames) > replay_frames:
                self.frames = dict(list(self.frames.items())[::2])
                self.frame_every *= 2
        return version

    def share_weights_locked(self, run, version, state_dict):
        """What the draw view predicts with during the run: ``state_dict``, a copy nobody changes, of weights
        ``version`` of ``run``."""
        self.live_weights = (run, version, state_dict)

    def progress_locked(self, recent_losses, recent_probes):
        """The tail of the run a tick carries: the last ``recent_losses`` batch losses (``losses_from``: the step of
        the first), the last ``recent_probes`` validation-subset points and how many epoch records there are."""
        losses = self.losses[-recent_losses:]
        return dict(losses_from=len(self.losses) - len(losses) + 1, losses=tuple(losses),
                    probes=tuple(self.all_probes[-recent_probes:]), records=len(self.epoch_records))


def fresh_fields(run, run_id):
    settings = {name: value for name, value in run.settings.items() if name != "data"}
    return dict(run=run_id, state="running", epoch=1, epochs=run.settings["epochs"], step=0,
                lr=float(run.optimizer.lr), batch_size=run.batch_size, train_size=len(run.data.train[0]),
                losses_from=1, losses=(), probes=(), marks=(), records=0, epoch_ends=(), weights_version=0,
                weights_shape=(), health=(), steps_per_second=None, diagnoses=(), settings=settings, model=None,
                message=None, results={})
