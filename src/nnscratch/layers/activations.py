"""Element-wise non-linearities, and softmax across each row.

Each backward multiplies the incoming gradient by the local derivative, written next to the forward
expression it differentiates. None of them has parameters, and all keep the dtype they are given.
"""
import numpy as np

from .base import Layer, register_layer


@register_layer
class Sigmoid(Layer):
    """σ(x) = 1 / (1 + e^(-x)), computed as ½(1 + tanh(x/2)) so that it never overflows."""

    def forward(self, x):
        y = np.tanh(x * 0.5)
        y += 1.0
        y *= 0.5
        self.y = y
        return y

    def backward(self, grad_out):
        """σ'(x) = σ(x)(1 - σ(x))."""
        return grad_out * self.y * (1.0 - self.y)


@register_layer
class Tanh(Layer):
    """tanh(x)."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, grad_out):
        """tanh'(x) = 1 - tanh(x)²."""
        return grad_out * (1.0 - self.y * self.y)


@register_layer
class ReLU(Layer):
    """max(0, x)."""

    def forward(self, x):
        self.active = x > 0
        return np.maximum(x, 0)

    def backward(self, grad_out):
        """ReLU'(x) = 1 where x > 0, else 0 (0 at x = 0 itself, as in PyTorch)."""
        return grad_out * self.active


@register_layer
class LeakyReLU(Layer):
    """x where x > 0, else αx."""

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        self.slope = np.where(x > 0, x.dtype.type(1), x.dtype.type(self.alpha))
        return x * self.slope

    def backward(self, grad_out):
        """The derivative is the slope that forward applied: 1 or α."""
        return grad_out * self.slope

    def config(self):
        return {"alpha": self.alpha}


@register_layer
class Softmax(Layer):
    """p_i = e^(x_i) / Σ_j e^(x_j) along each row, with the row maximum subtracted first (no overflow).

    For training a classifier, prefer logits with ``SoftmaxCrossEntropy``: its fused gradient is cheaper and
    more accurate. This layer is for models whose output should be probabilities.
    """

    def forward(self, x):
        self.p = softmax(x)
        return self.p

    def backward(self, grad_out):
        """∂p_i/∂x_k = p_i(δ_ik - p_k), so dL/dx = p ⊙ (g - Σ_i g_i p_i) for each row."""
        p = self.p
        return p * (grad_out - np.sum(grad_out * p, axis=1, keepdims=True))


def softmax(x):
    """Row-wise softmax of a 2-D array."""
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted, out=shifted)
    e /= e.sum(axis=1, keepdims=True)
    return e


def log_softmax(x):
    """Row-wise log-softmax: x - max - log Σ e^(x - max)."""
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "leaky_relu": LeakyReLU, "softmax": Softmax}
