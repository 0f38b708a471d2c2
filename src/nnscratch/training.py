"""Training: one step of gradient descent, evaluation, and ``fit``, the loop over epochs and mini-batches.

``fit`` shuffles the data each epoch (from an explicit generator), steps through it in mini-batches, measures
the validation set after every epoch, stops early when validation stops improving and puts the best weights
back. It never prints: progress goes to a ``Callback``. ``batch_size=len(x)`` is full-batch gradient descent
and ``batch_size=1`` per-example SGD.
"""
import math
import time
from contextlib import contextmanager

import numpy as np

from .callbacks import Callback, EarlyStopping, MeasureEachEpoch, TrainingState
from .errors import NNScratchError
from .evaluation import Evaluation, all_finite, check_data, evaluate, measure
from .fast import faster
from .initializers import as_generator
from .metrics import count_correct

__all__ = ["DivergenceError", "Evaluation", "History", "all_finite", "check_data", "evaluate", "fit", "measure",
           "train_step"]


class DivergenceError(NNScratchError, FloatingPointError):
    """The loss became NaN or infinite, or exploded far above where it started: training has diverged."""


class History:
    """The per-epoch record of a run: ``history["val_accuracy"]`` is that metric's list over epochs.
    ``diagnoses`` holds what a watching callback (the doctor) said was wrong, as ``{"step", "epoch", "code",
    "message"}`` dicts."""

    def __init__(self, epochs=None):
        self.epochs = list(epochs or [])
        self.diagnoses = []
        self.best_epoch = None
        self.stopped_early = False
        self.interrupted = False

    def append(self, record):
        self.epochs.append(record)

    def __getitem__(self, metric):
        return [record.get(metric) for record in self.epochs]

    def __len__(self):
        return len(self.epochs)

    def to_dict(self):
        return {"epochs": self.epochs, "best_epoch": self.best_epoch, "stopped_early": self.stopped_early,
                "interrupted": self.interrupted, "diagnoses": self.diagnoses}

    @classmethod
    def from_dict(cls, data):
        history = cls(data.get("epochs", []))
        history.best_epoch = data.get("best_epoch")
        history.stopped_early = bool(data.get("stopped_early", False))
        history.interrupted = bool(data.get("interrupted", False))
        history.diagnoses = list(data.get("diagnoses") or [])  # older files have none
        return history


def train_step(model, x, y, loss, optimizer):
    """Forward, loss, backward, update. Returns the batch's mean loss and the model's output."""
    output = model.forward(x)
    value, grad_output = loss(output, y)
    model.backward(grad_output)
    optimizer.step()
    return value, output


def fit(model, x, y, loss, optimizer, epochs=10, batch_size=32, shuffle=True, validation_data=None,
        patience=None, callbacks=(), rng=None, history=None, transform=None):
    """Train ``model`` on ``(x, y)`` with mini-batch gradient descent and return its ``History``.

    Parameters
    ----------
    model, loss, optimizer : the network, a ``Loss`` and an ``Optimizer`` built on the same network.
    x, y : inputs (one example per row) and targets (integer labels, or rows like the output).
    epochs : passes over the data; with ``history`` given, numbering (and early stopping) continues where it ended.
    batch_size : examples per step; ``len(x)`` for full-batch descent, 1 for per-example SGD.
    shuffle : draw a new order each epoch from ``rng``; otherwise take the batches in file order.
    validation_data : ``(x_val, y_val)``, measured after every epoch (``val_loss``, ``val_accuracy``, ...).
    patience : shorthand for ``EarlyStopping("val_loss", patience)``: stop after this many epochs without a
        lower validation loss and put the best weights back.
    callbacks : ``Callback`` objects (or one), called in order with the ``TrainingState`` (see ``callbacks``).
    rng : a ``np.random.Generator`` or seed for shuffling; the same seed gives the same run, bit for bit, on one
        machine with one number of threads.
    transform : ``transform(x_batch, rng) -> x_batch`` applied to each training batch (data augmentation).

    Raises ``DivergenceError`` when the loss becomes NaN or infinite or explodes. Ctrl-C ends training at once:
    the history is returned with ``interrupted`` set, and the callbacks' ``on_train_end`` still runs.
    """
    x, y = check_data(model, x, y)
    if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool) or epochs < 0:
        raise ValueError(f"epochs must be a whole number >= 0, got {epochs!r}")
    check_optimizer_is_for(model, optimizer)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if patience is not None and validation_data is None:
        raise ValueError("early stopping (patience) needs validation_data")
    callbacks = [callbacks] if isinstance(callbacks, Callback) else list(callbacks)
    if validation_data is not None:
        callbacks.insert(0, MeasureEachEpoch("val", *check_data(model, *validation_data)))
    if patience is not None:
        callbacks.append(EarlyStopping("val_loss", patience))
    rng = as_generator(rng)
    history = history if history is not None else History()
    state = TrainingState(model, optimizer, loss, history, first_epoch=len(history),
                          last_epoch=len(history) + epochs, batch_size=min(int(batch_size), len(x)))
    state.epoch = state.first_epoch
    divergence = DivergenceWatch()
    notify(callbacks, "on_train_begin", state)
    with model.mode(training=True), data_gradient_skipped(model), faster(model), \
            np.errstate(over="ignore", invalid="ignore"):
        try:
            while state.epoch < state.last_epoch and not state.stop:
                order = rng.permutation(len(x)) if shuffle else None
                record = train_epoch(state, x, y, order, rng, transform, callbacks, divergence)
                if record is None:  # stopped within the epoch
                    history.interrupted = True
                    break
                history.append(record)
                notify(callbacks, "on_epoch_end", state)
                state.epoch += 1
        except KeyboardInterrupt:
            history.interrupted = True
    notify(callbacks, "on_train_end", state)
    return history


