"""MaxPool2D, AvgPool2D and GlobalAvgPool: numerical gradients, naive loops, PyTorch, ties and errors."""
import numpy as np
import pytest

from nnscratch import fast
from nnscratch.layers import LAYERS, AvgPool2D, GlobalAvgPool, MaxPool2D
from tests.gradcheck import check_layer_gradients
from tests.naive_layers import pool2d

CASES = [  # (kernel, stride or None, input shape)
    (2, None, (2, 3, 4, 6)),
    (2, None, (2, 2, 5, 5)),        # the last row and column fall outside every window
    (3, 2, (2, 2, 7, 6)),           # overlapping windows
    ((2, 3), (1, 2), (1, 2, 4, 7)),
    (2, 3, (2, 2, 5, 5)),           # gaps between the windows get exactly zero gradient
]


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("case", CASES)
def test_gradients_match_central_differences(cls, case):
    kernel, stride, shape = case
    # Distinct values a step of 1e-6 cannot reorder: max pooling is differentiable there.
    x = np.random.default_rng(0).permutation(np.prod(shape)).reshape(shape) * 0.01
    check_layer_gradients(cls(kernel, stride), x)


@pytest.mark.parametrize("kind, cls", [("max", MaxPool2D), ("average", AvgPool2D)])
@pytest.mark.parametrize("case", CASES)
def test_matches_naive_loops(kind, cls, case):
    kernel, stride, shape = case
    layer = cls(kernel, stride)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    y = layer.forward(x)
    grad_out = rng.standard_normal(y.shape)
    expected_y, expected_grad = pool2d(x, layer.kernel_size, layer.stride, grad_out, kind)
    assert y.shape == expected_y.shape, f"output shape {y.shape}, expected {expected_y.shape}"
    np.testing.assert_allclose(y, expected_y, rtol=1e-12)
    np.testing.assert_allclose(layer.backward(grad_out), expected_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", CASES)
def test_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    kernel, stride, shape = case
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    for layer, reference in [(MaxPool2D(kernel, stride), torch.nn.MaxPool2d(kernel, stride)),
                             (AvgPool2D(kernel, stride), torch.nn.AvgPool2d(kernel, stride))]:
        x_torch = torch.from_numpy(x).requires_grad_(True)
        y_torch = reference(x_torch)
        y = layer.forward(x)
        assert y.shape == tuple(y_torch.shape) and y.dtype == np.float32, f"got {y.shape} {y.dtype}"
        np.testing.assert_allclose(y, y_torch.detach().numpy(), rtol=1e-6, atol=1e-7)
        grad_out = np.random.default_rng(3).standard_normal(y.shape).astype(np.float32)
        y_torch.backward(torch.from_numpy(grad_out))
        np.testing.assert_allclose(layer.backward(grad_out), x_torch.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_max_pool_gives_a_tie_to_the_first_maximum_only():
    layer = MaxPool2D(2)
    x = np.array([[[[1.0, 3.0], [3.0, 3.0]]]])      # three inputs tie for the maximum
    assert layer.forward(x)[0, 0, 0, 0] == 3.0
    np.testing.assert_array_equal(layer.backward(np.full((1, 1, 1, 1), 5.0)), [[[[0.0, 5.0], [0.0, 0.0]]]])


def test_global_average_pool_gradient_and_pytorch():
    x = np.random.default_rng(4).standard_normal((3, 2, 4, 5))
    layer = GlobalAvgPool()
    check_layer_gradients(layer, x)
    np.testing.assert_allclose(layer.forward(x), x.mean(axis=(2, 3)), rtol=1e-12)


def test_pooling_keeps_float32_and_config_rebuilds():
    for layer in (MaxPool2D(3, 2), AvgPool2D((2, 3), (1, 2)), GlobalAvgPool()):
        y = layer.forward(np.ones((2, 3, 8, 8), dtype=np.float32))
        assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32
        assert LAYERS[type(layer).__name__](**layer.config()).config() == layer.config()


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match=r"MaxPool2D expected input of shape \(N, C, H, W\), got shape \(2, 784\)"):
        MaxPool2D(2).forward(np.zeros((2, 784)))
    with pytest.raises(ValueError, match="does not fit"):
        AvgPool2D(5).forward(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="kernel_size and stride >= 1"):
        MaxPool2D(0)
    with pytest.raises(ValueError, match="GlobalAvgPool expected"):
        GlobalAvgPool().forward(np.zeros((2, 3)))


def test_max_pool_tie_between_later_offsets_goes_to_the_first_of_them():
    layer = MaxPool2D(2)
    x = np.array([[[[1.0, 4.0], [2.0, 4.0]]]])      # offsets 1 and 3 tie; offset 1 comes first
    assert layer.forward(x)[0, 0, 0, 0] == 4.0
    np.testing.assert_array_equal(layer.backward(np.full((1, 1, 1, 1), 2.0)), [[[[0.0, 2.0], [0.0, 0.0]]]])


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_pixels_outside_every_window_get_zero_gradient(cls):
    """A 5×5 input under 2×2 windows leaves its last row and column out: their gradient must be exactly 0,
    even when the memory the gradient is allocated in held NaNs just before."""
    x = np.random.default_rng(7).standard_normal((3, 2, 5, 5)).astype(np.float32)
    layer = cls(2)
    y = layer.forward(x)
    for _ in range(3):
        poison = np.full(x.shape, np.nan, dtype=np.float32)
        del poison
        grad_x = layer.backward(np.ones_like(y))
        assert np.isfinite(grad_x).all(), "the input gradient holds values from uninitialised memory"
        assert not grad_x[:, :, 4, :].any() and not grad_x[:, :, :, 4].any(), "left-over pixels got gradient"


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_gradient_in_any_layout_gives_the_same_result(cls):
    """After Flatten the gradient arrives as a plain NCHW array, not in the layers' (C, H, W, N) layout."""
    x = np.random.default_rng(8).standard_normal((4, 3, 6, 6))
    layer = cls(2)
    y = layer.forward(x)
    grad_out = np.random.default_rng(9).standard_normal(y.shape)
    expected = pool2d(x, layer.kernel_size, layer.stride, grad_out, "max" if cls is MaxPool2D else "average")[1]
    for grad_layout in (np.ascontiguousarray(grad_out), np.ascontiguousarray(grad_out.transpose(1, 2, 3, 0)
                                                                             ).transpose(3, 0, 1, 2)):
        np.testing.assert_allclose(layer.backward(grad_layout), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", CASES)
def test_fast_max_pool_gives_the_same_bits_on_any_number_of_threads(case):
    kernel, stride, shape = case
    x = np.random.default_rng(10).standard_normal((shape[0], 5) + shape[2:]).astype(np.float32)
    x[:, :, ::2] = np.round(x[:, :, ::2])           # plenty of ties
    results = {}
    try:
        for threads in (1, 2, 3):
            fast.set_threads(threads)
            layer = MaxPool2D(kernel, stride)
            with fast.faster(layer):
                y = layer.forward(x)
                grad_out = np.arange(y.size, dtype=np.float32).reshape(y.shape)
                results[threads] = (y, layer.backward(grad_out))
    finally:
        fast.set_threads(None)
    expected_y, expected_grad = pool2d(x, layer.kernel_size, layer.stride, grad_out)
    np.testing.assert_array_equal(results[1][0], expected_y)
    np.testing.assert_array_equal(results[1][1], expected_grad)
    for threads in (2, 3):
        np.testing.assert_array_equal(results[threads][0], results[1][0], err_msg=f"forward, {threads} threads")
        np.testing.assert_array_equal(results[threads][1], results[1][1], err_msg=f"backward, {threads} threads")
