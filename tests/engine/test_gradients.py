"""Every layer and loss against central differences, in float64. A new layer joins CASES with one line."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import fast, layers
from tests.gradcheck import assert_close, check_layer_gradients, check_loss_gradient, numerical_gradient


def rng():
    return np.random.default_rng(42)


def away_from_zero(shape):
    """Inputs kept clear of 0, where ReLU-like layers have a kink that central differences straddle."""
    x = rng().standard_normal(shape)
    return x + np.sign(x) * 0.1


CASES = {
    "Linear": (lambda: nn.Linear(5, 4, init="glorot", bias_init="normal", rng=1), (3, 5)),
    "Sigmoid": (nn.Sigmoid, (3, 5)),
    "Tanh": (nn.Tanh, (3, 5)),
    "ReLU": (nn.ReLU, (3, 5)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.1), (3, 5)),
    "Softmax": (nn.Softmax, (3, 5)),
    "Flatten": (nn.Flatten, (3, 2, 2, 2)),
    "Sequential": (lambda: nn.Sequential(nn.Linear(6, 5, rng=1), nn.Tanh(), nn.Linear(5, 4, rng=2),
                                         nn.Sequential(nn.Sigmoid(), nn.Linear(4, 3, rng=3)), nn.Softmax()),
                   (4, 6)),
    "Network": (lambda: nn.Network([4, 7, 3], activation="relu", output="softmax", rng=5), (3, 4)),
    "Conv2D": (lambda: layers.Conv2D(2, 3, 3, padding=1, bias_init="normal", rng=1), (2, 2, 5, 5)),
    "Conv2D, strided": (lambda: layers.Conv2D(2, 3, (3, 2), stride=2, rng=1), (2, 2, 6, 5)),
    "Conv2D, stride 2 and padding 2": (lambda: layers.Conv2D(2, 3, 5, stride=2, padding=2, rng=1), (2, 2, 8, 8)),
    "MaxPool2D": (layers.MaxPool2D, (2, 3, 4, 4)),
    "AvgPool2D": (lambda: layers.AvgPool2D(3, stride=1), (2, 2, 4, 5)),
    "GlobalAvgPool": (layers.GlobalAvgPool, (2, 3, 4, 4)),
    "BatchNorm, dense": (lambda: layers.BatchNorm(5), (6, 5)),
    "BatchNorm, convolutional": (lambda: layers.BatchNorm(2), (3, 2, 3, 3)),
    "CNN": (lambda: nn.Sequential(layers.Conv2D(1, 2, 3, rng=1), layers.BatchNorm(2), nn.ReLU(),
                                  layers.MaxPool2D(2), nn.Flatten(), nn.Linear(8, 3, rng=2)), (2, 1, 6, 6)),
}


# The fast twins (nnscratch.fast), each way they compute, through the same check.
FAST_CASES = {name: CASES[name] for name in ("Linear", "Conv2D", "Conv2D, strided", "Conv2D, stride 2 and padding 2",
                                              "MaxPool2D", "AvgPool2D", "BatchNorm, dense", "BatchNorm, convolutional",
                                              "CNN")}
FAST_CASES["Conv2D, by the convolution theorem"] = (lambda: layers.Conv2D(2, 3, (3, 2), padding=1, rng=1),
                                                    (2, 2, 5, 6))


@pytest.mark.parametrize("name", CASES)
def test_layer_gradients_match_central_differences(name):
    make_layer, shape = CASES[name]
    check_layer_gradients(make_layer(), away_from_zero(shape))


@pytest.mark.parametrize("name", FAST_CASES)
def test_fast_layer_gradients_match_central_differences(name):
    make_layer, shape = FAST_CASES[name]
    layer = make_layer()
    convolution = "spectral" if "convolution theorem" in name else "unrolled"
    with fast.faster(layer, convolution=convolution) as twins:
        check_layer_gradients(layer, away_from_zero(shape))
    if convolution == "spectral":
        assert twins[layer].computed == "spectral"


def test_dropout_gradient_with_a_fixed_mask():
    layer = nn.Dropout(0.3)

    def same_mask():
        layer.rng = np.random.default_rng(7)

    check_layer_gradients(layer, away_from_zero((4, 6)), before_forward=same_mask)


LABELS = np.array([0, 2, 1, 2])
PROBABILITY_ROWS = nn.layers.softmax(rng().standard_normal((4, 3)))

LOSS_CASES = {
    "Quadratic, labels": (nn.Quadratic(), rng().standard_normal((4, 3)), LABELS),
    "Quadratic, rows": (nn.Quadratic(), rng().standard_normal((4, 3)), rng().random((4, 3))),
    "SoftmaxCrossEntropy, labels": (nn.SoftmaxCrossEntropy(), 3 * rng().standard_normal((4, 3)), LABELS),
    "SoftmaxCrossEntropy, rows": (nn.SoftmaxCrossEntropy(), rng().standard_normal((4, 3)), PROBABILITY_ROWS),
    "ProbabilityCrossEntropy": (nn.ProbabilityCrossEntropy(), rng().uniform(0.05, 0.95, (4, 3)), LABELS),
    "BinaryCrossEntropy": (nn.BinaryCrossEntropy(), rng().uniform(0.05, 0.95, (4, 3)),
                           (rng().random((4, 3)) > 0.5).astype(np.float64)),
}


@pytest.mark.parametrize("name", LOSS_CASES)
def test_loss_gradients_match_central_differences(name):
    loss, output, target = LOSS_CASES[name]
    check_loss_gradient(loss, output, target)


def test_whole_network_with_its_loss():
    model = nn.Network([6, 8, 5, 3], activation="tanh", output=None, rng=3).astype(np.float64)
    x = rng().standard_normal((5, 6))
    y = np.array([0, 1, 2, 1, 0])
    loss = nn.SoftmaxCrossEntropy()
    _, grad = loss(model.forward(x), y)
    model.backward(grad)
    for name, param in model.parameters().items():
        numeric = numerical_gradient(lambda: loss(model.forward(x), y)[0], param)
        owner_grad = dict((n, layer.grads[key]) for n, layer, key in model.slots())[name]
        assert_close(name, owner_grad, numeric, 1e-5, 1e-8)


class WrongSigmoid(nn.Sigmoid):
    def backward(self, grad_out):
        return grad_out * self.y  # forgets the (1 - σ) factor


def test_the_check_catches_a_wrong_backward():
    with pytest.raises(AssertionError, match="WrongSigmoid dL/dx"):
        check_layer_gradients(WrongSigmoid(), away_from_zero((3, 5)))


def test_binary_cross_entropy_refuses_targets_outside_0_1():
    with pytest.raises(ValueError, match=r"binary targets must lie in \[0, 1\], got \[0.0, 2.0\]"):
        nn.BinaryCrossEntropy()(np.full((3, 1), 0.5), np.array([0, 1, 2]))