def train_epoch(state, x, y, order, rng, transform, callbacks, divergence):
    """One pass over the data in batches of ``state.batch_size`` (read afresh at every batch); the epoch's record,
    or None when a callback stopped training before the epoch ended."""
    started, count = time.perf_counter(), len(x)
    state.step, state.position, state.record = 0, 0, {}
    state.steps = math.ceil(count / state.batch_size)
    total_loss, correct = 0.0, 0
    notify(callbacks, "on_epoch_begin", state)
    while state.position < count:
        notify(callbacks, "on_batch_begin", state)
        if state.stop:
            return None
        rows = slice(state.position, state.position + state.batch_size)
        x_batch, y_batch = (x[rows], y[rows]) if order is None else (x.take(order[rows], axis=0),
                                                                     y.take(order[rows], axis=0))
        if transform is not None:
            x_batch = transform(x_batch, rng)
        state.optimizer.set_epoch(state.epoch + state.position / count)
        value, output = train_step(state.model, x_batch, y_batch, state.loss, state.optimizer)
        divergence.check(value, state)
        total_loss += value * len(x_batch)
        correct += count_correct(output, y_batch)
        state.batch_loss, state.step, state.position = value, state.step + 1, state.position + len(x_batch)
        notify(callbacks, "on_batch_end", state)
    state.record = {"epoch": state.epoch + 1, "loss": total_loss / count, "accuracy": correct / count,
                    "lr": state.optimizer.lr, "seconds": time.perf_counter() - started}
    return state.record


def notify(callbacks, hook, state):
    for callback in callbacks:
        getattr(callback, hook)(state)


class DivergenceWatch:
    """Training has diverged when a batch's loss is NaN or infinite, or when the loss, smoothed over about 20
    batches, has grown to ``factor`` times where it started (the first batch's loss, or 1 if that was smaller):
    a learning rate far too large sends the loss to 1e18 while the weights stay finite."""

    def __init__(self, factor=100.0, smoothing=0.05):
        self.factor, self.smoothing = factor, smoothing
        self.start = self.smoothed = None

    def check(self, value, state):
        if not math.isfinite(value):
            self.fail(f"the loss became {value}", state)
        if self.start is None:
            self.start = self.smoothed = value
        self.smoothed += self.smoothing * (value - self.smoothed)
        if self.smoothed > self.factor * max(self.start, 1.0):
            self.fail(f"the loss grew from {self.start:.4g} to {self.smoothed:.4g}", state)

    @staticmethod
    def fail(what, state):
        raise DivergenceError(f"{what} at epoch {state.epoch + 1}, step {state.step + 1} with learning rate "
                              f"{state.optimizer.lr:g}: training diverged; try a smaller learning rate")


@contextmanager
def data_gradient_skipped(model):
    """During training the gradient with respect to the data itself is never used, so the first layer need not
    compute it (for a dense first layer that is one matrix product fewer per step)."""
    first = model
    while getattr(first, "layers", None):  # the first leaf layer of nested Sequentials
        first = first.layers[0]
    needed = first.needs_input_grad
    first.needs_input_grad = False
    try:
        yield
    finally:
        first.needs_input_grad = needed


def check_optimizer_is_for(model, optimizer):
    """An optimizer updates the arrays it was built on: one built on another network would train nothing here."""
    own = [(name, id(layer), key) for name, layer, key in model.slots()]
    if [(name, id(layer), key) for name, layer, key in getattr(optimizer, "slots", [])] != own:
        raise ValueError(f"the {type(optimizer).__name__} was built on another network's parameters, so it would "
                         f"train nothing here: build it on this model, as {type(optimizer).__name__}(model, ...)")
