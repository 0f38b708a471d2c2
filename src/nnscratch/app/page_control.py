"""The training thread's hands inside ``fit``: ``PageControl`` honours the page's controls at batch boundaries
(pause, step, stop, a new learning rate or batch size, marked where it applied) and publishes the session's
snapshots: batch losses, a fixed subset of validation digits measured every few dozen batches, the health strip,
and the first layer's weights (the replay keeps about ``REPLAY_FRAMES`` of them, thinned as the run goes on).

It runs in the training thread and shares the ``TrainingSession``'s lock with the HTTP threads; it changes the
session's state only through the session's own methods (those ending in ``_locked``, called with the lock held),
and everything it publishes is a copy.
"""
import copy
import math
import time
from dataclasses import dataclass

from ..callbacks import Callback
from ..schedules import Constant
from ..training import measure
from .watch import Health, weight_image

SUBSET_SIZE = 1000
RECENT_LOSSES = 256          # batch losses carried by each tick (a client that missed ticks merges by step)
RECENT_PROBES = 8            # validation-subset points carried by each tick
REPLAY_FRAMES = 100
LIVE_SECONDS = 1.0           # how often the draw view's copy of the weights is refreshed during a run


@dataclass(frozen=True)
class PausedExample:
    """What the Step view steps on while a run is paused: a copy of the network as it is, the first example of
    the batch it trains next (its index in the training set, before any augmentation), the loss and η."""

    model: object
    x: object          # one example with its batch axis of 1, in the shape the model takes
    label: object      # the class (or, for targets given as rows, the row)
    index: int
    loss: object
    lr: float
    step: int           # the batch it is the first example of (from 1)


class PageControl(Callback):
    """The session's hands inside ``fit``: honours the controls at batch boundaries and publishes snapshots."""

    def __init__(self, session, run):
        self.session, self.run = session, run
        subset = run.data.validation if run.data.validation is not None else run.data.test
        self.subset = (subset[0][:SUBSET_SIZE].astype(run.model.dtype, copy=False), subset[1][:SUBSET_SIZE])
        self.health = Health(run.model)
        self.step, self.new_losses, self.last_publish = 0, [], 0.0
        self.probe_seconds, self.started = 0.0, time.perf_counter()
        self.measure_next, self.health_report, self.last_live = False, (), -LIVE_SECONDS
        self.last_batch_start = 0.0

    def on_train_begin(self, state):
        self.training_state = state
        self.keep_shuffle_state()
        self.probe(state)
        self.publish(state)

    def on_batch_begin(self, state):
        session = self.session
        with session.lock:
            self.apply_changes(state)
            self.keep_speed()
            while session.waits_locked():
                if session.snapshot.state != "paused" or session.snapshot.step != self.step:
                    session.hold_example_locked(self.next_example(state))
                    self.publish_locked(state, "paused")
                session.wait_for_control_locked()
                self.apply_changes(state)
            if session.stop_requested:
                state.stop = True
                return
            session.hold_example_locked(None)
            session.take_a_step_locked()
            if session.snapshot.state != "running" and not session.paused:
                self.publish_locked(state, "running")
        # the health strip's update ratio needs the weights before this batch's update
        self.measure_next = (self.step + 1) % self.session.probe_every == 0 and self.probe_affordable()
        if self.measure_next:
            self.health.before_update()

    def keep_speed(self):
        """Under the speed control, wait (the session's lock held, released while waiting) until this batch may
        start: ``1 / steps_per_second`` seconds after the last one started. Any control wakes it early."""
        session = self.session
        while limit := session.speed_limit_locked():
            left = self.last_batch_start + 1.0 / limit - time.perf_counter()
            if left <= 0:
                break
            session.wait_for_control_locked(left)
        self.last_batch_start = time.perf_counter()

    def apply_changes(self, state):
        """The session's lock held: apply a new learning rate and/or batch size asked for, marked on the curves."""
        pending = self.session.take_changes_locked()
        if not pending:
            return
        mark = {"step": self.step, **pending}
        if "lr" in pending:
            state.optimizer.schedule = Constant(pending["lr"])
            state.optimizer.lr = float(pending["lr"])
        if "batch_size" in pending:
            state.batch_size = pending["batch_size"]
        self.publish_locked(state, marks=self.session.snapshot.marks + (mark,))

    def on_batch_end(self, state):
        self.step += 1
        self.new_losses.append(float(state.batch_loss))
        probed = False
        if self.measure_next:
            self.probe(state)
            probed = True
        if probed or self.step == 1 or time.perf_counter() - self.last_publish >= self.session.publish_seconds:
            self.publish(state)

    def on_epoch_end(self, state):
        self.keep_shuffle_state()
        with self.session.lock:
            self.session.record_epoch_locked(dict(state.record))
            self.publish_locked(state, epoch_ends=self.session.snapshot.epoch_ends + (self.step,))

    def keep_shuffle_state(self):
        """Copy the shuffling generator before ``fit`` draws the next epoch's order from it, so that the order (and
        with it the next batch's first example) can be drawn again here without touching the run's generator."""
        self.shuffle_state, self.order = copy.deepcopy(self.run.shuffle_rng), None

    def next_example(self, state):
        """The ``PausedExample`` of the batch about to be trained: ``fit`` takes rows ``position ...`` of this
        epoch's permutation (drawn again from the copied generator), or of the data in order without shuffling."""
        x, y = self.run.data.train
        if self.order is None:
            shuffle = self.run.settings.get("shuffle", True)
            self.order = copy.deepcopy(self.shuffle_state).permutation(len(x)) if shuffle else False
        index = int(self.order[state.position]) if self.order is not False else int(state.position)
        return PausedExample(state.model.clone(), x[index:index + 1].astype(state.model.dtype, copy=False),
                             int(y[index]) if y.ndim == 1 else y[index], index, state.loss, float(state.optimizer.lr),
                             self.step + 1)

    def probe_affordable(self):
        """Whether measuring now keeps the measurements under ``probe_share`` of the time spent training."""
        return self.probe_seconds <= self.session.probe_share * (time.perf_counter() - self.started)

    def probe(self, state):
        started = time.perf_counter()
        result = measure(state.model, *self.subset, loss=state.loss)
        health = self.health.measure(self.subset[0])
        point = {"step": self.step, "loss": finite(result.loss), "accuracy": result.accuracy}
        with self.session.lock:
            self.session.record_probe_locked(point)
            self.health_report = tuple(health)
        self.probe_seconds += time.perf_counter() - started

    def publish(self, state, run_state=None):
        with self.session.lock:
            self.publish_locked(state, run_state)

    def publish_locked(self, state, run_state=None, **changes):
        """The session's lock held: publish a snapshot of the run as it is (``run_state``: a new state)."""
        session = self.session
        session.record_losses_locked(self.new_losses)
        self.new_losses = []
        weights, shape = weight_image(state.model)
        version = session.keep_frame_locked(weights, shape, REPLAY_FRAMES)
        if run_state is not None or time.perf_counter() - self.last_live >= LIVE_SECONDS:
            session.share_weights_locked(self.run, version, state.model.state_dict())   # for the draw view
            self.last_live = time.perf_counter()
        session.publish_locked(
            state=run_state or session.snapshot.state, epoch=min(state.epoch + 1, state.last_epoch),
            step=self.step, lr=float(state.optimizer.lr), batch_size=int(state.batch_size),
            **session.progress_locked(RECENT_LOSSES, RECENT_PROBES), weights_version=version, weights_shape=shape,
            health=self.health_report, **changes)
        self.last_publish = time.perf_counter()


def finite(value):
    return float(value) if math.isfinite(value) else None
