"""Batch normalisation: standardise every feature over the batch, then let the network rescale and shift it.

Keeping each layer's input at zero mean and unit variance lets a network train faster and with larger learning
rates. In training the statistics are those of the batch; a running average of them is kept (in ``buffers``,
so it is saved with the model) and used in eval mode, where the layer is a fixed affine map.
"""
import numpy as np

from .base import Layer, register_layer


@register_layer
class BatchNorm(Layer):
    """y = γ · (x - μ) / √(σ² + ε) + β, per feature.

    Dense input (N, F): μ, σ² over the N rows. Convolutional input (N, C, H, W): per channel, over N·H·W
    values. γ and β have shape (num_features,). Running averages: r ← (1 - momentum) r + momentum · batch
    value, with the unbiased variance, as in PyTorch.
    """

    def __init__(self, num_features, momentum=0.1, eps=1e-5, dtype=np.float32):
        super().__init__()
        if int(num_features) < 1:
            raise ValueError(f"BatchNorm needs a positive number of features, got {num_features}")
        if not 0.0 <= momentum <= 1.0 or eps <= 0:
            raise ValueError(f"BatchNorm needs momentum in [0, 1] and eps > 0, got {momentum} and {eps}")
        self.num_features, self.momentum, self.eps = int(num_features), float(momentum), float(eps)
        self.params["gamma"] = np.ones(self.num_features, dtype=dtype)
        self.params["beta"] = np.zeros(self.num_features, dtype=dtype)
        self.grads["gamma"] = np.zeros_like(self.params["gamma"])
        self.grads["beta"] = np.zeros_like(self.params["beta"])
        self.buffers["running_mean"] = np.zeros(self.num_features, dtype=dtype)
        self.buffers["running_var"] = np.ones(self.num_features, dtype=dtype)

    def check(self, x):
        if x.ndim not in (2, 4) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm expected input of shape (N, {self.num_features}) or "
                             f"(N, {self.num_features}, H, W), got shape {x.shape}")

    def per_feature(self, x):
        """The axes a feature's statistics run over, and the shape that lines a (features,) vector up with x."""
        return ((0,), (1, -1)) if x.ndim == 2 else ((0, 2, 3), (1, -1, 1, 1))

    def forward(self, x):
        self.check(x)
        axes, shape = self.per_feature(x)
        self.batch_statistics = self.training
        if self.training:
            if x.size // self.num_features < 2:
                raise ValueError(f"BatchNorm needs more than one value per feature to train, got shape {x.shape}")
            mean = x.mean(axis=axes)                                              # μ
            variance = ((x - mean.reshape(shape)) ** 2).mean(axis=axes)            # σ² = mean((x - μ)²)
            self.update_running_statistics(mean, variance, x.size // self.num_features)
        else:
            mean, variance = self.buffers["running_mean"], self.buffers["running_var"]
        self.inverse_std = 1.0 / np.sqrt(variance + self.eps)                       # 1/s = 1/√(σ² + ε)
        self.x_hat = (x - mean.reshape(shape)) * self.inverse_std.reshape(shape)   # x̂ = (x - μ)/s
        return self.params["gamma"].reshape(shape) * self.x_hat + self.params["beta"].reshape(shape)  # γ x̂ + β

    def update_running_statistics(self, mean, variance, count):
        """r ← (1 - momentum) r + momentum · batch value, the variance unbiased: · count / (count - 1)."""
        keep = 1.0 - self.momentum
        self.buffers["running_mean"] *= keep
        self.buffers["running_mean"] += self.momentum * mean
        self.buffers["running_var"] *= keep
        self.buffers["running_var"] += (self.momentum * count / (count - 1)) * variance

    def backward(self, grad_out):
        """With x̂ = (x - μ)/s and g = dL/dy:  dL/dγ = Σ g·x̂,  dL/dβ = Σ g, and, because μ and s depend on
        the batch,  dL/dx = (γ / s) · (g - mean(g) - x̂ · mean(g·x̂)), the means over the same values as μ.
        In eval mode μ and s are constants and dL/dx = γ g / s."""
        self.check(grad_out)
        axes, shape = self.per_feature(grad_out)
        self.grads["gamma"] = (grad_out * self.x_hat).sum(axis=axes)                # Σ g·x̂
        self.grads["beta"] = grad_out.sum(axis=axes)                                # Σ g
        if not self.needs_input_grad:
            return None
        scale = (self.params["gamma"] * self.inverse_std).reshape(shape)          # γ / s
        if not self.batch_statistics:
            return scale * grad_out
        count = grad_out.size // self.num_features
        return scale * (grad_out - (self.grads["beta"] / count).reshape(shape)
                        - self.x_hat * (self.grads["gamma"] / count).reshape(shape))

    def config(self):
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps}
