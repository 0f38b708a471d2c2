"""Conv2D: numerical gradients, a naive loop reference, PyTorch with copied weights, and the Layer contract;
the naive loops and PyTorch check the fast twin's two ways too (nnscratch.fast)."""
from contextlib import nullcontext

import numpy as np
import pytest

from nnscratch import fast
from nnscratch.fast.conv import col2im, im2col
from nnscratch.layers import LAYERS, Conv2D, Flatten, Linear, MaxPool2D, ReLU
from nnscratch.network import Sequential
from tests.gradcheck import check_layer_gradients
from tests.naive_layers import conv2d, conv2d_backward

CASES = [  # (in_channels, out_channels, kernel, stride, padding, input height, input width)
    (1, 3, 3, 1, 0, 5, 5),
    (2, 3, 3, 1, 1, 5, 4),
    (2, 2, (3, 2), (2, 1), (1, 0), 6, 5),
    (3, 2, 2, 2, 0, 4, 6),
    (2, 3, 3, 2, 1, 7, 7),          # kernel 3, stride 2, padding 1
    (2, 2, 5, 2, 2, 8, 8),          # 5×5 windows moved by 2 with the output half the input ("32C5S2")
    (3, 2, 3, 1, 1, 6, 6),          # "same" padding: the output as large as the input
    (2, 2, (3, 2), 1, 0, 7, 6),     # odd height, even width
    (4, 5, 5, 1, 2, 9, 9),
    (1, 2, 4, 1, 0, 4, 4),          # the kernel as large as the image: one output pixel
    (2, 3, 1, 1, 0, 5, 4),
]
# Every case by the plain layer and the fast twin's unrolled windows, and the stride-1 ones by the convolution
# theorem too (fast/spectral.py).
WAYS = [(case, way) for case in CASES for way in ("plain", "unrolled", "spectral")
        if way != "spectral" or case[3] == 1]


def make(case, seed=0, dtype=np.float64):
    in_channels, out_channels, kernel, stride, padding, height, width = case
    rng = np.random.default_rng(seed)
    conv = Conv2D(in_channels, out_channels, kernel, stride, padding, bias_init="normal", rng=rng, dtype=dtype)
    x = rng.standard_normal((2, in_channels, height, width)).astype(dtype)
    return conv, x


def computing(conv, way):
    """The block in which ``conv`` computes the ``way`` asked: plain, or the fast twin's unrolled or spectral."""
    return nullcontext({}) if way == "plain" else fast.faster(conv, convolution=way)


@pytest.mark.parametrize("case", CASES)
def test_gradients_match_central_differences(case):
    conv, x = make(case)
    check_layer_gradients(conv, x)


