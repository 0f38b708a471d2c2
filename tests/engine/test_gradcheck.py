"""nnscratch.gradcheck raises no false alarm on the engine's own layers, losses and optimizers, over a seeded
sweep of random shapes and inputs in float32 and float64 (Hypothesis is not installed here: a seeded sweep
stands in for it), and its network check points at the first wrong layer."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import gradcheck

SWEEP = 200


def random_case(seed):
    """A random engine layer, its input and the dtype it runs in, all drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    dtype = (np.float32, np.float64)[seed % 2]
    batch = int(rng.integers(1, 6))
    kind = ["linear", "sigmoid", "tanh", "relu", "leaky", "softmax", "conv", "maxpool", "avgpool", "batchnorm",
            "batchnorm4", "dropout", "flatten", "network"][seed % 14]
    features = int(rng.integers(1, 7))
    dense = rng.standard_normal((batch, features)) * rng.uniform(0.3, 3)
    if kind == "linear":
        out = int(rng.integers(1, 7))
        return nn.Linear(features, out, bias_init="normal", rng=seed, dtype=dtype), dense
    if kind in ("sigmoid", "tanh", "relu", "softmax"):
        return {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "softmax": nn.Softmax}[kind](), dense
    if kind == "leaky":
        return nn.LeakyReLU(float(rng.uniform(0.01, 0.5))), dense
    if kind == "batchnorm":
        return nn.BatchNorm(features, dtype=dtype), rng.standard_normal((max(batch, 2), features))
    if kind == "dropout":
        return nn.Dropout(float(rng.uniform(0, 0.8)), rng=seed), dense
    if kind == "network":
        return nn.Network([features, int(rng.integers(1, 6)), 3], activation="tanh", output=None, rng=seed,
                          dtype=dtype), dense
    channels, kernel, stride = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    size = kernel + stride * int(rng.integers(1, 4))
    image = rng.standard_normal((batch, channels, size, size + int(rng.integers(0, 2))))
    if kind == "conv":
        padding = int(rng.integers(0, 2))
        return nn.Conv2D(channels, int(rng.integers(1, 4)), kernel, stride=stride, padding=padding,
                         bias_init="normal", rng=seed, dtype=dtype), image
    if kind == "maxpool":
        return nn.MaxPool2D(kernel, stride), image
    if kind == "avgpool":
        return nn.AvgPool2D(kernel, stride), image
    if kind == "batchnorm4":
        return nn.BatchNorm(channels, dtype=dtype), image
    return nn.Flatten(), image


@pytest.mark.parametrize("seed", range(SWEEP))
def test_no_false_alarm_on_an_engine_layer(seed):
    layer, x = random_case(seed)
    report = gradcheck.check_layer(layer, x.astype(layer.dtype if layer.params else (np.float32, np.float64)[seed % 2]),
                                   rng=seed)
    assert report.passed, f"seed {seed}: a false alarm on {layer!r}:\n{report}"
    assert max(item["relative_error"] or 0 for item in report.rows) < gradcheck.THRESHOLD / 10, report  # a margin


@pytest.mark.parametrize("seed", range(0, SWEEP, 3))
def test_no_false_alarm_beside_itself(seed):
    layer, x = random_case(seed)
    assert gradcheck.compare_layers(layer, layer, x, rng=seed).passed


@pytest.mark.parametrize("loss", [nn.SoftmaxCrossEntropy(), nn.SoftmaxCrossEntropy(label_smoothing=0.1),
                                  nn.Quadratic(), nn.MeanSquaredError()], ids=repr)
@pytest.mark.parametrize("seed", range(4))
def test_no_false_alarm_on_an_engine_loss(loss, seed):
    rng = np.random.default_rng(seed)
    output = 3 * rng.standard_normal((int(rng.integers(1, 9)), int(rng.integers(2, 8))))
    target = rng.integers(0, output.shape[1], len(output))
    assert gradcheck.check_loss(loss, output, target).passed
    assert gradcheck.compare_losses(loss, loss, output, target).passed


@pytest.mark.parametrize("optimizer, options", [(nn.SGD, {"lr": 0.1}), (nn.SGD, {"lr": 0.1, "momentum": 0.9}),
                                                (nn.Adam, {"lr": 0.01})], ids=str)
def test_no_false_alarm_on_an_engine_optimizer(optimizer, options):
    assert gradcheck.compare_optimizers(optimizer, optimizer, **options).passed


class SGDUphill(nn.SGD):
    def update(self, name, param, grad):
        param += self.lr * grad


class SGDChangesTheGradient(nn.SGD):
    def update(self, name, param, grad):
        grad *= self.lr
        param -= grad


def test_a_wrong_optimizer_is_caught_at_its_first_step():
    report = gradcheck.compare_optimizers(SGDUphill, nn.SGD, lr=0.1)
    assert {item["step"] for item in report.rows} == {1}
    assert set(report.diagnoses().values()) == {"sign"}, report
    report = gradcheck.compare_optimizers(SGDChangesTheGradient, nn.SGD, lr=0.1)
    assert "mutates-input" in report.diagnoses().values(), report


class WrongTanh(nn.Tanh):
    def backward(self, grad_out):
        return grad_out * (1.0 - self.y)          # 1 - y for 1 - y²


def test_check_network_shows_the_first_wrong_layer():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(6, 5, rng=1), WrongTanh(), nn.Linear(5, 4, rng=2), nn.Tanh(),
                          nn.Linear(4, 3, rng=3))
    x, y = rng.standard_normal((5, 6)), np.array([0, 1, 2, 1, 0])
    report = gradcheck.check_network(model, x, y, nn.SoftmaxCrossEntropy())
    wrong_layers = [item["layer"] for item in report.wrong()]
    assert wrong_layers and set(wrong_layers) == {"0 Linear"}, report
    by_place = {(item["layer"], item["array"]): item["ok"] for item in report.rows}
    assert by_place[("1 WrongTanh", "dL/doutput")] and by_place[("2 Linear", "dW")]
    assert not by_place[("0 Linear", "dW")]
    right = nn.Sequential(nn.Linear(6, 5, rng=1), nn.Tanh(), nn.Linear(5, 4, rng=2), nn.Tanh(), nn.Linear(4, 3, rng=3))
    assert gradcheck.check_network(right, x, y, nn.SoftmaxCrossEntropy(), reference=right).passed


def test_reports_are_json_ready():
    import json
    report = gradcheck.check_layer(nn.Conv2D(2, 3, 3, rng=1))
    document = json.loads(json.dumps(report.to_dict()))
    assert document["passed"] and document["threshold"] == gradcheck.THRESHOLD
    assert {item["array"] for item in document["arrays"]} == {"dW", "db", "dx"}
