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
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{type(self).__name__}({arguments})"


class Quadratic(Loss):
    """L = (1/N) Σ_n ½‖a_n - y_n‖², the quadratic cost of Nielsen's book; dL/da = (a - y) / N.

    Note the convention: half the squared distance summed over outputs, averaged over examples. For the mean
    over outputs as well, as PyTorch's ``MSELoss`` computes it, use ``MeanSquaredError`` (2/C times this).
    """

    def __call__(self, output, target):
        difference = output - target_matrix(target, output)
        batch_size = len(output)
        loss = 0.5 * float(np.vdot(difference, difference)) / batch_size
        difference *= 1.0 / batch_size
        return loss, difference


class MeanSquaredError(Loss):
    """L = (1/(N C)) Σ_n Σ_j (a_nj - y_nj)², the mean over examples and outputs; dL/da = 2 (a - y) / (N C)."""

    def __call__(self, output, target):
        difference = output - target_matrix(target, output)
        count = max(difference.size, 1)
        loss = float(np.vdot(difference, difference)) / count
        difference *= 2.0 / count
        return loss, difference


class SoftmaxCrossEntropy(Loss):
    """Cross-entropy of softmax(logits): L = (1/N) Σ_n (log Σ_j e^(z_nj) - Σ_j t_nj z_nj), by log-sum-exp.

    The target row t is the one-hot label, or the given row of probabilities. With ``label_smoothing`` ε the
    target is t = (1 - ε) y + ε / C: a little of the probability spread over all C classes, as PyTorch's
    ``cross_entropy(..., label_smoothing=ε)`` does. With p = softmax(z) the gradient fuses to
    dL/dz = (p - t) / N, because Σ_j t_nj = 1: the softmax's Jacobian and the logarithm's 1/p cancel.
    """

    def __init__(self, label_smoothing=0.0):
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)
        self._rows = np.arange(0)

    def __call__(self, output, target):
        target = np.asarray(target)
        batch_size = len(output)
        if target.ndim == 2:
            return self.against_rows(output, target_matrix(target, output))
        labels = class_labels(target, output)
        rows = self._row_indices(batch_size)
        shifted = output - output.max(axis=1, keepdims=True)
        p = np.exp(shifted)
        sum_exp = p.sum(axis=1, keepdims=True)
        # -Σ_j t_j log p_j = log Σ e^shifted - Σ_j t_j shifted_j, with t = (1 - ε) one-hot + ε/C
        label_term = shifted[rows, labels].sum()
        if self.label_smoothing:
            epsilon = self.label_smoothing
            label_term = (1.0 - epsilon) * label_term + epsilon / output.shape[1] * shifted.sum()
        loss = float(np.log(sum_exp).sum() - label_term) / batch_size
        p /= sum_exp
        if self.label_smoothing:
            p -= self.label_smoothing / output.shape[1]
        p[rows, labels] -= 1.0 - self.label_smoothing
        p *= 1.0 / batch_size
        return loss, p

    def against_rows(self, output, target):
        """The loss against rows of probabilities (smoothed too, when ``label_smoothing`` is set)."""
        if self.label_smoothing:
            target = (1.0 - self.label_smoothing) * target + self.label_smoothing / output.shape[1]
            target = target.astype(output.dtype, copy=False)
        loss = -float(np.vdot(target, log_softmax(output))) / len(output)
        return loss, (softmax(output) - target) / len(output)

    def _row_indices(self, batch_size):
        if len(self._rows) != batch_size:
            self._rows = np.arange(batch_size)
        return self._rows

    def config(self):
        return {"label_smoothing": self.label_smoothing}


class ProbabilityCrossEntropy(Loss):
    """L = -(1/N) Σ_n log p_n,y_n for outputs that are already probabilities (after a Softmax layer);
    dL/dp = -y / (N p). For raw scores (logits), as PyTorch's ``cross_entropy`` takes, use
    ``SoftmaxCrossEntropy``.

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
    "mse": MeanSquaredError,
    "softmax_cross_entropy": SoftmaxCrossEntropy,
    "probability_cross_entropy": ProbabilityCrossEntropy,
    "cross_entropy": ProbabilityCrossEntropy,  # the name of earlier releases, kept for saved settings
    "binary_cross_entropy": BinaryCrossEntropy,
}


def get_loss(name_or_loss, **options):
    """A loss by name (see ``LOSSES``), built with ``options`` (``get_loss("softmax_cross_entropy",
    label_smoothing=0.1)``); a ``Loss`` instance is returned as it is."""
    if isinstance(name_or_loss, Loss):
        return name_or_loss
    try:
        cls = LOSSES[name_or_loss]
    except KeyError:
        raise ValueError(f"unknown loss {name_or_loss!r}; known: {', '.join(LOSSES)}") from None
    return cls(**options)
