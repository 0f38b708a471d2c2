"""Two-dimensional convolution: every output pixel is a weighted sum over a small window of every input channel.

The forward pass unrolls each window into one row of a matrix (im2col) and multiplies that matrix by the
kernels in a single BLAS call; the backward pass multiplies the other way round and folds the rows back onto
the image they came from (col2im). Inputs are NCHW, as in PyTorch. Internally each image is read channels-last
(NHWC), so that every window row is a run of contiguous memory; the outputs are NCHW views of channels-last
arrays, which element-wise layers keep as they are.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..initializers import as_generator, get_initializer
from .base import Layer, register_layer


def pair(value, name):
    """``3`` -> ``(3, 3)``; ``(3, 5)`` stays; anything else is an error naming the argument."""
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    try:
        first, second = (int(item) for item in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer or a pair of integers, got {value!r}") from None
    return first, second


def output_size(size, kernel, stride, padding):
    """Positions of a window of ``kernel`` moved by ``stride`` over ``size + 2·padding`` pixels."""
    return (size + 2 * padding - kernel) // stride + 1


class Workspace:
    """Scratch arrays reused from batch to batch, one per (purpose, shape, dtype), so that large temporaries
    are not allocated and page-faulted afresh at every step. Never hand one of them out as a layer's result."""

    def __init__(self, limit=6):
        self.arrays = {}
        self.limit = limit

    def get(self, purpose, shape, dtype, zero=False):
        key = (purpose, tuple(shape), np.dtype(dtype).str)
        array = self.arrays.get(key)
        if array is None:
            if len(self.arrays) >= self.limit:
                self.arrays.clear()
            array = self.arrays[key] = np.zeros(shape, dtype=dtype)
        elif zero:
            array.fill(0)
        return array


def im2col(x_padded, kernel, stride, out):
    """Copy every (kh, kw, C) window of a channels-last image batch into one row of ``out``.

    x_padded: (N, H, W, C); out: (N·OH·OW, kh·kw·C), row (n, i, j) holding the window at (i·sh, j·sw).
    """
    (kh, kw), (sh, sw) = kernel, stride
    windows = sliding_window_view(x_padded, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]   # (N, OH, OW, C, kh, kw)
    rows = out.reshape(windows.shape[:3] + (kh, kw, windows.shape[3]))
    np.copyto(rows, windows.transpose(0, 1, 2, 4, 5, 3))
    return out


def col2im(cols, x_padded_shape, kernel, stride, out):
    """The adjoint of ``im2col``: add each row's window back onto the pixels it was read from.

    One vectorised slice-add per kernel offset (kh·kw of them), so overlapping windows accumulate.
    """
    (kh, kw), (sh, sw) = kernel, stride
    batch, _, _, channels = x_padded_shape
    out_h = (x_padded_shape[1] - kh) // sh + 1
    out_w = (x_padded_shape[2] - kw) // sw + 1
    cols = cols.reshape(batch, out_h, out_w, kh, kw, channels)
    out.fill(0)
    for i in range(kh):
        for j in range(kw):
            out[:, i:i + sh * out_h:sh, j:j + sw * out_w:sw, :] += cols[:, :, :, i, j, :]
    return out


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
        self.grads["W"] = np.zeros_like(self.params["W"])
        self.grads["b"] = np.zeros_like(self.params["b"])
        self.workspace = Workspace()

    def kernel_matrix(self):
        """W as a (C_out, kh·kw·C_in) matrix whose columns follow the (kh, kw, C_in) order of im2col's rows."""
        return self.params["W"].transpose(0, 2, 3, 1).reshape(self.out_channels, -1)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2D expected input of shape (N, {self.in_channels}, H, W), got shape {x.shape}")
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        batch, channels, height, width = x.shape
        out_h = output_size(height, kh, self.stride[0], ph)
        out_w = output_size(width, kw, self.stride[1], pw)
        if out_h < 1 or out_w < 1:
            raise ValueError(f"Conv2D kernel {self.kernel_size} does not fit input of shape {x.shape} "
                             f"with padding {self.padding}")
        # Training reuses scratch arrays from step to step; evaluation (often of large batches) lets them go.
        scratch = self.workspace.get if self.training else (lambda purpose, shape, dtype: np.zeros(shape, dtype))
        x_channels_last = x.transpose(0, 2, 3, 1)
        if ph or pw:
            padded = scratch("padded", (batch, height + 2 * ph, width + 2 * pw, channels), x.dtype)
            padded[:, ph:ph + height, pw:pw + width] = x_channels_last    # the border stays zero
            x_channels_last = padded
        self.padded_shape = x_channels_last.shape
        cols = im2col(x_channels_last, self.kernel_size, self.stride,
                      scratch("cols", (batch * out_h * out_w, kh * kw * channels), x.dtype))
        y = cols @ self.kernel_matrix().T                                      # (N·OH·OW, C_out)
        y += self.params["b"]
        # Keep the unrolled windows for backward in training; in eval mode keep the (cheaper) input instead.
        self.cols, self.x_channels_last = (cols, None) if self.training else (None, x_channels_last)
        return y.reshape(batch, out_h, out_w, self.out_channels).transpose(0, 3, 1, 2)

    def backward(self, grad_out):
        """With X the im2col matrix and G = dL/dy as an (N·OH·OW, C_out) matrix, y = X Wᵀ + b gives
        dL/dW = Gᵀ X,  dL/db = Σ_rows G,  dL/dX = G W, and dL/dx = col2im(dL/dX)."""
        batch, _, out_h, out_w = grad_out.shape
        if self.cols is None:                                                  # forward ran in eval mode
            kh, kw = self.kernel_size
            shape = (batch * out_h * out_w, kh * kw * self.in_channels)
            self.cols = im2col(self.x_channels_last, self.kernel_size, self.stride, np.empty(shape, grad_out.dtype))
        grad = grad_out.transpose(0, 2, 3, 1).reshape(batch * out_h * out_w, self.out_channels)
        grad_kernel = grad.T @ self.cols                                       # (C_out, kh·kw·C_in)
        self.grads["W"][...] = grad_kernel.reshape(self.out_channels, *self.kernel_size, self.in_channels
                                                   ).transpose(0, 3, 1, 2)
        np.sum(grad, axis=0, out=self.grads["b"])
        if not self.needs_input_grad:
            return None
        grad_cols = self.workspace.get("grad_cols", self.cols.shape, grad.dtype)
        np.matmul(grad, self.kernel_matrix(), out=grad_cols)
        grad_padded = col2im(grad_cols, self.padded_shape, self.kernel_size, self.stride,
                             np.empty(self.padded_shape, dtype=grad.dtype))
        (ph, pw) = self.padding
        height, width = self.padded_shape[1] - 2 * ph, self.padded_shape[2] - 2 * pw
        return grad_padded[:, ph:ph + height, pw:pw + width].transpose(0, 3, 1, 2)

    def astype(self, dtype):
        self.workspace = Workspace()
        return super().astype(dtype)

    def config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding),
                "init": self.init, "bias_init": self.bias_init}
