"""Two-dimensional convolution: every output pixel is a weighted sum over a small window of every input channel.

The forward pass unrolls each window into one column of a matrix (im2col) and multiplies the kernels by that
matrix in a single BLAS call; the backward pass multiplies the other way round and folds the columns back onto
the image they came from (col2im); the bias rides along as one more column of the kernel matrix, against a row
of ones. Inputs are NCHW, as in PyTorch. Internally a batch is stored channel by channel with the batch
innermost, (C, H, W, N), so that a window offset picks out long runs of contiguous memory (a row segment of
every image at once); the outputs are NCHW views of such arrays, which element-wise layers and pooling keep
as they are.
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


def batch_innermost(x):
    """The (C, H, W, N) view of an (N, C, H, W) batch: free for the outputs of Conv2D and the poolings."""
    return x.transpose(1, 2, 3, 0)


def batch_first(x):
    """The (N, C, H, W) view of a (C, H, W, N) array, the layout every layer hands on."""
    return x.transpose(3, 0, 1, 2)


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
    """Copy every (C, kh, kw) window of a (C, H, W, N) batch into one column of ``out``.

    out: (C·kh·kw, OH·OW·N); row (c, i, j), column (oh, ow, n) holds x_padded[c, oh·sh + i, ow·sw + j, n].
    """
    (kh, kw), (sh, sw) = kernel, stride
    windows = sliding_window_view(x_padded, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]   # (C, OH, OW, N, kh, kw)
    channels, out_h, out_w, batch = windows.shape[:4]
    np.copyto(out.reshape(channels, kh, kw, out_h, out_w, batch), windows.transpose(0, 4, 5, 1, 2, 3))
    return out


def col2im(cols, x_padded_shape, kernel, stride, out):
    """The adjoint of ``im2col``: add each column's window back onto the pixels it was read from.

    One vectorised slice-add per kernel offset (kh·kw of them), so overlapping windows accumulate.
    """
    (kh, kw), (sh, sw) = kernel, stride
    channels, height, width, batch = x_padded_shape
    out_h, out_w = (height - kh) // sh + 1, (width - kw) // sw + 1
    cols = cols.reshape(channels, kh, kw, out_h, out_w, batch)
    out.fill(0)
    for i in range(kh):
        for j in range(kw):
            out[:, i:i + sh * out_h:sh, j:j + sw * out_w:sw, :] += cols[:, i, j]
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
        self.grads["W"] = np.zeros(self.params["W"].shape, dtype)
        self.grads["b"] = np.zeros(self.params["b"].shape, dtype)
        self.workspace = Workspace()

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
        batch, channels, height, width = x.shape
        out_h = output_size(height, kh, self.stride[0], ph)
        out_w = output_size(width, kw, self.stride[1], pw)
        if out_h < 1 or out_w < 1:
            raise ValueError(f"Conv2D kernel {self.kernel_size} does not fit input of shape {x.shape} "
                             f"with padding {self.padding}")
        # Training reuses scratch arrays from step to step; evaluation (often of large batches) lets them go.
        scratch = self.workspace.get if self.training else (lambda purpose, shape, dtype: np.zeros(shape, dtype))
        x_inner = batch_innermost(x)
        if ph or pw or not x_inner.flags.c_contiguous:       # pad, and gather a plain NCHW batch, in one copy
            padded = scratch("padded", (channels, height + 2 * ph, width + 2 * pw, batch), x.dtype)
            padded[:, ph:ph + height, pw:pw + width] = x_inner    # the border stays zero
            x_inner = padded
        self.padded_shape = x_inner.shape
        cols = self.unrolled_windows(x_inner, lambda shape, dtype: scratch("cols", shape, dtype))
        kernel_and_bias = np.concatenate([self.kernel_matrix(), self.params["b"][:, None]], axis=1)
        y = kernel_and_bias @ cols                                             # W X + b: (C_out, OH·OW·N)
        # Keep the unrolled windows for backward in training; in eval mode keep the (cheaper) input instead.
        self.cols, self.x_inner = (cols, None) if self.training else (None, x_inner)
        return batch_first(y.reshape(self.out_channels, out_h, out_w, batch))

    def backward(self, grad_out):
        """With X the im2col matrix and G = dL/dy as a (C_out, OH·OW·N) matrix, y = W X + b gives
        dL/dW = G Xᵀ,  dL/db = Σ_columns G = G·1,  dL/dX = Wᵀ G, and dL/dx = col2im(dL/dX).
        The first two come out of one product: G [X; 1]ᵀ = [dL/dW | dL/db]."""
        if self.cols is None:                                                  # forward ran in eval mode
            self.cols = self.unrolled_windows(self.x_inner, np.empty)
        grad = batch_innermost(grad_out).reshape(self.out_channels, -1)        # free when it came from a layer here
        grad_kernel_and_bias = (self.cols @ grad.T).T     # G X̃ᵀ, as (X̃ Gᵀ)ᵀ: the order OpenBLAS runs faster
        self.grads["W"][...] = grad_kernel_and_bias[:, :-1].reshape(self.grads["W"].shape)
        self.grads["b"][...] = grad_kernel_and_bias[:, -1]
        if not self.needs_input_grad:
            return None
        grad_cols = self.workspace.get("grad_cols", (self.cols.shape[0] - 1, self.cols.shape[1]), grad.dtype)
        np.matmul(self.kernel_matrix().T, grad, out=grad_cols)
        grad_padded = col2im(grad_cols, self.padded_shape, self.kernel_size, self.stride,
                             np.empty(self.padded_shape, dtype=grad.dtype))
        (ph, pw) = self.padding
        height, width = self.padded_shape[1] - 2 * ph, self.padded_shape[2] - 2 * pw
        return batch_first(grad_padded[:, ph:ph + height, pw:pw + width])

    def astype(self, dtype):
        self.workspace = Workspace()
        return super().astype(dtype)

    def config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding),
                "init": self.init, "bias_init": self.bias_init}
