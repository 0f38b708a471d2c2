"""Conv2D by the convolution theorem (fast/spectral.py): its plain version, three lines of np.fft, against the
plain Conv2D; the matrix transforms against NumPy's FFT and against the plain version; its multiply-adds counted
by hand, the fast Conv2D's choice between the two ways, and the same bits run after run on any number of
threads. The naive loops and PyTorch check it with the unrolled windows, case by case, in tests/engine/test_conv.py."""
import numpy as np
import pytest

from nnscratch import fast
from nnscratch.fast import spectral
from nnscratch.fast.layout import batch_first, batch_innermost
from nnscratch.layers import Conv2D


def make(case, dtype=np.float64, seed=0):
    """A Conv2D (stride 1) and a batch of 3: case = (C_in, C_out, kernel, padding, H, W)."""
    in_channels, out_channels, kernel, padding, height, width = case
    rng = np.random.default_rng(seed)
    conv = Conv2D(in_channels, out_channels, kernel, padding=padding, bias_init="normal", rng=rng, dtype=dtype)
    return conv, rng.standard_normal((3, in_channels, height, width)).astype(dtype)


@pytest.mark.parametrize("dtype, rounding", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("case", [(1, 3, 3, 0, 5, 5), (2, 3, (3, 2), 0, 7, 6), (4, 5, 5, 0, 9, 9),
                                  (32, 64, 5, 0, 12, 12), (2, 2, 4, 0, 4, 4)])
def test_the_plain_fft_version_is_the_plain_convolution_and_the_matrix_transforms_are_it(case, dtype, rounding):
    """irfft2(rfft2(x) · conj(rfft2(w, s))), cropped, is Conv2D's valid output; the matrix transforms give the
    same, to rounding of the largest value."""
    conv, x = make(case, dtype)
    expected = conv.forward(x)
    by_fft = spectral.convolve_by_fft(x, conv.params["W"], conv.params["b"])
    assert by_fft.shape == expected.shape and by_fft.dtype == dtype
    scale = np.abs(expected).max()
    np.testing.assert_allclose(by_fft, expected, rtol=0, atol=rounding * scale)
    allocate = lambda purpose, shape, dtype: np.full(shape, np.nan, dtype)          # noqa: E731
    by_matrices, _ = spectral.convolve(np.ascontiguousarray(batch_innermost(x)), conv.params["W"], conv.params["b"],
                                       allocate)
    np.testing.assert_allclose(batch_first(by_matrices), by_fft, rtol=0, atol=rounding * scale)


def dense_transforms(height, width, kernel):
    """A (2F, H·W) and S (OH·OW, 2F) as matrices, applied pass by pass to the unit vectors."""
    plan = spectral.spectrum(height, width, kernel, np.dtype(np.float64))
    allocate = lambda purpose, shape, dtype: np.full(shape, np.nan, dtype)          # noqa: E731
    maps = np.eye(height * width).reshape(height, width, -1).transpose(1, 0, 2)    # (W, H, M): column by column
    analysis = spectral.analysis(plan, np.ascontiguousarray(maps), allocate, "A")
    out_h = height - kernel[0] + 1
    synthesis = spectral.synthesis(plan, np.eye(2 * plan.frequencies), out_h, allocate, "S")   # (OW, OH, 2F)
    return plan, analysis, synthesis.transpose(1, 0, 2).reshape(-1, 2 * plan.frequencies)


@pytest.mark.parametrize("height, width", [(12, 12), (5, 5), (6, 7), (7, 6), (1, 4), (3, 1), (2, 2)])
def test_the_kept_frequencies_hold_as_many_numbers_as_pixels_and_lose_nothing(height, width):
    """A real map's spectrum, without the frequencies that mirror others, is H·W real numbers (the imaginary
    parts of the frequencies that are their own mirror are always zero); A is then invertible on the maps."""
    kept = spectral.kept_frequencies(height, width)
    assert len(set(kept)) == len(kept)
    own_mirrors = [(i, j) for i, j in kept if (-i) % height == i and (-j) % width == j]
    assert 2 * len(kept) - len(own_mirrors) == height * width
    _, analysis, synthesis = dense_transforms(height, width, (1, 1))
    assert np.linalg.matrix_rank(analysis) == height * width
    x = np.random.default_rng(0).standard_normal(height * width)
    np.testing.assert_allclose(synthesis @ (analysis @ x), x, atol=1e-12)         # a 1×1 kernel of one


@pytest.mark.parametrize("height, width, kernel", [(12, 12, (5, 5)), (7, 6, (3, 2)), (5, 8, (2, 4))])
def test_the_passes_are_numpy_s_fft_and_the_transposes_are_theirs(height, width, kernel):
    """Row by row then column by column gives np.fft.rfft2 at the kept frequencies; the transposed passes
    give the transposed matrices; S of a product of spectra is the valid circular cross-correlation."""
    plan, analysis, synthesis = dense_transforms(height, width, kernel)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((height, width))
    rows, columns = np.array(spectral.kept_frequencies(height, width)).T
    expected = np.fft.rfft2(x)[rows, columns]
    got = (analysis @ x.reshape(-1)).reshape(-1, 2)
    np.testing.assert_allclose(got[:, 0] + 1j * got[:, 1], expected, atol=1e-12)
    allocate = lambda purpose, shape, dtype: np.full(shape, np.nan, dtype)          # noqa: E731
    spectra = rng.standard_normal((2 * plan.frequencies, 3))
    transposed = spectral.analysis_transposed(plan, spectra, height, width, allocate, "At")   # (W, H, 3)
    np.testing.assert_allclose(transposed.transpose(1, 0, 2).reshape(-1, 3), analysis.T @ spectra, atol=1e-12)
    out_h, out_w = height - kernel[0] + 1, width - kernel[1] + 1
    pixels = rng.standard_normal((out_h, out_w, 3))
    np.testing.assert_allclose(spectral.synthesis_transposed(plan, np.ascontiguousarray(pixels.transpose(1, 0, 2)),
                                                             allocate, "St"),
                               synthesis.T @ pixels.reshape(-1, 3), atol=1e-12)
    w = rng.standard_normal(kernel)
    w_hat = (plan.kernel @ w.reshape(-1)).reshape(-1, 2)
    x_hat = got
    y_hat = np.stack([x_hat[:, 0] * w_hat[:, 0] - x_hat[:, 1] * w_hat[:, 1],
                      x_hat[:, 0] * w_hat[:, 1] + x_hat[:, 1] * w_hat[:, 0]], axis=1).reshape(-1)
    correlation = [[np.sum(x[i:i + kernel[0], j:j + kernel[1]] * w) for j in range(out_w)] for i in range(out_h)]
    np.testing.assert_allclose((synthesis @ y_hat).reshape(out_h, out_w), correlation, atol=1e-12)


def test_multiply_adds_by_hand():
    """The second convolution of the cnn preset: 32 maps of 12×12 to 64 of 8×8 with 5×5 kernels."""
    unrolled, by_spectrum = spectral.multiply_adds(32, 64, 12, 12, (5, 5))
    assert unrolled == 3 * 8 * 8 * 64 * 32 * 5 * 5 == 9_830_400
    coefficients = 2 * (12 * 7 - 2 * 5)                  # 74 kept frequencies of 12×12 maps, real and imaginary
    analysis = 12 * 14 * 12 + coefficients * 24          # rows to 7 column frequencies; columns to kept rows
    synthesis = 16 * coefficients + 8 * 8 * 14           # kept rows to 8 pixels; 7 column frequencies to 8
    products = coefficients * 2 * 64 * 32
    assert by_spectrum == 2 * analysis * 32 + 2 * synthesis * 64 + 3 * products == 2_592_768
    unrolled, by_spectrum = spectral.multiply_adds(32, 64, 12, 12, (5, 5), input_gradient=False)
    assert (unrolled, by_spectrum) == (2 * 8 * 8 * 64 * 32 * 5 * 5, 2_592_768 - analysis * 32 - products)


def test_the_fast_conv2d_takes_the_cheaper_way():
    def computed(conv, shape):
        with fast.faster(conv) as twins:
            conv.forward(np.zeros(shape, np.float32))
        return twins[conv].computed

    assert computed(Conv2D(32, 64, 5), (2, 32, 12, 12)) == "spectral"          # the cnn presets' second conv
    assert computed(Conv2D(1, 32, 5), (2, 1, 28, 28)) == "unrolled"            # one input channel
    assert computed(Conv2D(24, 32, 3), (2, 24, 12, 12)) == "spectral"          # cnn-fast's second conv
    assert computed(Conv2D(8, 16, 3), (2, 8, 28, 28)) == "unrolled"            # few channels, a large map
    assert computed(Conv2D(32, 64, 5, stride=2), (2, 32, 12, 12)) == "unrolled"
    forced = Conv2D(32, 64, 5, stride=2)
    with fast.faster(forced, convolution="spectral"), pytest.raises(ValueError, match="stride 1 only"):
        forced.forward(np.zeros((2, 32, 12, 12), np.float32))
    with pytest.raises(ValueError, match="'auto', 'unrolled' or 'spectral', got 'fft'"):
        with fast.faster(forced, convolution="fft"):
            pass


def test_backward_after_an_eval_mode_forward_and_without_the_input_gradient():
    conv, x = make((4, 5, 5, 2, 9, 9))
    with fast.faster(conv, convolution="spectral"):
        grad_out = np.random.default_rng(4).standard_normal(conv.forward(x).shape)
        grad_x, grad_W = conv.backward(grad_out), conv.grads["W"].copy()
        conv.eval()
        conv.forward(x)
        np.testing.assert_allclose(conv.backward(grad_out), grad_x, rtol=1e-12)
        np.testing.assert_allclose(conv.grads["W"], grad_W, rtol=1e-12)
        conv.train()
        conv.needs_input_grad = False
        conv.forward(x)
        assert conv.backward(grad_out) is None
        np.testing.assert_allclose(conv.grads["W"], grad_W, rtol=1e-12)


def test_the_same_bits_run_after_run_on_any_number_of_threads():
    """Repeatable to the bit on the pool and off it, the two equal to float32 rounding (how a product is split
    changes its rounding under some OpenBLAS kernels)."""
    def step(threads):
        fast.set_threads(threads)
        try:
            conv, x = make((32, 64, 5, 0, 12, 12), dtype=np.float32)
            with fast.faster(conv) as twins:
                y = conv.forward(np.ascontiguousarray(np.repeat(x, 40, axis=0)))
                grad_x = conv.backward(np.cos(y))
            assert twins[conv].computed == "spectral"
            return y, grad_x, conv.grads["W"].copy(), conv.grads["b"].copy()
        finally:
            fast.set_threads(None)

    alone, pooled = step(1), step(3)
    for first, again in zip(pooled, step(3), strict=True):
        np.testing.assert_array_equal(first, again)
    for first, again in zip(alone, step(1), strict=True):
        np.testing.assert_array_equal(first, again)
    for first, other in zip(alone, pooled, strict=True):
        scale = np.abs(first).max()
        np.testing.assert_allclose(other, first, rtol=0, atol=1e-5 * scale)