"""Convolution by the convolution theorem: on a small map, each frequency of the output is a product.

The discrete Fourier transform turns the circular cross-correlation of an H×W map x with a kernel w into a
product at each frequency f: ŷ(f) = x̂(f)·conj(ŵ(f)). Where the kernel fits inside the map, the output pixels
that never wrapped around the edge are exactly Conv2D's valid, stride-1 output. So a convolution of a batch
is three real linear maps:

    X̂ = A x             analysis: each input map to its spectrum
    Ŷ_f = Ŵ_f X̂_f       at each frequency f, the (C_out × C_in) complex matrix of the kernels' spectra times
                          the (C_in × N) spectra of the batch, in real numbers [[Re, -Im], [Im, Re]] [Re; Im]
    y = S Ŷ + b          synthesis: the spectra back to the valid output pixels

with Ŵ = K w, the kernels' conjugated spectra. The backward pass is the transposes of the same maps:
dL/dŶ = Sᵀ G, dL/dX̂_f = Ŵ_fᵀ dL/dŶ_f, dL/dx = Aᵀ dL/dX̂; dL/dŴ_f = dL/dŶ_f X̂_fᵀ, and dL/dw = Kᵀ dL/dŴ.
A and S are two-dimensional transforms, each applied as two matrix products: along the rows of every map,
then along its columns.

For 5×5 kernels on 12×12 maps with 32 to 64 channels this is a quarter of the multiply-adds of unrolling the
windows, and it writes no unrolled matrix to fold back; Conv2D counts both (``multiply_adds``) and takes the
cheaper. The matrices are built once per map and kernel size, from NumPy's FFT of unit vectors
(``spectrum``). Plain: ``convolve_by_fft``, the same theorem in three lines of ``np.fft``, which the tests
compare this with (and Conv2D's unrolled windows).
"""
import functools

import numpy as np

from .pool import copy_in_parallel, in_parallel
from .products import matmul


def convolve_by_fft(x, W, b):
    """Conv2D's stride-1 output for an (N, C_in, H, W) batch, padded already, by the convolution theorem:
    ŷ_o = Σ_c x̂_c · conj(ŵ_oc) at each frequency (the circular cross-correlation), back to pixels, cropped to
    the (H - kh + 1, W - kw + 1) outputs whose windows never wrapped around an edge."""
    (height, width), (kh, kw) = x.shape[2:], W.shape[2:]
    y_hat = np.einsum("nchw,ochw->nohw", np.fft.rfft2(x), np.conj(np.fft.rfft2(W, s=(height, width))))
    y = np.fft.irfft2(y_hat, s=(height, width))[:, :, :height - kh + 1, :width - kw + 1]
    return (y + b[:, None, None]).astype(x.dtype)


