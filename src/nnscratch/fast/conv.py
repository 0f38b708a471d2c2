"""Conv2D, fast: its windows unrolled in the (C, H, W, N) layout, on the pool, into reused scratch arrays.

The same equations as ``layers/conv.py``, y = W X + b with X the unrolled windows, and the three of backward;
here the windows are copied block of channels by block of channels on every thread (``im2col``), folded back
likewise (``col2im``), the bias rides along as one more column of the kernel matrix against a row of ones, and
where a stride-1 convolution needs fewer multiply-adds by the convolution theorem it is computed that way
(``spectral.py``).
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..layers.windows import output_size
from . import spectral
from .layout import Workspace, batch_first, batch_innermost, pad, unpad
from .pool import in_parallel, threads
from .products import matmul, weight_gradient

METHODS = ("auto", "unrolled", "spectral")

def im2col(x, kernel, stride, out):
    """Copy every (C, kh, kw) window of a (C, H, W, N) batch into one column of ``out``.

    out: (C·kh·kw, OH·OW·N); row (c, i, j), column (oh, ow, n) holds x[c, oh·sh + i, ow·sw + j, n]. Plain:
    ``sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw].transpose(0, 4, 5, 1, 2, 3).reshape(...)``,
    which this copies block of channels by block of channels, in parallel; with fewer channels than threads
    (a first layer's one), block of output rows by block of output rows instead.
    """
    (kh, kw), (sh, sw) = kernel, stride
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]      # (C, OH, OW, N, kh, kw)
    channels, out_h, out_w, batch = windows.shape[:4]
    rows = out.reshape(channels, kh, kw, out_h, out_w, batch)
    windows = windows.transpose(0, 4, 5, 1, 2, 3)

    def copy_channels(first, last):
        np.copyto(rows[first:last], windows[first:last])

    def copy_output_rows(first, last):
        np.copyto(rows[:, :, :, first:last], windows[:, :, :, first:last])

    if channels < threads():
        in_parallel(copy_output_rows, out_h)
    else:
        in_parallel(copy_channels, channels)
    return out


def col2im(cols, padded_shape, kernel, stride, out):
    """The adjoint of ``im2col``: add each column's window back onto the pixels it was read from.

    Plain: ``out.fill(0)``, then ``out[:, i:i + sh·OH:sh, j:j + sw·OW:sw] += cols6[:, i, j]`` for every
    kernel offset (i, j), cols6 being ``cols`` as (C, kh, kw, OH, OW, N). Here the threads share the
    channels, each running the same slice-adds on its own block. (Blocks small enough to stay in the cache
    measured no faster: the adds are bound by NumPy's loop, not by memory.)
    """
    (kh, kw), (sh, sw) = kernel, stride
    channels, height, width, batch = padded_shape
    out_h, out_w = output_size(height, kh, sh, 0), output_size(width, kw, sw, 0)
    cols = cols.reshape(channels, kh, kw, out_h, out_w, batch)

    def fold(first, last):
        block, pieces = out[first:last], cols[first:last]
        block.fill(0)
        for i in range(kh):
            for j in range(kw):
                block[:, i:i + sh * out_h:sh, j:j + sw * out_w:sw] += pieces[:, i, j]

    in_parallel(fold, channels)
    return out



class FastConv2D:
    """The fast twin of one ``Conv2D``: forward and backward for ``fast.faster`` to lend it. ``method`` is how
    forward computes: "unrolled" windows, "spectral" (stride 1 only), or "auto", the cheaper of the two;
    ``computed`` says which the last forward took."""

    def __init__(self, layer, method="auto"):
        if method not in METHODS:
            raise ValueError(f"a convolution computes 'auto', 'unrolled' or 'spectral', got {method!r}")
        self.layer, self.method, self.computed = layer, method, None
        self.workspace = Workspace(limit=16)

    def chosen_method(self, padded_shape):
        """"spectral" where it needs fewer multiply-adds than unrolling the windows (stride 1 only), or where
        ``method`` asks for it; "unrolled" otherwise."""
        layer = self.layer
        if self.method != "auto":
            if self.method == "spectral" and layer.stride != (1, 1):
                raise ValueError(f"Conv2D computes spectrally with stride 1 only, not {layer.stride}")
            return self.method
        if layer.stride != (1, 1):
            return "unrolled"
        channels, height, width, _ = padded_shape
        unrolled, by_spectrum = spectral.multiply_adds(channels, layer.out_channels, height, width,
                                                       layer.kernel_size, layer.needs_input_grad)
        return "spectral" if by_spectrum < unrolled else "unrolled"

    def unrolled_windows(self, x_inner, allocate):
        """X̃ = [X; 1]: im2col's matrix with a row of ones below it, against which the bias column of [W | b]
        is multiplied, so that one product gives W X + b (and one product in backward gives dL/dW and dL/db).
        ``allocate(shape, dtype)`` supplies the array."""
        channels, height, width, batch = x_inner.shape
        (kh, kw), (sh, sw) = self.layer.kernel_size, self.layer.stride
        columns = output_size(height, kh, sh, 0) * output_size(width, kw, sw, 0) * batch
        cols = allocate((channels * kh * kw + 1, columns), x_inner.dtype)
        im2col(x_inner, self.layer.kernel_size, self.layer.stride, cols[:-1])
        cols[-1] = 1
        return cols

    def forward(self, x):
        layer = self.layer
        out_h, out_w = layer.output_shape(x)
        # Training reuses scratch arrays from step to step; evaluation (often of large batches) lets them go.
        scratch = self.workspace.get if layer.training else (lambda purpose, shape, dtype: np.zeros(shape, dtype))
        x_inner = pad(batch_innermost(x), layer.padding, lambda shape, dtype: scratch("padded", shape, dtype))
        self.padded_shape = x_inner.shape
        self.computed = self.chosen_method(x_inner.shape)
        if self.computed == "spectral":
            y, self.spectra = spectral.convolve(x_inner, layer.params["W"], layer.params["b"], scratch)
            return batch_first(y)
        cols = self.unrolled_windows(x_inner, lambda shape, dtype: scratch("cols", shape, dtype))
        kernel_and_bias = np.concatenate([layer.kernel_matrix(), layer.params["b"][:, None]], axis=1)
        y = matmul(kernel_and_bias, cols)                                      # W X + b: (C_out, OH·OW·N)
        # Keep the unrolled windows for backward in training; in eval mode keep the (cheaper) input instead.
        self.cols, self.x_inner = (cols, None) if layer.training else (None, x_inner)
        return batch_first(y.reshape(layer.out_channels, out_h, out_w, x.shape[0]))

    def backward(self, grad_out):
        """dL/dW = G Xᵀ, dL/db = G·1, dL/dX = Wᵀ G, dL/dx = col2im(dL/dX), the first two out of one product:
        G [X; 1]ᵀ = [dL/dW | dL/db]."""
        layer = self.layer
        if self.computed == "spectral":
            grad_W, grad_b, grad_padded = spectral.convolve_backward(
                self.spectra, batch_innermost(grad_out), layer.params["W"], layer.needs_input_grad,
                self.workspace.get)
            layer.grads["W"][...], layer.grads["b"][...] = grad_W, grad_b
            return None if grad_padded is None else batch_first(unpad(grad_padded, layer.padding))
        if self.cols is None:                                                  # forward ran in eval mode
            self.cols = self.unrolled_windows(self.x_inner, np.empty)
        grad = batch_innermost(grad_out).reshape(layer.out_channels, -1)       # free when it came from a layer here
        grad_kernel_and_bias = weight_gradient(self.cols, grad)                # G X̃ᵀ
        layer.grads["W"][...] = grad_kernel_and_bias[:, :-1].reshape(layer.grads["W"].shape)
        layer.grads["b"][...] = grad_kernel_and_bias[:, -1]
        if not layer.needs_input_grad:
            return None
        grad_cols = self.workspace.get("grad_cols", (self.cols.shape[0] - 1, self.cols.shape[1]), grad.dtype)
        matmul(layer.kernel_matrix().T, grad, out=grad_cols)
        grad_padded = col2im(grad_cols, self.padded_shape, layer.kernel_size, layer.stride,
                             np.empty(self.padded_shape, dtype=grad.dtype))
        return batch_first(unpad(grad_padded, layer.padding))
