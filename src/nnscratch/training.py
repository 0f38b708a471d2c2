"""Training: one step of gradient descent, evaluation, and ``fit``, the loop over epochs and mini-batches.

``fit`` shuffles the data each epoch (from an explicit generator), steps through it in mini-batches, measures
the validation set after every epoch, stops early when validation stops improving and puts the best weights
back. It never prints: progress goes to a ``Callback``. ``batch_size=len(x)`` is full-batch gradient descent
and ``batch_size=1`` per-example SGD.
"""
import math
import time
from collections import namedtuple

import numpy as np

from .initializers import as_generator
from .metrics import count_correct

Evaluation = namedtuple("Evaluation", "loss accuracy correct total")


class DivergenceError(FloatingPointError):
    """The loss became NaN or infinite: training has diverged."""


class Callback:
    """Hooks that ``fit`` calls as it goes; override the ones you need (each does nothing here)."""

    def on_epoch_begin(self, epoch, steps):
        pass

    def on_batch_end(self, epoch, step, loss):
        pass

    def on_epoch_end(self, record):
        pass


class History:
    """The per-epoch record of a run: ``history["val_accuracy"]`` is that metric's list over epochs."""

    def __init__(self, epochs=None):
        self.epochs = list(epochs or [])
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
        return {"epochs": self.epochs, "best_epoch": self.best_epoch,
                "stopped_early": self.stopped_early, "interrupted": self.interrupted}

    @classmethod
    def from_dict(cls, data):
        history = cls(data.get("epochs", []))
        history.best_epoch = data.get("best_epoch")
        history.stopped_early = bool(data.get("stopped_early", False))
        history.interrupted = bool(data.get("interrupted", False))
        return history


def train_step(model, loss, optimizer, x, y):
    """Forward, loss, backward, update. Returns the batch's mean loss and the model's output."""
    output = model.forward(x)
    value, grad_output = loss(output, y)
    model.backward(grad_output)
    optimizer.step()
    return value, output


def evaluate(model, x, y, loss=None, batch_size=1024):
    """Mean loss (if a loss is given; NaN otherwise), accuracy and the counts behind it, in eval mode."""
    return measure(model, *check_data(model, x, y), loss=loss, batch_size=batch_size)