def column_frequencies(width):
    """The column frequencies j of ``np.fft.rfft``'s half spectrum of a row of ``width`` pixels, those whose
    column of the 2-D spectrum mirrors itself first (j = 0, and j = W/2 for even W): ``(order, mirrored)``."""
    half = width // 2 + 1
    mirrored = [0] + ([width // 2] if width % 2 == 0 and width > 1 else [])
    return mirrored + [j for j in range(half) if j not in mirrored], len(mirrored)


def kept_frequencies(height, width):
    """The frequencies (i, j) of the 2-D half spectrum whose value is not the complex conjugate of another's,
    column by column in ``column_frequencies`` order: every row i of a column, except in a column that mirrors
    itself, whose rows i > H/2 mirror the rows H - i. A real map has as many of these numbers, real and
    imaginary parts, as pixels, give or take four imaginary parts that are always zero."""
    order, mirrored = column_frequencies(width)
    return [(i, j) for position, j in enumerate(order) for i in range(height // 2 + 1 if position < mirrored
                                                                      else height)]


def as_real(matrix):
    """A complex (rows × columns) matrix M as the real (2·rows × 2·columns) one that maps a vector z, written
    [Re z; Im z], to M z, written entry by entry (Re, Im): rows (row, part), columns (part, column)."""
    real, imaginary = matrix.real, matrix.imag
    return np.stack([np.concatenate([real, -imaginary], axis=1),
                     np.concatenate([imaginary, real], axis=1)], axis=1).reshape(2 * len(matrix), -1)


class Spectrum:
    """The transforms for maps of (height, width) and a kernel of (kh, kw), J column frequencies in
    ``column_frequencies`` order, F kept frequencies:

    ``along_rows`` (2J, W): a row of pixels to its column frequencies, rows (j, real/imaginary);
    ``along_columns``: per group of columns with the same number of kept rows, a stack of (2·H_j, 2H) real
    forms of the complex transform along a column, to the kept rows (i, part), from (part, h);
    ``back_along_columns``: per group, (2·OH, 2·H_j) from the kept rows of a column to its first OH pixels
    (part, pixel), each kept frequency with its mirror, as a real map's spectrum has it;
    ``back_along_rows`` (OW, 2J): a row of column frequencies to the first OW pixels;
    ``kernel`` K (2F, kh·kw): a kernel to its conjugated spectrum, rows (f, part)."""

    def __init__(self, height, width, kernel):
        (kh, kw), (order, mirrored) = kernel, column_frequencies(width)
        out_h, out_w = height - kh + 1, width - kw + 1
        self.columns, self.frequencies = len(order), len(kept_frequencies(height, width))
        kept_rows = [height // 2 + 1] * mirrored + [height] * (len(order) - mirrored)
        self.groups = [(0, mirrored, kept_rows[0]), (mirrored, len(order), height)]   # (first, last, rows)
        self.groups = [group for group in self.groups if group[1] > group[0]]

        row_spectra = np.fft.rfft(np.eye(width), axis=0)[order]                          # (J, W) complex
        self.along_rows = np.stack([row_spectra.real, row_spectra.imag], axis=1).reshape(-1, width)
        column_transform = np.fft.fft(np.eye(height), axis=0)                             # (H, H) complex
        self.along_columns = [np.stack([as_real(column_transform[:rows])] * (last - first))
                              for first, last, rows in self.groups]
        units = np.eye(width // 2 + 1)[order]                                             # (J, W//2 + 1)
        self.back_along_rows = np.concatenate(
            [np.fft.irfft(units, n=width)[:, :out_w, None], np.fft.irfft(1j * units, n=width)[:, :out_w, None]],
            axis=2).transpose(1, 0, 2).reshape(out_w, -1)
        self.back_along_columns = []
        for position, (first, last, rows) in enumerate(self.groups):
            spectra = np.zeros((rows, 2, height), complex)                 # each kept row, real then imaginary
            for i in range(rows):
                mirror = (height - i) % height
                for part, unit in enumerate((1, 1j)):
                    spectra[i, part, i] += unit
                    if position == 0 and mirror != i:              # the first group's columns mirror themselves
                        spectra[i, part, mirror] += np.conj(unit)
            pixels = np.fft.ifft(spectra, axis=2)[:, :, :out_h]                           # (rows, 2, OH)
            back = np.stack([pixels.real, pixels.imag]).transpose(0, 3, 1, 2).reshape(2 * out_h, 2 * rows)
            self.back_along_columns.append(np.stack([back] * (last - first)))
        kernels = np.zeros((kh * kw, height, width))
        kernels[np.arange(kh * kw), np.arange(kh * kw) // kw, np.arange(kh * kw) % kw] = 1
        rows, columns = np.array(kept_frequencies(height, width)).T
        spectra = np.conj(np.fft.rfft2(kernels))[:, rows, columns]
        self.kernel = np.stack([spectra.real, spectra.imag], axis=2).reshape(kh * kw, -1).T

    def astype(self, dtype):
        self.along_rows, self.back_along_rows, self.kernel = (
            np.ascontiguousarray(matrix, dtype=dtype) for matrix in (self.along_rows, self.back_along_rows,
                                                                      self.kernel))
        self.along_columns = [np.ascontiguousarray(stack, dtype=dtype) for stack in self.along_columns]
        self.back_along_columns = [np.ascontiguousarray(stack, dtype=dtype) for stack in self.back_along_columns]
        return self

    def row_blocks(self):
        """For each group: its columns' rows of the row transform's output, and of the spectrum."""
        start = 0
        for (first, last, rows), forward, back in zip(self.groups, self.along_columns, self.back_along_columns,
                                                      strict=True):
            yield slice(2 * first, 2 * last), slice(start, start + 2 * rows * (last - first)), rows, forward, back
            start += 2 * rows * (last - first)


@functools.lru_cache(maxsize=16)
def spectrum(height, width, kernel, dtype):
    """The ``Spectrum`` of (height, width) maps and a kernel, its matrices in ``dtype``, built once."""
    return Spectrum(height, width, kernel).astype(dtype)


def analysis(plan, maps, allocate, purpose):
    """X̂ = A x for (W, H, M) maps (M = channels × batch, each map stored column by column): along the rows of
    pixels, one product for all of them, then along the columns of the result, column frequency by column
    frequency. Returns the (2F, M) spectra."""
    width, height, length = maps.shape
    half = matmul(plan.along_rows, maps.reshape(width, -1),
                  out=allocate(purpose + " along rows", (2 * plan.columns, height * length), maps.dtype))
    spectra = allocate(purpose, (2 * plan.frequencies, length), maps.dtype)
    for columns, rows, kept, forward, _ in plan.row_blocks():
        matmul(forward, half[columns].reshape(len(forward), 2 * height, length),
               out=spectra[rows].reshape(len(forward), 2 * kept, length))
    return spectra


def analysis_transposed(plan, spectra, height, width, allocate, purpose):
    """Aᵀ s for (2F, M) spectra: the transposes of ``analysis``'s passes in reverse. Returns (W, H, M)."""
    length = spectra.shape[1]
    half = allocate(purpose + " along rows", (2 * plan.columns, height * length), spectra.dtype)
    for columns, rows, kept, forward, _ in plan.row_blocks():
        matmul(forward.transpose(0, 2, 1), spectra[rows].reshape(len(forward), 2 * kept, length),
               out=half[columns].reshape(len(forward), 2 * height, length))
    maps = matmul(plan.along_rows.T, half, out=allocate(purpose, (width, height * length), spectra.dtype))
    return maps.reshape(width, height, length)


def synthesis(plan, spectra, out_h, allocate, purpose):
    """y = S Ŷ for (2F, M) spectra: each column's kept rows back to its first OH pixels, column frequency by
    column frequency, then every row back to its first OW pixels in one product. Returns the (OW, OH, M)
    valid pixels, column by column."""
    length = spectra.shape[1]
    half = allocate(purpose + " along columns", (2 * plan.columns, out_h * length), spectra.dtype)
    for columns, rows, kept, _, back in plan.row_blocks():
        matmul(back, spectra[rows].reshape(len(back), 2 * kept, length),
               out=half[columns].reshape(len(back), 2 * out_h, length))
    out_w = len(plan.back_along_rows)
    pixels = matmul(plan.back_along_rows, half, out=allocate(purpose, (out_w, out_h * length), spectra.dtype))
    return pixels.reshape(out_w, out_h, length)


def synthesis_transposed(plan, pixels, allocate, purpose):
    """Sᵀ g for (OW, OH, M) pixels: the transposes of ``synthesis``'s passes in reverse. Returns (2F, M)."""
    out_w, out_h, length = pixels.shape
    half = matmul(plan.back_along_rows.T, pixels.reshape(out_w, -1),
                  out=allocate(purpose + " along columns", (2 * plan.columns, out_h * length), pixels.dtype))
    spectra = allocate(purpose, (2 * plan.frequencies, length), pixels.dtype)
    for columns, rows, kept, _, back in plan.row_blocks():
        matmul(back.transpose(0, 2, 1), half[columns].reshape(len(back), 2 * out_h, length),
               out=spectra[rows].reshape(len(back), 2 * kept, length))
    return spectra


def multiply_adds(in_channels, out_channels, height, width, kernel, input_gradient=True):
    """Multiply-adds per image of one training step (forward and backward) of a stride-1 convolution on
    (height, width) maps (padded already): ``(unrolled, spectral)``."""
    kh, kw = kernel
    out_h, out_w = height - kh + 1, width - kw + 1
    coefficients, columns = 2 * len(kept_frequencies(height, width)), 2 * (width // 2 + 1)
    passes = 3 if input_gradient else 2
    unrolled = passes * out_h * out_w * out_channels * in_channels * kh * kw
    spectral = ((1 + input_gradient) * (height * columns * width + coefficients * 2 * height) * in_channels  # A, Aᵀ
                + 2 * (2 * out_h * coefficients + out_h * out_w * columns) * out_channels                # S, Sᵀ
                + passes * coefficients * 2 * out_channels * in_channels)        # the products at each frequency
    return unrolled, spectral


def kernel_blocks(plan, W, allocate):
    """Ŵ_f = K w at each frequency as the real (2·C_out × 2·C_in) block [[Re, -Im], [Im, Re]]."""
    out_channels, in_channels = W.shape[:2]
    w_hat = matmul(plan.kernel, W.reshape(out_channels * in_channels, -1).T)
    real, imaginary = w_hat.reshape(plan.frequencies, 2, out_channels, in_channels).transpose(1, 0, 2, 3)
    blocks = allocate("kernel_blocks", (plan.frequencies, 2 * out_channels, 2 * in_channels), W.dtype)

    def fill(first, last):
        block, re, im = blocks[first:last], real[first:last], imaginary[first:last]
        block[:, :out_channels, :in_channels] = re
        block[:, out_channels:, in_channels:] = re
        block[:, out_channels:, :in_channels] = im
        np.negative(im, out=block[:, :out_channels, in_channels:])

    in_parallel(fill, plan.frequencies)
    return blocks


def convolve(x, W, b, allocate):
    """y = S (Ŵ_f X̂_f)_f + b for a (C_in, H, W, N) batch, padded already; ``allocate(purpose, shape, dtype)``
    supplies the scratch arrays. Returns y as a new (C_out, OH, OW, N) array, and what ``convolve_backward``
    needs."""
    channels, height, width, batch = x.shape
    out_channels, _, kh, kw = W.shape
    plan = spectrum(height, width, (kh, kw), x.dtype)
    out_h, out_w = height - kh + 1, width - kw + 1
    columns_first = allocate("columns_first", (width, height, channels, batch), x.dtype)
    copy_in_parallel(columns_first, x.transpose(2, 1, 0, 3))                          # (W, H, C_in, N)
    x_hat = analysis(plan, columns_first.reshape(width, height, -1), allocate, "x_hat")  # X̂ = A x
    x_hat = x_hat.reshape(plan.frequencies, 2 * channels, batch)                       # each f: [Re; Im] X̂_f
    w_hat = kernel_blocks(plan, W, allocate)
    y_hat = allocate("y_hat", (plan.frequencies, 2 * out_channels, batch), x.dtype)
    matmul(w_hat, x_hat, out=y_hat)                                                    # Ŷ_f = Ŵ_f X̂_f
    y_pixels = synthesis(plan, y_hat.reshape(2 * plan.frequencies, -1), out_h, allocate, "y_pixels")   # S Ŷ
    y = np.empty((out_channels, out_h, out_w, batch), x.dtype)
    y_pixels = y_pixels.reshape(out_w, out_h, out_channels, batch).transpose(2, 1, 0, 3)
    in_parallel(lambda first, last: np.add(y_pixels[first:last], b[first:last, None, None, None],
                                           out=y[first:last]), out_channels)
    return y, (plan, x.shape, x_hat, w_hat)


def convolve_backward(saved, grad, W, input_gradient, allocate):
    """For G = dL/dy as a (C_out, OH, OW, N) array: dL/dW, dL/db = Σ G over pixels and batch, and dL/dx as a
    new (C_in, H, W, N) array (None unless ``input_gradient``), by the transposes of ``convolve``'s maps."""
    plan, (channels, height, width, batch), x_hat, w_hat = saved
    out_channels, frequencies = W.shape[0], plan.frequencies
    grad_b = grad.reshape(out_channels, -1).sum(axis=1)
    out_h, out_w = grad.shape[1:3]
    grad_pixels = allocate("grad_columns_first", (out_w, out_h, out_channels, batch), grad.dtype)
    copy_in_parallel(grad_pixels, grad.transpose(2, 1, 0, 3))
    grad_y_hat = synthesis_transposed(plan, grad_pixels.reshape(out_w, out_h, -1), allocate,
                                      "grad_y_hat")                                        # dL/dŶ = Sᵀ G
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
    grad_maps = analysis_transposed(plan, grad_x_hat.reshape(2 * frequencies, -1), height, width, allocate,
                                    "grad_x_maps")                                         # dL/dx = Aᵀ dL/dX̂
    grad_x = np.empty((channels, height, width, batch), grad.dtype)
    copy_in_parallel(grad_x, grad_maps.reshape(width, height, channels, batch).transpose(2, 1, 0, 3))
    return grad_W, grad_b, grad_x
