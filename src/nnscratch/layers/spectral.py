"""Convolution by the convolution theorem: on a small map, each frequency of the output is a product.

The discrete Fourier transform turns the circular cross-correlation of an H×W map x with a kernel w into a
product at each frequency f: ŷ(f) = x̂(f)·conj(ŵ(f)). Where the kernel fits inside the map, the output pixels
that never wrapped around the edge are exactly Conv2D's valid, stride-1 output. So a convolution of a batch
is three matrix products, each a real linear map:

    X̂ = A x             analysis: each input map to its spectrum
    Ŷ_f = Ŵ_f X̂_f       at each frequency f, the (C_out × C_in) complex matrix of the kernels' spectra times
                          the (C_in × N) spectra of the batch, in real numbers [[Re, -Im], [Im, Re]] [Re; Im]
    y = S Ŷ + b          synthesis: the spectra back to the valid output pixels

with Ŵ = K w, the kernels' conjugated spectra. The backward pass is the transposes of the same maps:
dL/dŶ = Sᵀ G, dL/dX̂_f = Ŵ_fᵀ dL/dŶ_f, dL/dx = Aᵀ dL/dX̂; dL/dŴ_f = dL/dŶ_f X̂_fᵀ, and dL/dw = Kᵀ dL/dŴ.

For 5×5 kernels on 12×12 maps with 32 to 64 channels this is half the multiply-adds of unrolling the windows,
and it writes no unrolled matrix to fold back; Conv2D counts both (``multiply_adds``) and takes the cheaper.
Plain: Conv2D's unrolled windows, which the tests compare this with. A, S and K are built once per map and
kernel size, from NumPy's FFT of unit maps (``spectrum``).
"""
import functools

import numpy as np

from .windows import matmul


