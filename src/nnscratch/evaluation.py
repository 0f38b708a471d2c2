"""Evaluation: what a network answers for a data set, and how often it is right, in eval mode.

The data are checked once where they enter (``check_data``), then run through the network in batches of
``EVAL_BATCH_SIZE`` with the fast layers of ``fast/`` lent for the duration. ``evaluate`` gives the mean loss and
the accuracy; ``outputs`` the raw outputs, from which ``Sequential.predict`` and ``predict_proba`` answer.
"""
import math
from collections import namedtuple

import numpy as np

from .fast import faster
from .metrics import count_correct

# Examples per forward pass when a network only answers: enough to keep the products efficient, few enough that
# a convolution's unrolled windows stay small (about 50 MB for the cnn-best network).
EVAL_BATCH_SIZE = 256

Evaluation = namedtuple("Evaluation", "loss accuracy correct total")


def evaluate(model, x, y, loss=None, batch_size=EVAL_BATCH_SIZE):
    """Mean loss (if a loss is given; NaN otherwise), accuracy and the counts behind it, in eval mode."""
    return measure(model, *check_data(model, x, y), loss=loss, batch_size=batch_size)


def measure(model, x, y, loss=None, batch_size=EVAL_BATCH_SIZE):
    """``evaluate`` for data already checked."""
    total_loss, correct = 0.0, 0
    with model.mode(training=False), faster(model):
        for start in range(0, len(x), batch_size):
            output = model.forward(x[start:start + batch_size])
            target = y[start:start + batch_size]
            if loss is not None:
                total_loss += loss.value(output, target) * len(output)
            correct += count_correct(output, target)
    total = len(x)
    return Evaluation(total_loss / total if loss is not None else math.nan, correct / total, correct, total)


def outputs(model, x, batch_size=EVAL_BATCH_SIZE):
    """The raw output in eval mode, computed in batches in the model's dtype; the training mode is restored."""
    x = np.asarray(x).astype(model.dtype, copy=False)
    with model.mode(training=False), faster(model):
        return np.concatenate([model.forward(x[start:start + batch_size])
                               for start in range(0, max(len(x), 1), batch_size)])


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
