"""Losses: how far a batch of outputs is from its targets.

Calling a loss returns two things: the mean over the batch of the per-example loss, and the gradient of that
mean with respect to the output, ready for the last layer's ``backward``. Targets are integer class labels of
shape (N,) or, for every loss, rows of the same shape as the output (one-hot or probabilities).
"""
import numpy as np

from .layers.activations import log_softmax, softmax


def target_matrix(target, output):
    """Targets as a matrix shaped like ``output``: integer labels become one-hot rows of width output.shape[1]."""
    target = np.asarray(target)
    if target.ndim == 2:
        if target.shape != output.shape:
            raise ValueError(f"target shape {target.shape} does not match output shape {output.shape}")
        return target.astype(output.dtype, copy=False)
    labels = class_labels(target, output)
    one_hot = np.zeros_like(output)
    one_hot[np.arange(len(labels)), labels] = 1.0
    return one_hot


def class_labels(target, output):
    """Check integer labels against an output of shape (N, classes) and return them."""
    if target.ndim != 1 or len(target) != len(output):
        raise ValueError(f"expected {len(output)} integer labels, got an array of shape {target.shape}")
    if target.dtype.kind not in "iu":
        raise ValueError(f"class labels must be integers, got dtype {target.dtype}")
    if len(target) and (target.min() < 0 or target.max() >= output.shape[1]):
        raise ValueError(f"labels must lie in [0, {output.shape[1]}), got [{target.min()}, {target.max()}]")
    return target


class Loss:
    """``loss(output, target) -> (mean loss, dL/d output)``; ``loss.value(output, target)`` skips the gradient."""

    def __call__(self, output, target):
        raise NotImplementedError

    def value(self, output, target):
        return self(output, target)[0]

    def config(self):
        return {}

    def __repr__(self):
        return f"{type(self).__name__}()"


class Quadratic(Loss):
    """L = (1/N) Σ_n ½‖a_n - y_n‖², the quadratic cost of Nielsen's book; dL/da = (a - y) / N.

    Note the convention: half the squared distance summed over outputs, averaged over examples. PyTorch's
    ``MSELoss`` averages over outputs too, so its value is 2/C times this one.
    """

    def __call__(self, output, target):
        difference = output - target_matrix(target, output)
        batch_size = len(output)
        loss = 0.5 * float(np.vdot(difference, difference)) / batch_size
        difference *= 1.0 / batch_size
        return loss, difference


MeanSquaredError = Quadratic


class SoftmaxCrossEntropy(Loss):
    """Cross-entropy of softmax(logits): L = (1/N) Σ_n (log Σ_j e^(z_nj) - z_n,y_n), by log-sum-exp.

    With p = softmax(z) the gradient fuses to dL/dz = (p - y) / N, y one-hot: the softmax's Jacobian and the
    logarithm's 1/p cancel.
    """

    def __init__(self):
        self._rows = np.arange(0)

    def __call__(self, output, target):
        target = np.asarray(target)
        batch_size = len(output)
        if target.ndim == 2:
            target = target_matrix(target, output)
            loss = -float(np.vdot(target, log_softmax(output))) / batch_size
            return loss, (softmax(output) - target) / batch_size
        labels = class_labels(target, output)
        rows = self._row_indices(batch_size)
        shifted = output - output.max(axis=1, keepdims=True)
        p = np.exp(shifted)
        sum_exp = p.sum(axis=1, keepdims=True)
        loss = float(np.log(sum_exp).sum() - shifted[rows, labels].sum()) / batch_size
        p /= sum_exp
        p[rows, labels] -= 1.0
        p *= 1.0 / batch_size
        return loss, p

    def _row_indices(self, batch_size):
        if len(self._rows) != batch_size:
            self._rows = np.arange(batch_size)
        return self._rows


class CrossEntropy(Loss):
    """L = -(1/N) Σ_n log p_n,y_n for outputs that are probabilities (after a Softmax layer); dL/dp = -y / (N p).

    Probabilities are clipped to [eps, 1] first, so log(0) never happens.
    """

    def __init__(self, eps=1e-7):
        self.eps = float(eps)

    def __call__(self, output, target):
        target = target_matrix(target, output)
        clipped = np.clip(output, self.eps, 1.0)
        batch_size = len(output)
        loss = -float(np.vdot(target, np.log(clipped))) / batch_size
        return loss, -target / clipped / batch_size

    def config(self):
        return {"eps": self.eps}


class BinaryCrossEntropy(Loss):
    """L = -(1/N) Σ_n Σ_j [y log p + (1 - y) log(1 - p)] for independent probabilities p (after a Sigmoid).

    Integer labels mean one-hot rows, or, for a single output column, the 0/1 targets themselves.

    dL/dp = (p - y) / (p (1 - p)) / N, with p clipped to [eps, 1 - eps].
    """

    def __init__(self, eps=1e-7):
        self.eps = float(eps)

    def __call__(self, output, target):
        target = np.asarray(target)
        if target.ndim == 1 and output.shape[1:] == (1,):
            target = target.reshape(-1, 1)  # one probability per example: labels are the 0/1 targets themselves
        target = target.astype(output.dtype) if target.shape == output.shape else target_matrix(target, output)
        if target.size and (target.min() < 0 or target.max() > 1):
            raise ValueError(f"binary targets must lie in [0, 1], got [{target.min()}, {target.max()}]")
        p = np.clip(output, self.eps, 1.0 - self.eps)
        batch_size = len(output)
        loss = -float(np.sum(target * np.log(p) + (1.0 - target) * np.log1p(-p))) / batch_size
        return loss, (p - target) / (p * (1.0 - p)) / batch_size

    def config(self):
        return {"eps": self.eps}


LOSSES = {
    "quadratic": Quadratic,
    "mse": Quadratic,
    "softmax_cross_entropy": SoftmaxCrossEntropy,
    "cross_entropy": CrossEntropy,
    "binary_cross_entropy": BinaryCrossEntropy,
}


def get_loss(name_or_loss):
    """A loss by name (see ``LOSSES``); a ``Loss`` instance is returned as it is."""
    if isinstance(name_or_loss, Loss):
        return name_or_loss
    try:
        return LOSSES[name_or_loss]()
    except KeyError:
        raise ValueError(f"unknown loss {name_or_loss!r}; known: {', '.join(LOSSES)}") from None
