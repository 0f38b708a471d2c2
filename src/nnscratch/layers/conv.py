"""Two-dimensional convolution: every output pixel is a weighted sum over a small window of every input channel.

The forward pass unrolls each window into one column of a matrix X and computes y = W X + b in a single matrix
product; the backward pass multiplies the other way round and folds the columns back onto the pixels they came
from. Inputs are NCHW, as in PyTorch. ``fast/`` runs the same equations faster (another memory layout, threads,
and for small maps the convolution theorem) and its tests hold it to this one.
"""
import numpy as np

from ..initializers import as_generator, get_initializer
from .base import Layer, register_layer
from .windows import fold, output_size, pair, unfold


@register_layer
class Conv2D(Layer):
    """y[n, o] = b[o] + Σ_c W[o, c] ⋆ x[n, c]  (cross-correlation, as in every deep-learning library).

    x: (N, C_in, H, W), W: (C_out, C_in, kh, kw), b: (C_out,), y: (N, C_out, OH, OW) with
    OH = (H + 2·padding - kh) // stride + 1, and likewise OW.
    """

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

    def output_shape(self, x):
        """(OH, OW) for the batch ``x``, which is checked: (N, C_in, H, W), large enough for the kernel."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2D expected input of shape (N, {self.in_channels}, H, W), got shape {x.shape}")
        out_h = output_size(x.shape[2], self.kernel_size[0], self.stride[0], self.padding[0])
        out_w = output_size(x.shape[3], self.kernel_size[1], self.stride[1], self.padding[1])
        if out_h < 1 or out_w < 1:
            raise ValueError(f"Conv2D kernel {self.kernel_size} does not fit input of shape {x.shape} "
                             f"with padding {self.padding}")
        return out_h, out_w

    def kernel_matrix(self):
        """W as a (C_out, C_in·kh·kw) matrix: row o holds kernel o, columns in (c, i, j) order."""
        return self.params["W"].reshape(self.out_channels, -1)

    def forward(self, x):
        """Pad, unroll the windows into the columns of X (C_in·kh·kw, N·OH·OW), y = W X + b, as NCHW."""
        out_h, out_w = self.output_shape(x)
        (ph, pw), batch = self.padding, x.shape[0]
        self.padded_shape = (batch, self.in_channels, x.shape[2] + 2 * ph, x.shape[3] + 2 * pw)
        x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        windows = unfold(x_padded, self.kernel_size, self.stride)                    # (N, C, OH, OW, kh, kw)
        self.X = windows.transpose(1, 4, 5, 0, 2, 3).reshape(self.kernel_matrix().shape[1], -1)
        y = self.kernel_matrix() @ self.X + self.params["b"][:, None]                # y = W X + b
        return y.reshape(self.out_channels, batch, out_h, out_w).transpose(1, 0, 2, 3)

    def backward(self, grad_out):
        """With G = dL/dy as a (C_out, N·OH·OW) matrix, y = W X + b gives
        dL/dW = G Xᵀ,  dL/db = G·1 (each row summed),  dL/dX = Wᵀ G, and dL/dx = fold(dL/dX), cropped."""
        G = grad_out.transpose(1, 0, 2, 3).reshape(self.out_channels, -1)
        self.grads["W"] = (G @ self.X.T).reshape(self.params["W"].shape)           # dL/dW = G Xᵀ
        self.grads["b"] = G.sum(axis=1)                                             # dL/db = G·1
        if not self.needs_input_grad:
            return None
        grad_X = self.kernel_matrix().T @ G                                         # dL/dX = Wᵀ G
        (kh, kw), (batch, _, out_h, out_w) = self.kernel_size, grad_out.shape
        grad_windows = grad_X.reshape(self.in_channels, kh, kw, batch, out_h, out_w).transpose(3, 0, 4, 5, 1, 2)
        grad_padded = fold(grad_windows, self.padded_shape, self.stride)
        (ph, pw), (height, width) = self.padding, self.padded_shape[2:]
        return grad_padded[:, :, ph:height - ph, pw:width - pw]

    def config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding),
                "init": self.init, "bias_init": self.bias_init}