def measure(model, x, y, loss=None, batch_size=1024):
    """``evaluate`` for data already checked."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    try:
        for start in range(0, len(x), batch_size):
            output = model.forward(x[start:start + batch_size])
            target = y[start:start + batch_size]
            if loss is not None:
                total_loss += loss.value(output, target) * len(output)
            correct += count_correct(output, target)
    finally:
        model.train(was_training)
    total = len(x)
    return Evaluation(total_loss / total if loss is not None else math.nan, correct / total, correct, total)


def fit(model, x, y, loss, optimizer, epochs=10, batch_size=32, shuffle=True, validation_data=None,
        patience=None, callback=None, rng=None, history=None, transform=None):
    """Train ``model`` on ``(x, y)`` with mini-batch gradient descent and return its ``History``.

    Parameters
    ----------
    model, loss, optimizer : the network, a ``Loss`` and an ``Optimizer`` built on the same network.
    x, y : inputs (one example per row) and targets (integer labels, or rows like the output).
    epochs : passes over the data; with ``history`` given, numbering (and early stopping) continues where it ended.
    batch_size : examples per step; ``len(x)`` for full-batch descent, 1 for per-example SGD.
    shuffle : draw a new order each epoch from ``rng``; otherwise take the batches in file order.
    validation_data : ``(x_val, y_val)``, measured after every epoch.
    patience : stop after this many epochs without a lower validation loss, and restore the best weights.
    callback : a ``Callback`` told of each batch and epoch (the loop itself never prints).
    rng : a ``np.random.Generator`` or seed for shuffling; the same seed gives the same run, bit for bit.
    transform : ``transform(x_batch, rng) -> x_batch`` applied to each training batch (data augmentation).

    Raises ``DivergenceError`` when the loss becomes NaN or infinite. Ctrl-C ends training at once; the history is returned with ``interrupted`` set (and the best weights restored, with validation).
    """
    x, y = check_data(model, x, y)
    if validation_data is not None:
        validation_data = check_data(model, *validation_data)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if patience is not None and validation_data is None:
        raise ValueError("early stopping (patience) needs validation_data")
    rng = as_generator(rng)
    callback = callback or Callback()
    history = history if history is not None else History()
    batch_size = min(int(batch_size), len(x))
    steps = math.ceil(len(x) / batch_size)
    first_epoch = len(history)
    best_loss, best_state, waited = best_so_far(history)

    was_training = model.training
    model.train()
    needed_input_grad = model.needs_input_grad
    model.needs_input_grad = False
    try:
        for epoch in range(first_epoch, first_epoch + epochs):
            started = time.perf_counter()
            order = rng.permutation(len(x)) if shuffle else None
            callback.on_epoch_begin(epoch, steps)
            total_loss, correct = 0.0, 0
            for step in range(steps):
                optimizer.set_epoch(epoch + step / steps)
                rows = slice(step * batch_size, (step + 1) * batch_size)
                if order is None:
                    x_batch, y_batch = x[rows], y[rows]
                else:
                    x_batch, y_batch = x.take(order[rows], axis=0), y.take(order[rows], axis=0)
                if transform is not None:
                    x_batch = transform(x_batch, rng)
                value, output = train_step(model, loss, optimizer, x_batch, y_batch)
                if not math.isfinite(value):
                    raise DivergenceError(
                        f"the loss became {value} at epoch {epoch + 1}, step {step + 1} with learning rate "
                        f"{optimizer.lr:g}: training diverged; try a smaller learning rate"
                    )
                total_loss += value * len(x_batch)
                correct += count_correct(output, y_batch)
                callback.on_batch_end(epoch, step, value)
            record = {"epoch": epoch + 1, "loss": total_loss / len(x), "accuracy": correct / len(x),
                      "lr": optimizer.lr}
            if validation_data is not None:
                result = measure(model, *validation_data, loss=loss)
                record.update(val_loss=result.loss, val_accuracy=result.accuracy,
                              val_correct=result.correct, val_total=result.total)
            record["seconds"] = time.perf_counter() - started
            history.append(record)
            callback.on_epoch_end(record)
            if validation_data is not None and patience is not None:
                if record["val_loss"] < best_loss:
                    best_loss, best_state, waited = record["val_loss"], model.state_dict(), 0
                    history.best_epoch = record["epoch"]
                else:
                    waited += 1
                    if waited >= patience:
                        history.stopped_early = True
                        break
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        model.needs_input_grad = needed_input_grad
        model.train(was_training)
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def best_so_far(history):
    """Early stopping's starting point when a run goes on: the lowest validation loss in ``history`` and the
    epochs since it (the weights of an earlier call are not kept here, so only a new best is restored)."""
    losses = [loss for loss in history["val_loss"] if loss is not None]
    if not losses:
        return math.inf, None, 0
    best = min(losses)
    return best, None, len(history) - 1 - history["val_loss"].index(best)


def check_data(model, x, y):
    """Inputs as the model's float dtype and targets as an array, checked for matching length and finite values."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim < 2:
        raise ValueError(f"inputs must have one example per row (2-D or more), got shape {x.shape}")
    if len(x) != len(y):
        raise ValueError(f"{len(x)} inputs but {len(y)} targets")
    if len(x) == 0:
        raise ValueError("no examples to train or evaluate on")
    x = x.astype(model.dtype, copy=False)
    if not all_finite(x):
        raise ValueError("the inputs contain NaN or infinite values")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("the targets contain NaN or infinite values")
    return x, y


def all_finite(array):
    """Whether ``array`` holds no NaN or infinity. A matrix-vector product carries any of them into its result
    and runs on every core; only when that result is not finite are the values checked one by one."""
    rows = array.reshape(len(array), -1)
    with np.errstate(over="ignore", invalid="ignore"):
        sums = rows @ np.ones(rows.shape[1], dtype=rows.dtype)
    if np.isfinite(sums).all():
        return True
    return bool(np.isfinite(array).all())
