"""Reference implementations of the convolutional layers, written as plain loops over every index.

They are slow and obviously right: the tests compare the vectorised layers with them, forward and backward.
"""
import numpy as np


def conv2d(x, W, b, stride=(1, 1), padding=(0, 0)):
    """y[n, o, i, j] = b[o] + Σ_c Σ_p Σ_q W[o, c, p, q] · x_padded[n, c, i·sh + p, j·sw + q]."""
    (sh, sw), (ph, pw) = stride, padding
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    batch, channels, height, width = x_padded.shape
    out_channels, _, kh, kw = W.shape
    out_h, out_w = (height - kh) // sh + 1, (width - kw) // sw + 1
    y = np.zeros((batch, out_channels, out_h, out_w))
    for n in range(batch):
        for o in range(out_channels):
            for i in range(out_h):
                for j in range(out_w):
                    total = b[o]
                    for c in range(channels):
                        for p in range(kh):
                            for q in range(kw):
                                total += W[o, c, p, q] * x_padded[n, c, i * sh + p, j * sw + q]
                    y[n, o, i, j] = total
    return y


def conv2d_backward(x, W, grad_out, stride=(1, 1), padding=(0, 0)):
    """(dL/dx, dL/dW, dL/db): every product in the forward sum sends grad_out back to both of its factors."""
    (sh, sw), (ph, pw) = stride, padding
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    grad_x_padded = np.zeros_like(x_padded)
    grad_W = np.zeros_like(W)
    batch, out_channels, out_h, out_w = grad_out.shape
    _, channels, kh, kw = W.shape
    for n in range(batch):
        for o in range(out_channels):
            for i in range(out_h):
                for j in range(out_w):
                    g = grad_out[n, o, i, j]
                    for c in range(channels):
                        for p in range(kh):
                            for q in range(kw):
                                grad_W[o, c, p, q] += g * x_padded[n, c, i * sh + p, j * sw + q]
                                grad_x_padded[n, c, i * sh + p, j * sw + q] += g * W[o, c, p, q]
    grad_b = grad_out.sum(axis=(0, 2, 3))
    height, width = x.shape[2:]
    return grad_x_padded[:, :, ph:ph + height, pw:pw + width], grad_W, grad_b


def pool2d(x, kernel, stride, grad_out=None, kind="max"):
    """Max or average pooling by loops; with ``grad_out``, also dL/dx (the first maximum takes a tie)."""
    (kh, kw), (sh, sw) = kernel, stride
    batch, channels, height, width = x.shape
    out_h, out_w = (height - kh) // sh + 1, (width - kw) // sw + 1
    y = np.zeros((batch, channels, out_h, out_w))
    grad_x = np.zeros_like(x, dtype=np.float64)
    for n in range(batch):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    if kind == "max":
                        p, q = np.unravel_index(np.argmax(window), window.shape)
                        y[n, c, i, j] = window[p, q]
                        if grad_out is not None:
                            grad_x[n, c, i * sh + p, j * sw + q] += grad_out[n, c, i, j]
                    else:
                        y[n, c, i, j] = window.mean()
                        if grad_out is not None:
                            grad_x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw] += grad_out[n, c, i, j] / (kh * kw)
    return y, grad_x


def batchnorm(x, gamma, beta, eps=1e-5):
    """Training-mode batch normalisation, one feature (or channel) at a time."""
    y = np.zeros(x.shape)
    for f in range(x.shape[1]):
        values = x[:, f]
        mean = values.mean()
        variance = ((values - mean) ** 2).mean()
        y[:, f] = gamma[f] * (values - mean) / np.sqrt(variance + eps) + beta[f]
    return y
