"""Batch normalisation: standardise every feature over the batch, then let the network rescale and shift it.

Keeping each layer's input at zero mean and unit variance lets a network train faster and with larger learning
rates. In training the statistics are those of the batch; a running average of them is kept (in ``buffers``,
so it is saved with the model) and used in eval mode, where the layer is a fixed affine map.
"""
import numpy as np

from .base import Layer, register_layer
from .windows import as_batch_innermost, batch_first, in_cache_sized_blocks


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

    def feature_rows(self, x):
        """x as a (features, values of each feature) matrix: xᵀ for dense input; for (N, C, H, W) input its
        (C, H·W·N) view, free for a convolution's output (``as_batch_innermost``), so that every feature's values
        are one contiguous row."""
        return x.T if x.ndim == 2 else as_batch_innermost(x).reshape(self.num_features, -1)

    def new_output(self, x):
        """A new array shaped like x, and its ``feature_rows`` view, through which it is written."""
        if x.ndim == 2:
            out = np.empty(x.shape, x.dtype)
            return out, out.T
        batch, channels, height, width = x.shape
        inner = np.empty((channels, height, width, batch), x.dtype)
        return batch_first(inner), inner.reshape(channels, -1)

    def forward(self, x):
        """Feature by feature (a block of rows at a time, on every core, ``in_cache_sized_blocks``):
        μ = mean(x), σ² = mean((x - μ)²), x̂ = (x - μ)/√(σ² + ε), y = γ x̂ + β."""
        self.check(x)
        values = self.feature_rows(x)
        count = values.shape[1]
        y, y_rows = self.new_output(x)
        gamma, beta = self.params["gamma"][:, None], self.params["beta"][:, None]
        if self.training:
            if count < 2:
                raise ValueError(f"BatchNorm needs more than one value per feature to train, got shape {x.shape}")
            _, self.x_hat = self.new_output(x)
            mean = np.empty(self.num_features, x.dtype)
            variance = np.empty(self.num_features, x.dtype)

            def normalize(first, last):
                rows, x_hat, out = values[first:last], self.x_hat[first:last], y_rows[first:last]
                mean[first:last] = rows.mean(axis=1)
                np.subtract(rows, mean[first:last, None], out=x_hat)
                np.multiply(x_hat, x_hat, out=out)                      # out holds the squares for a moment
                variance[first:last] = out.mean(axis=1)
                x_hat *= (1.0 / np.sqrt(variance[first:last] + self.eps))[:, None].astype(x.dtype)
                np.multiply(x_hat, gamma[first:last], out=out)
                out += beta[first:last]

            in_cache_sized_blocks(normalize, self.num_features, count)
            keep = 1.0 - self.momentum
            self.buffers["running_mean"] *= keep
            self.buffers["running_mean"] += self.momentum * mean
            self.buffers["running_var"] *= keep
            self.buffers["running_var"] += (self.momentum * count / (count - 1)) * variance
        else:                                        # a fixed affine map: y = x·γ/s + (β - μ·γ/s)
            self.x_hat, self.values = None, values   # x̂ is needed only by a backward, which computes it
            variance = self.buffers["running_var"]
        self.inverse_std = (1.0 / np.sqrt(variance + self.eps)).astype(x.dtype, copy=False)
        if not self.training:
            scale = (self.params["gamma"] * self.inverse_std)[:, None]
            shift = beta - self.buffers["running_mean"][:, None] * scale

            def affine(first, last):
                np.multiply(values[first:last], scale[first:last], out=y_rows[first:last])
                y_rows[first:last] += shift[first:last]

            in_cache_sized_blocks(affine, self.num_features, count)
        return y

    def backward(self, grad_out):
        """With x̂ = (x - μ)/s and g = dL/dy:  dL/dγ = Σ g·x̂,  dL/dβ = Σ g, and, because μ and s depend on
        the batch,  dL/dx = (γ / s) · (g - mean(g) - x̂ · mean(g·x̂)), the means over the same values as μ.
        In eval mode μ and s are constants and dL/dx = γ g / s."""
        self.check(grad_out)
        grads = self.feature_rows(grad_out)
        count = grads.shape[1]
        grad_x, grad_rows = self.new_output(grad_out)
        grad_beta, grad_gamma = self.grads["beta"], self.grads["gamma"]
        scale = (self.params["gamma"] * self.inverse_std)[:, None]
        x_hat = self.x_hat
        if x_hat is None:                            # forward ran in eval mode: x̂ = (x - running mean)/s
            mean = self.buffers["running_mean"][:, None]
            inverse_std = self.inverse_std[:, None]

        def differentiate(first, last):
            g, out = grads[first:last], grad_rows[first:last]
            if x_hat is None:
                np.subtract(self.values[first:last], mean[first:last], out=out)
                out *= inverse_std[first:last]
                out *= g
            else:
                np.multiply(g, x_hat[first:last], out=out)
            grad_gamma[first:last] = out.sum(axis=1)                    # Σ g·x̂
            grad_beta[first:last] = g.sum(axis=1)
            if not self.needs_input_grad:
                return
            if x_hat is None:                                           # eval mode: γ g / s
                np.multiply(g, scale[first:last], out=out)
                return
            np.multiply(x_hat[first:last], (grad_gamma[first:last] / count)[:, None], out=out)
            np.subtract(g, out, out=out)
            out -= (grad_beta[first:last] / count)[:, None]
            out *= scale[first:last]

        in_cache_sized_blocks(differentiate, self.num_features, count)
        return grad_x if self.needs_input_grad else None

    def config(self):
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps}
