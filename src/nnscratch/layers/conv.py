"""Two-dimensional convolution: every output pixel is a weighted sum over a small window of every input channel.

The forward pass unrolls each window into one column of a matrix X (im2col) and computes y = W X + b in a
single matrix product; the backward pass multiplies the other way round and folds the columns back onto the
image they came from (col2im); the bias rides along as one more column of the kernel matrix, against a row of
ones. Inputs are NCHW, as in PyTorch; how the windows are unrolled and folded quickly (the (C, H, W, N) layout
underneath, reused workspaces, threads) is ``windows.py``'s business. On small maps with many channels the same
function takes fewer multiply-adds by the convolution theorem (``spectral.py``); Conv2D counts both ways and
takes the cheaper.
"""
import numpy as np

from ..initializers import as_generator, get_initializer
from . import spectral
from .base import Layer, register_layer
from .windows import (Workspace, batch_first, batch_innermost, col2im, im2col, matmul, output_size, pad, pair,
                      unpad, weight_gradient)


@register_layer
class Conv2D(Layer):
    """y[n, o] = b[o] + Σ_c W[o, c] ⋆ x[n, c]  (cross-correlation, as in every deep-learning library).

    x: (N, C_in, H, W), W: (C_out, C_in, kh, kw), b: (C_out,), y: (N, C_out, OH, OW) with
    OH = (H + 2·padding - kh) // stride + 1, and likewise OW.
    """

    works_on_the_pool = True
    method = "auto"  # how forward computes: "unrolled" windows, "spectral" (stride 1), or "auto": the cheaper

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, init="he",
                 bias_init="zeros", rng=None, dtype=np.float32):
        super().__init__()
        if int(in_channels) < 1 or int(out_channels) < 1:
            raise ValueError(f"Conv2D needs positive channel counts, got ({in_channels}, {out_channels})")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = pair(padding, "padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"Conv2D needs kernel_size >= 1, stride >= 1 and padding >= 0, got "
                             f"{self.kernel_size}, {self.stride} and {self.padding}")
        self.init, self.bias_init = init, bias_init
        rng = as_generator(rng)
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.params["W"] = get_initializer(init)(shape, rng, dtype)
        self.params["b"] = get_initializer(bias_init)((self.out_channels,), rng, dtype)
        self.grads["W"] = np.zeros(self.params["W"].shape, dtype)
        self.grads["b"] = np.zeros(self.params["b"].shape, dtype)
        self.workspace = Workspace(limit=16)

    def chosen_method(self, padded_shape):
        """"spectral" where it needs fewer multiply-adds than unrolling the windows (stride 1 only), or where
        ``method`` asks for it; "unrolled" otherwise."""
        if self.method not in ("auto", "unrolled", "spectral"):
            raise ValueError(f"Conv2D.method must be 'auto', 'unrolled' or 'spectral', got {self.method!r}")
        if self.method != "auto":
            if self.method == "spectral" and self.stride != (1, 1):
                raise ValueError(f"Conv2D computes spectrally with stride 1 only, not {self.stride}")
            return self.method
        if self.stride != (1, 1):
            return "unrolled"
        channels, height, width, _ = padded_shape
        unrolled, by_spectrum = spectral.multiply_adds(channels, self.out_channels, height, width,
                                                       self.kernel_size, self.needs_input_grad)
        return "spectral" if by_spectrum < unrolled else "unrolled"

    def kernel_matrix(self):
        """W as a (C_out, C_in·kh·kw) matrix: a free reshape, columns in im2col's (c, i, j) row order."""
        return self.params["W"].reshape(self.out_channels, -1)

    def unrolled_windows(self, x_inner, allocate):
        """X̃ = [X; 1]: im2col's matrix with a row of ones below it, against which the bias column of [W | b]
        is multiplied, so that one product gives W X + b (and one product in backward gives dL/dW and dL/db).
        ``allocate(shape, dtype)`` supplies the array."""
        channels, height, width, batch = x_inner.shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        columns = output_size(height, kh, sh, 0) * output_size(width, kw, sw, 0) * batch
        cols = allocate((channels * kh * kw + 1, columns), x_inner.dtype)
        im2col(x_inner, self.kernel_size, self.stride, cols[:-1])
        cols[-1] = 1
        return cols

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2D expected input of shape (N, {self.in_channels}, H, W), got shape {x.shape}")
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        batch, _, height, width = x.shape
        out_h = output_size(height, kh, self.stride[0], ph)
        out_w = output_size(width, kw, self.stride[1], pw)
        if out_h < 1 or out_w < 1:
            raise ValueError(f"Conv2D kernel {self.kernel_size} does not fit input of shape {x.shape} "
                             f"with padding {self.padding}")
        # Training reuses scratch arrays from step to step; evaluation (often of large batches) lets them go.
        scratch = self.workspace.get if self.training else (lambda purpose, shape, dtype: np.zeros(shape, dtype))
        x_inner = pad(batch_innermost(x), self.padding, lambda shape, dtype: scratch("padded", shape, dtype))
        self.padded_shape = x_inner.shape
        self.computed = self.chosen_method(x_inner.shape)
        if self.computed == "spectral":
            y, self.spectra = spectral.convolve(x_inner, self.params["W"], self.params["b"], scratch)
            return batch_first(y)
        cols = self.unrolled_windows(x_inner, lambda shape, dtype: scratch("cols", shape, dtype))
        kernel_and_bias = np.concatenate([self.kernel_matrix(), self.params["b"][:, None]], axis=1)
        y = matmul(kernel_and_bias, cols)                                      # W X + b: (C_out, OH·OW·N)
        # Keep the unrolled windows for backward in training; in eval mode keep the (cheaper) input instead.
        self.cols, self.x_inner = (cols, None) if self.training else (None, x_inner)
        return batch_first(y.reshape(self.out_channels, out_h, out_w, batch))

    def backward(self, grad_out):
        """With X the im2col matrix and G = dL/dy as a (C_out, OH·OW·N) matrix, y = W X + b gives
        dL/dW = G Xᵀ,  dL/db = Σ_columns G = G·1,  dL/dX = Wᵀ G, and dL/dx = col2im(dL/dX).
        The first two come out of one product: G [X; 1]ᵀ = [dL/dW | dL/db]."""
        if self.computed == "spectral":
            grad_W, grad_b, grad_padded = spectral.convolve_backward(
                self.spectra, batch_innermost(grad_out), self.params["W"], self.needs_input_grad,
                self.workspace.get)
            self.grads["W"][...], self.grads["b"][...] = grad_W, grad_b
            return None if grad_padded is None else batch_first(unpad(grad_padded, self.padding))
        if self.cols is None:                                                  # forward ran in eval mode
            self.cols = self.unrolled_windows(self.x_inner, np.empty)
        grad = batch_innermost(grad_out).reshape(self.out_channels, -1)        # free when it came from a layer here
        grad_kernel_and_bias = weight_gradient(self.cols, grad)                # G X̃ᵀ
        self.grads["W"][...] = grad_kernel_and_bias[:, :-1].reshape(self.grads["W"].shape)
        self.grads["b"][...] = grad_kernel_and_bias[:, -1]
        if not self.needs_input_grad:
            return None
        grad_cols = self.workspace.get("grad_cols", (self.cols.shape[0] - 1, self.cols.shape[1]), grad.dtype)
        matmul(self.kernel_matrix().T, grad, out=grad_cols)
        grad_padded = col2im(grad_cols, self.padded_shape, self.kernel_size, self.stride,
                             np.empty(self.padded_shape, dtype=grad.dtype))
        return batch_first(unpad(grad_padded, self.padding))

    def astype(self, dtype):
        self.workspace = Workspace(limit=16)
        return super().astype(dtype)

    def config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding),
                "init": self.init, "bias_init": self.bias_init}
