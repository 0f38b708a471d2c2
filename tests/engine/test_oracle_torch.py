"""nnscratch against PyTorch's autograd: forward values and every gradient, on random data, in float64.

PyTorch is not a dependency; these tests run where it is installed (``pip install torch==2.13.0``).
"""
from contextlib import nullcontext

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import fast

torch = pytest.importorskip("torch", reason="PyTorch is not installed; `pip install torch==2.13.0` enables the "
                                            "oracle tests")
F = torch.nn.functional

ACTIVATIONS = {
    "sigmoid": (nn.Sigmoid, torch.sigmoid),
    "tanh": (nn.Tanh, torch.tanh),
    "relu": (nn.ReLU, torch.relu),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), lambda z: F.leaky_relu(z, 0.2)),
    "softmax": (nn.Softmax, lambda z: torch.softmax(z, dim=1)),
}

LOSSES = {
    "quadratic": (nn.Quadratic, lambda out, y: 0.5 * ((out - F.one_hot(y, 5).double()) ** 2).sum(1).mean(), False),
    "softmax_cross_entropy": (nn.SoftmaxCrossEntropy, F.cross_entropy, False),
    "probability_cross_entropy": (nn.ProbabilityCrossEntropy, lambda p, y: F.nll_loss(torch.log(p), y), True),
    "binary_cross_entropy": (nn.BinaryCrossEntropy,
                             lambda p, y: F.binary_cross_entropy(p, F.one_hot(y, 5).double(), reduction="sum")
                             / len(y), True),
}


def torch_tensor(array):
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("loss_name", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_linear_activation_loss_agree_with_autograd(activation, loss_name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 7))
    y = rng.integers(0, 5, 16)
    make_activation, torch_activation = ACTIVATIONS[activation]
    make_loss, torch_loss, needs_probabilities = LOSSES[loss_name]
    linear = nn.Linear(7, 5, init="glorot", bias_init="normal", rng=1, dtype=np.float64)
    layers = [linear, make_activation()]
    if needs_probabilities and activation != "softmax":
        layers.append(nn.Sigmoid() if loss_name == "binary_cross_entropy" else nn.Softmax())
    model = nn.Sequential(layers)
    loss = make_loss()

    output = model.forward(x)
    value, grad_output = loss(output, y)
    grad_x = model.backward(grad_output)

    x_t, W_t, b_t = torch_tensor(x), torch_tensor(linear.params["W"]), torch_tensor(linear.params["b"])
    out_t = torch_activation(x_t @ W_t + b_t)
    if len(layers) == 3:
        out_t = torch.sigmoid(out_t) if loss_name == "binary_cross_entropy" else torch.softmax(out_t, dim=1)
    loss_t = torch_loss(out_t, torch.tensor(y))
    loss_t.backward()

    assert output.shape == tuple(out_t.shape) and output.dtype == np.float64
    np.testing.assert_allclose(output, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert value == pytest.approx(loss_t.item(), rel=1e-9)
    np.testing.assert_allclose(grad_x, x_t.grad.numpy(), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(linear.grads["W"], W_t.grad.numpy(), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(linear.grads["b"], b_t.grad.numpy(), rtol=1e-7, atol=1e-12)


def test_dropout_in_eval_mode_matches_and_training_mode_keeps_the_expectation():
    layer = nn.Dropout(0.4, rng=0)
    x = np.ones((1000, 100), dtype=np.float32)
    torch_dropout = torch.nn.Dropout(0.4)
    assert layer.forward(x).mean() == pytest.approx(torch_dropout(torch.tensor(x)).mean().item(), abs=0.01)
    layer.eval()
    torch_dropout.eval()
    np.testing.assert_array_equal(layer.forward(x), torch_dropout(torch.tensor(x)).numpy())


@pytest.mark.parametrize("name, make, make_torch", [
    ("sgd-momentum", lambda m: nn.SGD(m, lr=0.1, momentum=0.9, weight_decay=0.01),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("nesterov", lambda m: nn.SGD(m, lr=0.1, momentum=0.9, nesterov=True),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
    ("adam", lambda m: nn.Adam(m, lr=0.01, weight_decay=0.01), lambda p: torch.optim.Adam(p, lr=0.01,
                                                                                         weight_decay=0.01)),
    ("adamw", lambda m: nn.AdamW(m, lr=0.01, weight_decay=0.1), lambda p: torch.optim.AdamW(p, lr=0.01,
                                                                                           weight_decay=0.1)),
])
def test_optimizers_follow_torch_for_five_steps(name, make, make_torch):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    model = nn.Network([4, 3], output=None, rng=0, dtype=np.float64)
    W_t, b_t = torch_tensor(model[0].params["W"]), torch_tensor(model[0].params["b"])
    optimizer, torch_optimizer = make(model), make_torch([W_t, b_t])
    loss = nn.SoftmaxCrossEntropy()
    for _ in range(5):
        nn.train_step(model, x, y, loss, optimizer)
        torch_optimizer.zero_grad()
        F.cross_entropy(torch.tensor(x) @ W_t + b_t, torch.tensor(y)).backward()
        torch_optimizer.step()
    np.testing.assert_allclose(model[0].params["W"], W_t.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model[0].params["b"], b_t.detach().numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kernel, stride, padding, way", [
    (3, 1, 1, "plain"), (3, 2, 0, "plain"), (5, 2, 2, "plain"), (5, 1, 0, "plain"),
    (3, 1, 1, "unrolled"), (3, 2, 0, "unrolled"), (5, 2, 2, "unrolled"), (5, 1, 0, "spectral"), (3, 1, 1, "spectral")])
def test_conv_pool_relu_agree_with_autograd(kernel, stride, padding, way):
    """Conv2D (the strides and paddings the presets use; the plain layers, and the fast twins by unrolled windows
    and by the convolution theorem), MaxPool2D, ReLU, AvgPool2D, in float64."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 2, 13, 13))
    conv = nn.layers.Conv2D(2, 5, kernel, stride=stride, padding=padding, bias_init="normal", rng=1,
                            dtype=np.float64)
    model = nn.Sequential(conv, nn.layers.MaxPool2D(2), nn.ReLU(), nn.layers.AvgPool2D(2, stride=1))
    with nullcontext() if way == "plain" else fast.faster(model, convolution=way):
        output = model.forward(x)
        grad_output = rng.standard_normal(output.shape)
        grad_x = model.backward(grad_output)

    x_t, W_t, b_t = torch_tensor(x), torch_tensor(conv.params["W"]), torch_tensor(conv.params["b"])
    out_t = F.avg_pool2d(torch.relu(F.max_pool2d(F.conv2d(x_t, W_t, b_t, stride=stride, padding=padding), 2)),
                         2, stride=1)
    out_t.backward(torch.tensor(grad_output))

    assert output.shape == tuple(out_t.shape) and output.dtype == np.float64, f"got {output.shape} {output.dtype}"
    np.testing.assert_allclose(output, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, x_t.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(conv.grads["W"], W_t.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(conv.grads["b"], b_t.grad.numpy(), rtol=1e-9, atol=1e-12)
