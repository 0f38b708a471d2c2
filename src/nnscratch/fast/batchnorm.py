"""BatchNorm, fast: each feature's values as one contiguous row, worked through in cache-sized blocks of rows.

The same equations as ``layers/batchnorm.py``. Here a convolutional batch is read as the (C, H·W·N) matrix of its
(C, H, W, N) layout, free for a fast convolution's output, and every pass of the forward (mean, variance,
normalise, scale and shift) and of the backward runs on a block of rows that stays in the cache, the blocks
shared among the pool's threads (``in_cache_sized_blocks``), writing into arrays allocated once.
"""
import numpy as np

from .layout import as_batch_innermost, batch_first
from .pool import in_cache_sized_blocks


class FastBatchNorm:
    """The fast twin of one ``BatchNorm``, for ``fast.faster`` to lend it."""

    def __init__(self, layer):
        self.layer = layer

    def feature_rows(self, x):
        """x as a (features, values of each feature) matrix: xᵀ for dense input; for (N, C, H, W) input its
        (C, H·W·N) view, free for a fast convolution's output, so that every feature's values are one row."""
        return x.T if x.ndim == 2 else as_batch_innermost(x).reshape(self.layer.num_features, -1)

    @staticmethod
    def new_output(x):
        """A new array shaped like x, and its ``feature_rows`` view, through which it is written."""
        if x.ndim == 2:
            out = np.empty(x.shape, x.dtype)
            return out, out.T
        batch, channels, height, width = x.shape
        inner = np.empty((channels, height, width, batch), x.dtype)
        return batch_first(inner), inner.reshape(channels, -1)

    def forward(self, x):
        """Feature by feature, a block of rows at a time: μ, σ², x̂ = (x - μ)/√(σ² + ε), y = γ x̂ + β."""
        layer = self.layer
        layer.check(x)
        values = self.feature_rows(x)
        count = values.shape[1]
        y, y_rows = self.new_output(x)
        gamma, beta = layer.params["gamma"][:, None], layer.params["beta"][:, None]
        if layer.training:
            if count < 2:
                raise ValueError(f"BatchNorm needs more than one value per feature to train, got shape {x.shape}")
            _, self.x_hat = self.new_output(x)
            mean = np.empty(layer.num_features, x.dtype)
            variance = np.empty(layer.num_features, x.dtype)

            def normalize(first, last):
                rows, x_hat, out = values[first:last], self.x_hat[first:last], y_rows[first:last]
                mean[first:last] = rows.mean(axis=1)
                np.subtract(rows, mean[first:last, None], out=x_hat)
                np.multiply(x_hat, x_hat, out=out)                      # out holds the squares for a moment
                variance[first:last] = out.mean(axis=1)
                x_hat *= (1.0 / np.sqrt(variance[first:last] + layer.eps))[:, None].astype(x.dtype)
                np.multiply(x_hat, gamma[first:last], out=out)
                out += beta[first:last]

            in_cache_sized_blocks(normalize, layer.num_features, count)
            layer.update_running_statistics(mean, variance, count)
        else:                                        # a fixed affine map: y = x·γ/s + (β - μ·γ/s)
            self.x_hat, self.values = None, values   # x̂ is needed only by a backward, which computes it
            variance = layer.buffers["running_var"]
        self.inverse_std = (1.0 / np.sqrt(variance + layer.eps)).astype(x.dtype, copy=False)
        if not layer.training:
            scale = (layer.params["gamma"] * self.inverse_std)[:, None]
            shift = beta - layer.buffers["running_mean"][:, None] * scale

            def affine(first, last):
                np.multiply(values[first:last], scale[first:last], out=y_rows[first:last])
                y_rows[first:last] += shift[first:last]

            in_cache_sized_blocks(affine, layer.num_features, count)
        return y

    def backward(self, grad_out):
        """dL/dγ = Σ g·x̂, dL/dβ = Σ g, dL/dx = (γ / s)(g - mean(g) - x̂ · mean(g·x̂)); γ g / s in eval mode."""
        layer = self.layer
        layer.check(grad_out)
        grads = self.feature_rows(grad_out)
        count = grads.shape[1]
        grad_x, grad_rows = self.new_output(grad_out)
        grad_beta = np.empty(layer.num_features, grad_out.dtype)
        grad_gamma = np.empty(layer.num_features, grad_out.dtype)
        scale = (layer.params["gamma"] * self.inverse_std)[:, None]
        x_hat = self.x_hat
        if x_hat is None:                            # forward ran in eval mode: x̂ = (x - running mean)/s
            mean = layer.buffers["running_mean"][:, None]
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
            if not layer.needs_input_grad:
                return
            if x_hat is None:                                           # eval mode: γ g / s
                np.multiply(g, scale[first:last], out=out)
                return
            np.multiply(x_hat[first:last], (grad_gamma[first:last] / count)[:, None], out=out)
            np.subtract(g, out, out=out)
            out -= (grad_beta[first:last] / count)[:, None]
            out *= scale[first:last]

        in_cache_sized_blocks(differentiate, layer.num_features, count)
        layer.grads["gamma"][...], layer.grads["beta"][...] = grad_gamma, grad_beta
        return grad_x if layer.needs_input_grad else None
