"""The table of injected bugs: each wrong layer or loss is reported on the right array with the right diagnosis,
and nothing else it computes is called wrong. Each bug is one line changed from the engine's model answer."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch.gradcheck import check_layer, check_loss, compare_layers
from nnscratch.layers.windows import fold


class LinearMean(nn.Linear):
    def backward(self, grad_out):
        self.grads["W"] = self.x.T @ grad_out / len(grad_out)          # a mean over the batch
        self.grads["b"] = grad_out.sum(axis=0)
        return grad_out @ self.params["W"].T


class LinearTransposedInput(nn.Linear):
    def backward(self, grad_out):
        self.grads["W"] = self.x.T @ grad_out
        self.grads["b"] = grad_out.sum(axis=0)
        return grad_out @ self.params["W"]                               # W where Wᵀ belongs


class LinearTransposedWeights(nn.Linear):
    def backward(self, grad_out):
        self.grads["W"] = grad_out.T @ self.x                            # (out, in): dL/dWᵀ
        self.grads["b"] = grad_out.sum(axis=0)
        return grad_out @ self.params["W"].T


class LinearAccumulates(nn.Linear):
    def backward(self, grad_out):
        self.grads["W"] += self.x.T @ grad_out                           # adds to the last batch's gradient
        self.grads["b"] = grad_out.sum(axis=0)
        return grad_out @ self.params["W"].T


class LinearUpdates(nn.Linear):
    def backward(self, grad_out):
        self.grads["W"] = self.x.T @ grad_out
        self.grads["b"] = grad_out.sum(axis=0)
        grad_x = grad_out @ self.params["W"].T
        self.params["W"] -= 0.1 * self.grads["W"]                        # an optimizer's job
        return grad_x


class LinearForgetsTheWeights(nn.Linear):
    def backward(self, grad_out):
        self.grads["W"] = self.x.T @ grad_out
        self.grads["b"] = grad_out.sum(axis=0)
        return grad_out                                                  # passes dL/dy on as it came


class LinearFloat64(nn.Linear):
    def backward(self, grad_out):
        self.grads["W"] = self.x.T @ grad_out
        self.grads["b"] = grad_out.sum(axis=0)
        grad_x = np.zeros(self.x.shape)                                  # float64, whatever x was
        grad_x[...] = grad_out @ self.params["W"].T
        return grad_x


class LinearKeepdims(nn.Linear):
    def backward(self, grad_out):
        self.grads["W"] = self.x.T @ grad_out
        self.grads["b"] = grad_out.sum(axis=0, keepdims=True)            # (1, out) for (out,)
        return grad_out @ self.params["W"].T


class ReLUNoMask(nn.ReLU):
    def backward(self, grad_out):
        return grad_out * 1.0                                            # the mask forgotten


class ReLUInPlace(nn.ReLU):
    def forward(self, x):
        self.active = x > 0
        x[~self.active] = 0                                              # writes into the caller's x
        return x


class ReLUUnfinished(nn.ReLU):
    def backward(self, grad_out):
        raise NotImplementedError


class SigmoidSign(nn.Sigmoid):
    def backward(self, grad_out):
        return grad_out * self.y * (self.y - 1.0)                        # (σ - 1) for (1 - σ)


class SigmoidBatchMean(nn.Sigmoid):
    def backward(self, grad_out):
        y = self.y.mean(axis=0)                                          # one σ for the whole batch
        return grad_out * y * (1.0 - y)


class SigmoidInPlace(nn.Sigmoid):
    def backward(self, grad_out):
        grad_out *= self.y * (1.0 - self.y)                              # into the caller's array
        return grad_out


class SigmoidFloat64(nn.Sigmoid):
    def backward(self, grad_out):
        return grad_out * self.y * (np.float64(1.0) - self.y)           # a NumPy float64 promotes


class SigmoidHalfDerivative(nn.Sigmoid):
    def backward(self, grad_out):
        return grad_out * self.y                                         # forgets the (1 - σ)


class CrossEntropySum(nn.SoftmaxCrossEntropy):
    def __call__(self, output, target):
        loss, grad = super().__call__(output, target)
        return loss, grad * len(output)                                  # no 1/N


class CrossEntropySign(nn.SoftmaxCrossEntropy):
    def __call__(self, output, target):
        loss, grad = super().__call__(output, target)
        return loss, -grad                                               # y - p for p - y


class CrossEntropyInPlace(nn.SoftmaxCrossEntropy):
    def __call__(self, output, target):
        output -= output.max(axis=1, keepdims=True)                      # shifts the caller's logits
        return super().__call__(output, target)


class QuadraticTwice(nn.Quadratic):
    def __call__(self, output, target):
        loss, grad = super().__call__(output, target)
        return loss, 2 * grad                                            # d/da (a - y)², not ½(a - y)²


class MaxPoolEverywhere(nn.MaxPool2D):
    def backward(self, grad_out):
        everywhere = np.broadcast_to(grad_out[..., None, None], grad_out.shape + self.kernel_size)
        return fold(everywhere, self.input_shape, self.stride)          # every pixel of the window


class MaxPoolUnfolded(nn.MaxPool2D):
    def backward(self, grad_out):
        return self.mask * grad_out[..., None]                           # the windows, never folded back


class Conv2DMean(nn.Conv2D):
    def backward(self, grad_out):
        grad_x = super().backward(grad_out)
        self.grads["W"] = self.grads["W"] / len(grad_out)               # a mean over the batch
        return grad_x


class Conv2DUncropped(nn.Conv2D):
    def backward(self, grad_out):
        super().backward(grad_out)
        G = grad_out.transpose(1, 0, 2, 3).reshape(self.out_channels, -1)
        grad_X = self.kernel_matrix().T @ G
        (kh, kw), (batch, _, out_h, out_w) = self.kernel_size, grad_out.shape
        windows = grad_X.reshape(self.in_channels, kh, kw, batch, out_h, out_w).transpose(3, 0, 4, 5, 1, 2)
        return fold(windows, self.padded_shape, self.stride)            # the padding never cropped


class BatchNormConstants(nn.BatchNorm):
    def backward(self, grad_out):
        super().backward(grad_out)
        return (self.params["gamma"] * self.inverse_std) * grad_out     # μ and σ² treated as constants


class BatchNormMeanGamma(nn.BatchNorm):
    def backward(self, grad_out):
        grad_x = super().backward(grad_out)
        self.grads["gamma"] = (grad_out * self.x_hat).mean(axis=0)      # a mean over the batch
        return grad_x


class BatchNormAccumulates(nn.BatchNorm):
    def backward(self, grad_out):
        beta = self.grads["beta"]
        grad_x = super().backward(grad_out)
        self.grads["beta"] = beta + self.grads["beta"]                   # adds to the last gradient
        return grad_x


LINEAR = dict(in_features=5, out_features=5, init="glorot", rng=1)
# name: (build the wrong layer or loss, the array it gets wrong, the diagnosis)
BUGS = {
    "Linear: dL/dW averaged over the batch": (lambda: LinearMean(**LINEAR), "dW", "scale"),
    "Linear: dL/dx with W for Wᵀ": (lambda: LinearTransposedInput(**LINEAR), "dx", "transpose"),
    "Linear: dL/dW transposed": (lambda: LinearTransposedWeights(5, 4, rng=1), "dW", "transpose"),
    "Linear: grads added to": (lambda: LinearAccumulates(**LINEAR), "dW", "accumulates"),
    "Linear: backward updates W": (lambda: LinearUpdates(**LINEAR), "W", "updates-parameters"),
    "Linear: dL/dx never multiplied by Wᵀ": (lambda: LinearForgetsTheWeights(**LINEAR), "dx",
                                               "only-input-gradient"),
    "Linear: dL/dx made in float64": (lambda: LinearFloat64(**LINEAR), "dx", "dtype"),
    "Linear: dL/db with keepdims": (lambda: LinearKeepdims(**LINEAR), "db", "shape"),
    "ReLU: no mask": (ReLUNoMask, "dx", "missing-mask"),
    "ReLU: forward writes into x": (ReLUInPlace, "x", "mutates-input"),
    "ReLU: backward not written": (ReLUUnfinished, "dx", "not-implemented"),
    "Sigmoid: σ - 1 for 1 - σ": (SigmoidSign, "dx", "sign"),
    "Sigmoid: σ averaged over the batch": (SigmoidBatchMean, "dx", "batch-coupled"),
    "Sigmoid: backward writes into grad_out": (SigmoidInPlace, "grad_out", "mutates-input"),
    "Sigmoid: a NumPy float64 in backward": (SigmoidFloat64, "dx", "dtype"),
    "Sigmoid: the (1 - σ) forgotten": (SigmoidHalfDerivative, "dx", "unknown"),
    "SoftmaxCrossEntropy: no 1/N": (CrossEntropySum, "doutput", "scale"),
    "SoftmaxCrossEntropy: y - p": (CrossEntropySign, "doutput", "sign"),
    "SoftmaxCrossEntropy: shifts the logits in place": (CrossEntropyInPlace, "output", "mutates-input"),
    "Quadratic: the ½ forgotten": (QuadraticTwice, "doutput", "scale"),
    "MaxPool2D: gradient to every pixel": (lambda: MaxPoolEverywhere(2), "dx", "missing-mask"),
    "MaxPool2D: windows never folded": (lambda: MaxPoolUnfolded(2), "dx", "shape"),
    "Conv2D: dL/dW averaged over the batch": (lambda: Conv2DMean(2, 3, 3, padding=1, rng=1), "dW", "scale"),
    "Conv2D: padding never cropped": (lambda: Conv2DUncropped(2, 3, 3, padding=1, rng=1), "dx", "shape"),
    "BatchNorm: μ and σ² as constants": (lambda: BatchNormConstants(4), "dx", "only-input-gradient"),
    "BatchNorm: dL/dγ averaged": (lambda: BatchNormMeanGamma(4), "dgamma", "scale"),
    "BatchNorm: dL/dβ added to": (lambda: BatchNormAccumulates(4), "dbeta", "accumulates"),
}
FACTORS = {"Linear: dL/dW averaged over the batch": (0.25, "a mean where a sum belongs"),
           "SoftmaxCrossEntropy: no 1/N": (4.0, "a sum where a mean belongs"),
           "Quadratic: the ½ forgotten": (2.0, "the ½ of the quadratic cost"),
           "Conv2D: dL/dW averaged over the batch": (1 / 3, "a mean where a sum belongs"),
           "BatchNorm: dL/dγ averaged": (0.25, "a mean where a sum belongs")}


def report_of(wrong):
    if isinstance(wrong, nn.Loss):
        return check_loss(wrong)
    return check_layer(wrong)


def test_the_table_covers_every_cause_and_layer():
    causes = {diagnosis for _, _, diagnosis in BUGS.values()}
    assert len(BUGS) >= 15
    assert {"scale", "sign", "transpose", "missing-mask", "only-input-gradient", "accumulates", "mutates-input",
            "updates-parameters", "batch-coupled", "shape", "dtype", "not-implemented", "unknown"} <= causes
    layers = {name.split(":")[0] for name in BUGS}
    assert {"Linear", "ReLU", "Sigmoid", "SoftmaxCrossEntropy", "MaxPool2D", "Conv2D", "BatchNorm"} <= layers


@pytest.mark.parametrize("name", BUGS)
def test_each_injected_bug_is_found_on_its_array_with_its_cause(name):
    build, array, diagnosis = BUGS[name]
    report = report_of(build())
    assert not report.passed, f"{name}: the check saw nothing wrong:\n{report}"
    assert report.diagnoses().get(array) == diagnosis, f"{name}: expected {array}: {diagnosis}, got\n{report}"
    for item in report.wrong():
        assert item["hint"] and "\n" not in item["hint"], item


@pytest.mark.parametrize("name", FACTORS)
def test_a_scale_reports_its_factor_and_what_it_means(name):
    build, array, _ = BUGS[name]
    factor, meaning = FACTORS[name]
    item = next(item for item in report_of(build()).rows if item["array"] == array)
    assert item["factor"] == pytest.approx(factor, rel=1e-6) and meaning in item["hint"], item


def test_every_array_is_reported_not_only_the_first_that_fails():
    report = check_layer(LinearMean(**LINEAR))
    rows = {item["array"]: item for item in report.rows}
    assert set(rows) == {"dW", "db", "dx"}
    assert rows["db"]["ok"] and rows["dx"]["ok"] and not rows["dW"]["ok"]
    wrong = rows["dW"]
    assert isinstance(wrong["relative_error"], float) and wrong["relative_error"] > 0.5
    assert len(wrong["worst_index"]) == 2 and all(type(index) is int for index in wrong["worst_index"])
    assert wrong["got"] == pytest.approx(0.25 * wrong["expected"])
    assert "1e-06" in str(report) and "dW" in str(report) and "<table>" in report._repr_html_()


def test_compare_layers_finds_the_same_bugs_beside_the_engine():
    report = compare_layers(SigmoidSign(), nn.Sigmoid())
    assert report.diagnoses() == {"dx": "sign"}, report
    report = compare_layers(LinearTransposedInput(**LINEAR), nn.Linear(**LINEAR))
    assert report.diagnoses() == {"dx": "transpose"}, report
    assert [item["array"] for item in report.rows] == ["output", "dW", "db", "dx"]


def test_the_checks_leave_the_layer_as_it_was():
    layer = nn.Linear(5, 4, rng=1)
    before = {key: value.copy() for key, value in layer.params.items()}
    check_layer(layer)
    assert layer.dtype == np.float32 and all(np.array_equal(layer.params[key], before[key]) for key in before)
