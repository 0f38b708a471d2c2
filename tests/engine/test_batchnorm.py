"""BatchNorm: numerical gradients in training and eval mode, a loop reference, PyTorch, and running statistics."""
import numpy as np
import pytest

from nnscratch.layers import LAYERS, BatchNorm, Conv2D
from nnscratch.network import Sequential
from tests.gradcheck import check_layer_gradients
from tests.naive_layers import batchnorm

SHAPES = [(6, 4), (3, 2, 3, 4)]


def make(shape, seed=0):
    rng = np.random.default_rng(seed)
    layer = BatchNorm(shape[1])
    layer.params["gamma"][...] = rng.uniform(0.5, 1.5, shape[1])
    layer.params["beta"][...] = rng.standard_normal(shape[1])
    return layer, rng.standard_normal(shape) * 2.0 + 1.0


@pytest.mark.parametrize("shape", SHAPES)
def test_gradients_match_central_differences_in_training_mode(shape):
    layer, x = make(shape)
    check_layer_gradients(layer, x, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES)
def test_gradients_match_central_differences_in_eval_mode(shape):
    layer, x = make(shape)
    layer.buffers["running_mean"][...] = 0.3
    layer.buffers["running_var"][...] = 2.0
    layer.eval()
    check_layer_gradients(layer, x)


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_loop_reference(shape):
    layer, x = make(shape)
    layer.astype(np.float64)
    expected = batchnorm(x, layer.params["gamma"], layer.params["beta"], layer.eps)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_pytorch_in_training_and_eval_mode(shape):
    torch = pytest.importorskip("torch")
    layer, x = make(shape)
    x = x.astype(np.float32)
    reference = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(shape[1])
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(layer.params["gamma"]))
        reference.bias.copy_(torch.from_numpy(layer.params["beta"]))
    for _ in range(3):                      # three training steps move the running statistics
        x_torch = torch.from_numpy(x).requires_grad_(True)
        y_torch = reference(x_torch)
        y = layer.forward(x)
        assert y.dtype == np.float32, f"output dtype {y.dtype}, expected float32"
        np.testing.assert_allclose(y, y_torch.detach().numpy(), rtol=1e-5, atol=1e-5)
        grad_out = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        y_torch.backward(torch.from_numpy(grad_out))
        np.testing.assert_allclose(layer.backward(grad_out), x_torch.grad.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(layer.grads["gamma"], reference.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(layer.grads["beta"], reference.bias.grad.numpy(), rtol=1e-4, atol=1e-5)
        reference.zero_grad()
        x = x * 1.5 - 0.5
    np.testing.assert_allclose(layer.buffers["running_mean"], reference.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.buffers["running_var"], reference.running_var.numpy(), rtol=1e-5, atol=1e-6)
    layer.eval()
    reference.eval()
    np.testing.assert_allclose(layer.forward(x), reference(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_eval_mode_uses_running_statistics_and_does_not_update_them():
    layer = BatchNorm(2)
    layer.buffers["running_mean"][...] = [1.0, -1.0]
    layer.buffers["running_var"][...] = [4.0, 0.25]
    layer.eval()
    y = layer.forward(np.array([[3.0, 0.0]], dtype=np.float32))     # a batch of one is fine in eval mode
    np.testing.assert_allclose(y, [[2.0 / np.sqrt(4.0 + 1e-5), 1.0 / np.sqrt(0.25 + 1e-5)]], rtol=1e-6)
    np.testing.assert_array_equal(layer.buffers["running_mean"], [1.0, -1.0])


def test_running_statistics_are_saved_with_the_model():
    model = Sequential(Conv2D(1, 3, 3, rng=0), BatchNorm(3))
    model.forward(np.random.default_rng(0).standard_normal((4, 1, 5, 5)).astype(np.float32))
    state = model.state_dict()
    assert {"1.running_mean", "1.running_var", "1.gamma", "1.beta"} <= set(state)
    rebuilt = Sequential(Conv2D(1, 3, 3, rng=1), BatchNorm(3))
    rebuilt.load_state_dict(state)
    np.testing.assert_array_equal(rebuilt[1].buffers["running_var"], model[1].buffers["running_var"])
    assert not np.allclose(state["1.running_var"], 1.0), "a training forward pass should move the running variance"
    assert LAYERS["BatchNorm"](**model[1].config()).config() == model[1].config()


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError,
                       match=r"BatchNorm expected input of shape \(N, 4\) or \(N, 4, H, W\), got shape \(2, 3\)"):
        BatchNorm(4).forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="more than one value per feature"):
        BatchNorm(3).forward(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="positive number of features"):
        BatchNorm(0)


def test_a_saved_cnn_with_batch_norm_predicts_the_same_after_loading(tmp_path):
    from nnscratch.layers import Flatten, Linear, MaxPool2D, ReLU
    from nnscratch.serialization import load_model, save_model
    rng = np.random.default_rng(0)
    model = Sequential(Conv2D(1, 4, 3, padding=1, rng=rng), BatchNorm(4), MaxPool2D(2), ReLU(), Flatten(),
                       Linear(4 * 4 * 4, 10, rng=rng))
    x = rng.random((6, 1, 8, 8), dtype=np.float32)
    model.forward(x)                                  # training mode: moves the running statistics
    expected = model.predict_output(x)
    save_model(tmp_path / "cnn.npz", model, {"dataset": "mnist"})
    loaded, _ = load_model(tmp_path / "cnn.npz")
    np.testing.assert_array_equal(loaded.predict_output(x), expected)
    np.testing.assert_array_equal(loaded[1].buffers["running_mean"], model[1].buffers["running_mean"])