def kept_frequencies(height, width):
    """The frequencies (i, j) of ``np.fft.rfft2``'s half spectrum whose value is not the complex conjugate of
    another's: all but the rows i > H/2 of column 0 (and of column W/2 when W is even), which mirror rows
    H - i. A real map has as many of these numbers, real and imaginary parts, as pixels, give or take four
    imaginary parts that are always zero."""
    mirrored_columns = {0, width // 2} if width % 2 == 0 else {0}
    return [(i, j) for i in range(height) for j in range(width // 2 + 1)
            if not (j in mirrored_columns and i > height / 2)]


class Spectrum:
    """The three real matrices for maps of (height, width) and a kernel of (kh, kw), F kept frequencies:
    ``analysis`` A (2F, H·W), ``synthesis`` S (OH·OW, 2F) and ``kernel`` K (2F, kh·kw), their rows (or
    columns) in (frequency, real/imaginary part) order."""

    def __init__(self, height, width, kernel):
        (kh, kw), kept = kernel, kept_frequencies(height, width)
        rows, columns = (np.array(index) for index in zip(*kept))
        self.frequencies = len(kept)
        out_h, out_w = height - kh + 1, width - kw + 1

        def as_real_rows(spectra):                          # (maps, F) complex -> (2F, maps) real
            return np.stack([spectra.real, spectra.imag], axis=2).reshape(len(spectra), -1).T

        pixels = np.eye(height * width).reshape(-1, height, width)
        self.analysis = as_real_rows(np.fft.rfft2(pixels)[:, rows, columns])            # X̂ = A x
        kernel_pixels = np.zeros((kh * kw, height, width))
        kernel_pixels.reshape(kh * kw, -1)[np.arange(kh * kw), (np.arange(kh * kw) // kw) * width
                                           + np.arange(kh * kw) % kw] = 1
        self.kernel = as_real_rows(np.conj(np.fft.rfft2(kernel_pixels)[:, rows, columns]))  # Ŵ = K w
        # S: the valid pixels of the map whose spectrum is one unit (real, then imaginary) at one kept frequency
        # and, where that frequency has a mirror, the conjugate unit there, as a real map's spectrum has.
        units = np.zeros((self.frequencies, 2, height, width // 2 + 1), complex)
        mirror_rows = (height - rows) % height
        mirrored = (columns == 0) | ((width % 2 == 0) & (columns == width // 2))
        for part, unit in enumerate((1, 1j)):
            units[np.arange(self.frequencies), part, rows, columns] = unit
            units[np.arange(self.frequencies)[mirrored], part, mirror_rows[mirrored], columns[mirrored]] += \
                np.conj(unit) * (mirror_rows[mirrored] != rows[mirrored])
        maps = np.fft.irfft2(units.reshape(-1, height, width // 2 + 1), s=(height, width))
        self.synthesis = maps[:, :out_h, :out_w].reshape(2 * self.frequencies, -1).T    # y = S Ŷ

    def astype(self, dtype):
        for name in ("analysis", "synthesis", "kernel"):
            setattr(self, name, np.ascontiguousarray(getattr(self, name), dtype=dtype))
        return self


@functools.lru_cache(maxsize=16)
def spectrum(height, width, kernel, dtype):
    """The ``Spectrum`` of (height, width) maps and a kernel, its matrices in ``dtype``, built once."""
    return Spectrum(height, width, kernel).astype(dtype)


def multiply_adds(in_channels, out_channels, height, width, kernel, input_gradient=True):
    """Multiply-adds per image of one training step (forward and backward) of a stride-1 convolution on
    (height, width) maps (padded already): ``(unrolled, spectral)``."""
    kh, kw = kernel
    pixels, outputs = height * width, (height - kh + 1) * (width - kw + 1)
    coefficients = 2 * len(kept_frequencies(height, width))
    passes = 3 if input_gradient else 2
    unrolled = passes * outputs * out_channels * in_channels * kh * kw
    spectral = ((1 + input_gradient) * coefficients * pixels * in_channels        # A x, and Aᵀ dL/dX̂
                + 2 * outputs * coefficients * out_channels                      # S Ŷ, and Sᵀ G
                + passes * coefficients * 2 * out_channels * in_channels)         # the products at each frequency
    return unrolled, spectral


def kernel_blocks(plan, W, allocate):
    """Ŵ_f = K w at each frequency as the real (2·C_out × 2·C_in) block [[Re, -Im], [Im, Re]]."""
    out_channels, in_channels = W.shape[:2]
    w_hat = matmul(plan.kernel, W.reshape(out_channels * in_channels, -1).T)
    real, imaginary = w_hat.reshape(plan.frequencies, 2, out_channels, in_channels).transpose(1, 0, 2, 3)
    blocks = allocate("kernel_blocks", (plan.frequencies, 2 * out_channels, 2 * in_channels), W.dtype)
    blocks[:, :out_channels, :in_channels] = real
    blocks[:, out_channels:, in_channels:] = real
    blocks[:, out_channels:, :in_channels] = imaginary
    np.negative(imaginary, out=blocks[:, :out_channels, in_channels:])
    return blocks


def convolve(x, W, b, allocate):
    """y = S (Ŵ_f X̂_f)_f + b for a (C_in, H, W, N) batch, padded already; ``allocate(purpose, shape, dtype)``
    supplies the scratch arrays. Returns y as a new (C_out, OH, OW, N) array, and what ``convolve_backward``
    needs."""
    channels, height, width, batch = x.shape
    out_channels, _, kh, kw = W.shape
    plan = spectrum(height, width, (kh, kw), x.dtype)
    frequencies, out_pixels = plan.frequencies, (height - kh + 1) * (width - kw + 1)
    pixels_first = allocate("pixels_first", (height * width, channels, batch), x.dtype)
    np.copyto(pixels_first, x.reshape(channels, -1, batch).transpose(1, 0, 2))       # (H·W, C_in, N)
    x_hat = allocate("x_hat", (2 * frequencies, channels * batch), x.dtype)
    matmul(plan.analysis, pixels_first.reshape(height * width, -1), out=x_hat)        # X̂ = A x
    x_hat = x_hat.reshape(frequencies, 2 * channels, batch)                           # each f: [Re; Im] X̂_f
    w_hat = kernel_blocks(plan, W, allocate)
    y_hat = allocate("y_hat", (frequencies, 2 * out_channels, batch), x.dtype)
    matmul(w_hat, x_hat, out=y_hat)                                                   # Ŷ_f = Ŵ_f X̂_f
    y_pixels = allocate("y_pixels", (out_pixels, out_channels * batch), x.dtype)
    matmul(plan.synthesis, y_hat.reshape(2 * frequencies, -1), out=y_pixels)          # S Ŷ
    y = np.empty((out_channels, out_pixels, batch), x.dtype)
    np.add(y_pixels.reshape(out_pixels, out_channels, batch).transpose(1, 0, 2), b[:, None, None], out=y)
    return y.reshape(out_channels, height - kh + 1, width - kw + 1, batch), (plan, x.shape, x_hat, w_hat)


def convolve_backward(saved, grad, W, input_gradient, allocate):
    """For G = dL/dy as a (C_out, OH, OW, N) array: dL/dW, dL/db = Σ G over pixels and batch, and dL/dx as a
    new (C_in, H, W, N) array (None unless ``input_gradient``), by the transposes of ``convolve``'s maps."""
    plan, (channels, height, width, batch), x_hat, w_hat = saved
    out_channels, frequencies = W.shape[0], plan.frequencies
    grad_rows = grad.reshape(out_channels, -1)
    grad_b = grad_rows.sum(axis=1)
    grad_pixels = allocate("grad_pixels_first", (grad_rows.shape[1] // batch, out_channels, batch), grad.dtype)
    np.copyto(grad_pixels, grad_rows.reshape(out_channels, -1, batch).transpose(1, 0, 2))
    grad_y_hat = allocate("grad_y_hat", (2 * frequencies, out_channels * batch), grad.dtype)
    matmul(plan.synthesis.T, grad_pixels.reshape(len(grad_pixels), -1), out=grad_y_hat)     # dL/dŶ = Sᵀ G
    grad_y_hat = grad_y_hat.reshape(frequencies, 2 * out_channels, batch)
    grad_blocks = allocate("grad_kernel_blocks", w_hat.shape, grad.dtype)
    matmul(grad_y_hat, x_hat.transpose(0, 2, 1), out=grad_blocks)                       # dL/dŶ_f X̂_fᵀ
    # Each real and imaginary part of Ŵ_f appears twice in its block, the imaginary part once negated.
    top, bottom = grad_blocks[:, :out_channels], grad_blocks[:, out_channels:]
    grad_w_hat = np.stack([top[:, :, :channels] + bottom[:, :, channels:],
                           bottom[:, :, :channels] - top[:, :, channels:]], axis=1)
    grad_W = matmul(plan.kernel.T, grad_w_hat.reshape(2 * frequencies, -1))              # dL/dw = Kᵀ dL/dŴ
    grad_W = grad_W.T.reshape(W.shape)
    if not input_gradient:
        return grad_W, grad_b, None
    grad_x_hat = allocate("grad_x_hat", x_hat.shape, grad.dtype)
    matmul(w_hat.transpose(0, 2, 1), grad_y_hat, out=grad_x_hat)                         # Ŵ_fᵀ dL/dŶ_f
    grad_x_pixels = allocate("grad_x_pixels", (height * width, channels * batch), grad.dtype)
    matmul(plan.analysis.T, grad_x_hat.reshape(2 * frequencies, -1), out=grad_x_pixels)  # dL/dx = Aᵀ dL/dX̂
    grad_x = np.empty((channels, height, width, batch), grad.dtype)
    np.copyto(grad_x.reshape(channels, -1, batch), grad_x_pixels.reshape(-1, channels, batch).transpose(1, 0, 2))
    return grad_W, grad_b, grad_x
