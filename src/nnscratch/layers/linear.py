"""The fully connected (affine) layer: every output is a weighted sum of every input plus a bias."""
import numpy as np

from ..initializers import as_generator, get_initializer
from .base import Layer, register_layer
from .windows import matmul


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

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Linear expected {self.in_features} input features, got shape {x.shape}")
        self.x = x
        y = matmul(x, self.params["W"])
        y += self.params["b"]
        return y

    def backward(self, grad_out):
        """dL/dW = xᵀ · dL/dy,  dL/db = Σ_rows dL/dy,  dL/dx = dL/dy · Wᵀ."""
        matmul(self.x.T, grad_out, out=self.grads["W"])
        np.sum(grad_out, axis=0, out=self.grads["b"])
        if not self.needs_input_grad:
            return None
        return matmul(grad_out, self.params["W"].T)

    def config(self):
        return {"in_features": self.in_features, "out_features": self.out_features,
                "init": self.init, "bias_init": self.bias_init}