@pytest.mark.parametrize("case, way", WAYS)
def test_matches_naive_loops(case, way):
    conv, x = make(case)
    grad_out = np.random.default_rng(1).standard_normal(conv.forward(x).shape)
    with computing(conv, way) as twins:
        y = conv.forward(x)
        grad_x = conv.backward(grad_out)
    assert way == "plain" or twins[conv].computed == way
    expected = conv2d(x, conv.params["W"], conv.params["b"], conv.stride, conv.padding)
    assert y.shape == expected.shape, f"output shape {y.shape}, expected {expected.shape}"
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    expected_x, expected_W, expected_b = conv2d_backward(x, conv.params["W"], grad_out, conv.stride, conv.padding)
    np.testing.assert_allclose(grad_x, expected_x, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(conv.grads["W"], expected_W, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(conv.grads["b"], expected_b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case, way", WAYS)
def test_matches_pytorch_with_copied_weights(case, way):
    torch = pytest.importorskip("torch")
    conv, x = make(case, dtype=np.float32)
    reference = torch.nn.Conv2d(*case[:2], case[2], stride=case[3], padding=case[4])
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(conv.params["W"]))
        reference.bias.copy_(torch.from_numpy(conv.params["b"]))
    x_torch = torch.from_numpy(x).requires_grad_(True)
    y_torch = reference(x_torch)
    grad_out = np.random.default_rng(2).standard_normal(tuple(y_torch.shape)).astype(np.float32)
    with computing(conv, way):
        y = conv.forward(x)
        grad_x = conv.backward(grad_out)
    assert y.shape == tuple(y_torch.shape) and y.dtype == np.float32, f"got {y.shape} {y.dtype}"
    np.testing.assert_allclose(y, y_torch.detach().numpy(), rtol=1e-5, atol=1e-5)
    y_torch.backward(torch.from_numpy(grad_out))
    assert grad_x.dtype == np.float32 and conv.grads["W"].dtype == np.float32
    np.testing.assert_allclose(grad_x, x_torch.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(conv.grads["W"], reference.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(conv.grads["b"], reference.bias.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_backward_overwrites_gradients_and_can_skip_the_input_gradient():
    conv, x = make(CASES[1])
    grad_out = np.ones(conv.forward(x).shape)
    conv.backward(grad_out)
    first = conv.grads["W"].copy()
    conv.forward(x)
    conv.backward(grad_out)
    np.testing.assert_array_equal(conv.grads["W"], first)
    conv.needs_input_grad = False
    conv.forward(x)
    assert conv.backward(grad_out) is None
    np.testing.assert_array_equal(conv.grads["W"], first)


def test_float32_in_float32_out_and_outputs_are_not_shared_between_calls():
    conv, x = make(CASES[1], dtype=np.float32)
    first = conv.forward(x)
    second = conv.forward(x[::-1].copy())
    assert first.dtype == np.float32 and conv.backward(np.ones_like(second)).dtype == np.float32
    np.testing.assert_allclose(first[::-1], second, rtol=1e-6)   # the first result was not overwritten


def test_bad_input_gives_clear_errors():
    conv = Conv2D(3, 4, 5)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\), got shape \(2, 1, 28, 28\)"):
        conv.forward(np.zeros((2, 1, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="does not fit"):
        conv.forward(np.zeros((2, 3, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="kernel_size must be an integer or a pair"):
        Conv2D(1, 1, "five")
    with pytest.raises(ValueError, match="stride >= 1"):
        Conv2D(1, 1, 3, stride=0)


def test_config_rebuilds_the_layer_and_state_dict_has_dotted_keys():
    conv = Conv2D(2, 4, (3, 5), stride=(1, 2), padding=1, rng=0)
    rebuilt = LAYERS["Conv2D"](**conv.config())
    assert rebuilt.config() == conv.config() and rebuilt.params["W"].shape == (4, 2, 3, 5)
    model = Sequential(Conv2D(1, 2, 3, rng=0), ReLU(), MaxPool2D(2), Flatten(), Linear(2 * 3 * 3, 10, rng=0))
    assert sorted(model.state_dict()) == ["0.W", "0.b", "4.W", "4.b"]
    assert model.forward(np.zeros((5, 1, 8, 8), dtype=np.float32)).shape == (5, 10)


def test_small_network_gradient_through_conv_pool_and_dense():
    rng = np.random.default_rng(3)
    model = Sequential(Conv2D(1, 2, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2), Conv2D(2, 2, 2, rng=rng),
                       Flatten(), Linear(2 * 2 * 2, 3, rng=rng))
    check_layer_gradients(model, rng.standard_normal((2, 1, 6, 6)), rtol=1e-5, atol=1e-7)


def test_backward_after_an_eval_mode_forward_matches_training_mode():
    conv, x = make(CASES[2])
    grad_out = np.random.default_rng(4).standard_normal(conv.forward(x).shape)
    expected = conv.backward(grad_out), conv.grads["W"].copy()
    conv.eval()
    conv.forward(x)
    np.testing.assert_allclose(conv.backward(grad_out), expected[0], rtol=1e-12)
    np.testing.assert_allclose(conv.grads["W"], expected[1], rtol=1e-12)


def test_any_input_layout_gives_the_same_result():
    """Conv2D reads the (C, H, W, N) view of its input: a plain NCHW batch, a channels-last one, a reversed
    view and a layer's own output must all give the naive loops' answer."""
    case = (3, 4, 3, 1, 1, 5, 6)
    conv, x = make(case)
    expected = conv2d(x, conv.params["W"], conv.params["b"], conv.stride, conv.padding)
    grad_out = np.random.default_rng(5).standard_normal(expected.shape)
    expected_x, expected_W, _ = conv2d_backward(x, conv.params["W"], grad_out, conv.stride, conv.padding)
    layouts = {"NCHW": x, "NHWC": np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
               "CHWN": np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2),
               "reversed view": x[::-1].copy()[::-1]}
    for name, x_layout in layouts.items():
        for grad_layout in (grad_out, np.asfortranarray(grad_out)):
            y = conv.forward(x_layout)
            np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12, err_msg=f"forward, input {name}")
            np.testing.assert_allclose(conv.backward(grad_layout), expected_x, rtol=1e-10, atol=1e-12,
                                       err_msg=f"dL/dx, input {name}")
            np.testing.assert_allclose(conv.grads["W"], expected_W, rtol=1e-10, atol=1e-12,
                                       err_msg=f"dL/dW, input {name}")


def plain_im2col(x, kernel, stride):
    """fast.conv.im2col as its docstring writes it, for (C, H, W, N) input."""
    (kh, kw), (sh, sw) = kernel, stride
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    return np.ascontiguousarray(windows.transpose(0, 4, 5, 1, 2, 3)).reshape(x.shape[0] * kh * kw, -1)


def plain_col2im(cols, shape, kernel, stride):
    (kh, kw), (sh, sw) = kernel, stride
    channels, height, width, batch = shape
    out_h, out_w = (height - kh) // sh + 1, (width - kw) // sw + 1
    cols = cols.reshape(channels, kh, kw, out_h, out_w, batch)
    out = np.zeros(shape, dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, i:i + sh * out_h:sh, j:j + sw * out_w:sw] += cols[:, i, j]
    return out


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("kernel, stride", [((3, 3), (1, 1)), ((5, 3), (2, 1)), ((2, 2), (3, 3))])
def test_im2col_and_col2im_match_their_plain_versions_to_the_bit_with_any_number_of_threads(kernel, stride, threads):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((7, 9, 8, 3)).astype(np.float32)
    expected_cols = plain_im2col(x, kernel, stride)
    grad_cols = rng.standard_normal(expected_cols.shape).astype(np.float32)
    expected_x = plain_col2im(grad_cols, x.shape, kernel, stride)
    try:
        fast.set_threads(threads)
        cols = im2col(x, kernel, stride, np.full(expected_cols.shape, np.nan, np.float32))
        folded = col2im(grad_cols, x.shape, kernel, stride, np.full(x.shape, np.nan, np.float32))
    finally:
        fast.set_threads(None)
    np.testing.assert_array_equal(cols, expected_cols)
    np.testing.assert_array_equal(folded, expected_x)


def test_a_fast_training_step_repeats_to_the_bit_and_agrees_with_and_without_threads():
    """The same bits run after run with one number of threads; with another, the products split otherwise, so
    the two agree to float32 rounding (to the bit under BLAS kernels that round alike however a product is
    split), the same as the plain layers."""
    def step():
        rng = np.random.default_rng(11)
        model = Sequential(Conv2D(3, 8, 5, padding=2, rng=rng), MaxPool2D(2), ReLU(),
                           Conv2D(8, 6, 3, stride=2, rng=rng), ReLU(), Flatten(), Linear(6 * 3 * 3, 4, rng=rng))
        x = rng.standard_normal((16, 3, 14, 14)).astype(np.float32)
        plain_y = model.forward(x)
        plain = [plain_y, model.backward(np.ones_like(plain_y))] + [array.copy() for layer in model
                                                                     for array in layer.grads.values()]
        with fast.faster(model):
            y = model.forward(x)
            grad_x = model.backward(np.ones_like(y))
        return [y, grad_x] + [array.copy() for layer in model for array in layer.grads.values()], plain

    try:
        fast.set_threads(1)
        alone, plain = step()
        fast.set_threads(4)
        shared, _ = step()
        again, _ = step()
    finally:
        fast.set_threads(None)
    for number, (first, second, third, reference) in enumerate(zip(alone, shared, again, plain, strict=True)):
        np.testing.assert_array_equal(second, third, err_msg=f"array {number} differs between two runs")
        scale = np.abs(reference).max()
        for result in (first, second):
            np.testing.assert_allclose(result, reference, rtol=0, atol=1e-5 * scale, err_msg=f"array {number}")


def test_the_thread_setting_is_checked(monkeypatch):
    try:
        with pytest.raises(ValueError, match="the number of threads must be at least 1, got 0"):
            fast.set_threads(0)
        monkeypatch.setenv("NNSCRATCH_THREADS", "two")
        with pytest.raises(ValueError, match="NNSCRATCH_THREADS must be a whole number, got 'two'"):
            fast.set_threads(None)
        monkeypatch.setenv("NNSCRATCH_THREADS", "1")
        fast.set_threads(None)
        assert fast.threads() == 1
    finally:
        monkeypatch.delenv("NNSCRATCH_THREADS")
        fast.set_threads(None)
    assert fast.threads() >= 1
