"""Pooling: summarise each small window of every channel by its largest value or its mean.

Pooling shrinks the image (a 2×2 window moved by 2 halves each side) and makes the features that follow
tolerant of small shifts. There are no parameters. Both poolings see every window of the batch at once
(``unfold``) and send their gradient back onto the window's pixels (``fold``).
"""
import numpy as np

from .base import Layer, register_layer
from .windows import fold, output_size, pair, unfold


class Pool2D(Layer):
    """What the poolings share: kernel, stride (the kernel size unless given), shape checks and config."""

    def __init__(self, kernel_size=2, stride=None):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(f"{type(self).__name__} needs kernel_size and stride >= 1, got "
                             f"{self.kernel_size} and {self.stride}")

    def output_shape(self, x):
        """(OH, OW) for the batch ``x``, which is checked: (N, C, H, W), large enough for the window."""
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} expected input of shape (N, C, H, W), got shape {x.shape}")
        out_h = output_size(x.shape[2], self.kernel_size[0], self.stride[0], 0)
        out_w = output_size(x.shape[3], self.kernel_size[1], self.stride[1], 0)
        if out_h < 1 or out_w < 1:
            raise ValueError(f"{type(self).__name__} window {self.kernel_size} does not fit input of shape "
                             f"{x.shape}")
        return out_h, out_w

    def config(self):
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride)}


@register_layer
class MaxPool2D(Pool2D):
    """y[n, c, i, j] = max over the window at (i·sh, j·sw) of x[n, c]; (N, C, H, W) -> (N, C, OH, OW)."""

    def forward(self, x):
        out_h, out_w = self.output_shape(x)
        self.input_shape = x.shape
        windows = unfold(x, self.kernel_size, self.stride).reshape(x.shape[:2] + (out_h, out_w, -1))
        first = windows.argmax(axis=-1)                                      # the first maximum of each window
        self.mask = np.arange(windows.shape[-1]) == first[..., None]        # 1 at that offset, 0 elsewhere
        return windows.max(axis=-1)

    def backward(self, grad_out):
        """The maximum is the only input that moved the output: dL/dx = dL/dy at each window's argmax, else 0.
        Where several inputs tie for the maximum, the first in the window takes it all, as in PyTorch."""
        grad_windows = self.mask * grad_out[..., None]
        return fold(grad_windows.reshape(grad_out.shape + self.kernel_size), self.input_shape, self.stride)


@register_layer
class AvgPool2D(Pool2D):
    """y[n, c, i, j] = mean over the window at (i·sh, j·sw) of x[n, c]; (N, C, H, W) -> (N, C, OH, OW)."""

    def forward(self, x):
        self.output_shape(x)
        self.input_shape = x.shape
        return unfold(x, self.kernel_size, self.stride).mean(axis=(-2, -1))

    def backward(self, grad_out):
        """Each input in a window moves the mean by 1/(kh·kw) of its own change: dL/dx = dL/dy / (kh·kw),
        summed where windows overlap."""
        share = grad_out * (1.0 / (self.kernel_size[0] * self.kernel_size[1]))
        grad_windows = np.broadcast_to(share[..., None, None], grad_out.shape + self.kernel_size)
        return fold(grad_windows, self.input_shape, self.stride)


@register_layer
class GlobalAvgPool(Layer):
    """y[n, c] = mean over all pixels of x[n, c]; (N, C, H, W) -> (N, C), ready for a dense layer."""

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"GlobalAvgPool expected input of shape (N, C, H, W), got shape {x.shape}")
        self.input_shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, grad_out):
        """dL/dx[n, c, h, w] = dL/dy[n, c] / (H·W), the same for every pixel."""
        _, _, height, width = self.input_shape
        share = grad_out * (1.0 / (height * width))
        return np.broadcast_to(share[:, :, None, None], self.input_shape).copy()
