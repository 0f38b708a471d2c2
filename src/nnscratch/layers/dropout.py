"""Dropout: during training, zero each input with probability p, so that no unit can rely on another."""
import numpy as np

from ..initializers import as_generator
from .base import Layer, register_layer


@register_layer
class Dropout(Layer):
    """Inverted dropout: y = x ⊙ m / (1 - p) with m_i ~ Bernoulli(1 - p) in training, y = x in eval mode.

    Scaling by 1 / (1 - p) while training keeps the expected activation unchanged, so nothing is rescaled
    at inference time.
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout probability must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = as_generator(rng)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        self.mask = keep * np.asarray(1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * self.mask

    def backward(self, grad_out):
        """dL/dx = dL/dy ⊙ m / (1 - p): the same mask and scale as forward."""
        if self.mask is None:
            return grad_out
        return grad_out * self.mask

    def config(self):
        return {"p": self.p}
