"""The fully connected (affine) layer: every output is a weighted sum of every input plus a bias."""
import numpy as np

from ..initializers import as_generator, get_initializer
from .base import Layer, register_layer


@register_layer
class Linear(Layer):
    """``y = x W + b`` with x of shape (N, in_features), W (in_features, out_features), b (out_features,)."""

    def __init__(self, in_features, out_features, init="he", bias_init="zeros", rng=None, dtype=np.float32):
        super().__init__()
        if int(in_features) < 1 or int(out_features) < 1:
            raise ValueError(f"Linear needs positive sizes, got ({in_features}, {out_features})")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.init, self.bias_init = init, bias_init
        rng = as_generator(rng)
        self.params["W"] = get_initializer(init)((self.in_features, self.out_features), rng, dtype)
        self.params["b"] = get_initializer(bias_init)((self.out_features,), rng, dtype)
        self.grads["W"] = np.zeros(self.params["W"].shape, dtype)
        self.grads["b"] = np.zeros(self.params["b"].shape, dtype)

    def check(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Linear expected {self.in_features} input features, got shape {x.shape}")

    def forward(self, x):
        self.check(x)
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, grad_out):
        """dL/dW = xᵀ · dL/dy,  dL/db = Σ_rows dL/dy,  dL/dx = dL/dy · Wᵀ."""
        self.grads["W"] = self.x.T @ grad_out
        self.grads["b"] = grad_out.sum(axis=0)
        if not self.needs_input_grad:
            return None
        return grad_out @ self.params["W"].T

    def config(self):
        return {"in_features": self.in_features, "out_features": self.out_features,
                "init": self.init, "bias_init": self.bias_init}
