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

    def layout(self, x):
        """The axes to average over, and the shape that broadcasts a per-feature vector against x."""
        if x.ndim not in (2, 4) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm expected input of shape (N, {self.num_features}) or "
                             f"(N, {self.num_features}, H, W), got shape {x.shape}")
        if x.ndim == 2:
            return (0,), (1, self.num_features)
        return (0, 2, 3), (1, self.num_features, 1, 1)

    def forward(self, x):
        axes, shape = self.layout(x)
        count = x.size // self.num_features
        if self.training:
            if count < 2:
                raise ValueError(f"BatchNorm needs more than one value per feature to train, got shape {x.shape}")
            mean = x.mean(axis=axes)
            centred = x - mean.reshape(shape)
            variance = np.mean(centred * centred, axis=axes)
            keep = 1.0 - self.momentum
            self.buffers["running_mean"] *= keep
            self.buffers["running_mean"] += self.momentum * mean
            self.buffers["running_var"] *= keep
            self.buffers["running_var"] += (self.momentum * count / (count - 1)) * variance
        else:
            centred = x - self.buffers["running_mean"].reshape(shape)
            variance = self.buffers["running_var"]
        self.inverse_std = (1.0 / np.sqrt(variance + self.eps)).astype(x.dtype, copy=False)
        self.x_hat = centred
        self.x_hat *= self.inverse_std.reshape(shape)
        self.axes, self.shape = axes, shape
        y = self.x_hat * self.params["gamma"].reshape(shape)
        y += self.params["beta"].reshape(shape)
        return y

    def backward(self, grad_out):
        """With x̂ = (x - μ)/s and g = dL/dy:  dL/dγ = Σ g·x̂,  dL/dβ = Σ g, and, because μ and s depend on
        the batch,  dL/dx = (γ / s) · (g - mean(g) - x̂ · mean(g·x̂)), the means over the same values as μ.
        In eval mode μ and s are constants and dL/dx = γ g / s."""
        axes, shape = self.axes, self.shape
        grad_beta = grad_out.sum(axis=axes)
        grad_gamma = np.sum(grad_out * self.x_hat, axis=axes)
        self.grads["beta"][...] = grad_beta
        self.grads["gamma"][...] = grad_gamma
        if not self.needs_input_grad:
            return None
        scale = (self.params["gamma"] * self.inverse_std).reshape(shape)
        if not self.training:
            return grad_out * scale
        count = grad_out.size // self.num_features
        grad_x = grad_out - (grad_beta / count).reshape(shape)
        grad_x -= self.x_hat * (grad_gamma / count).reshape(shape)
        grad_x *= scale
        return grad_x

    def config(self):
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps}
