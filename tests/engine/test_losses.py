"""Losses by their honest names: the mean squared error, the cross-entropy of probabilities, and label
smoothing in the softmax cross-entropy, each against numbers worked by hand, central differences and PyTorch."""
import numpy as np
import pytest

import nnscratch as nn
from tests.gradcheck import check_loss_gradient

LABELS = np.array([0, 2, 1, 2])


def logits():
    return 3 * np.random.default_rng(42).standard_normal((4, 3))


def test_mean_squared_error_averages_over_examples_and_outputs():
    # (a - y)² = 1, 4, 0, 0 and 0, 1, 9, 1 over 2 examples × 4 outputs: L = 16/8 = 2; dL/da = 2(a - y)/8
    output = np.array([[1.0, 2.0, 0.0, 0.0], [0.0, 1.0, 3.0, 1.0]])
    loss, grad = nn.MeanSquaredError()(output, np.zeros((2, 4)))
    assert loss == pytest.approx(2.0)
    np.testing.assert_allclose(grad, output / 4)
    quadratic, _ = nn.Quadratic()(output, np.zeros((2, 4)))
    assert quadratic == pytest.approx(4.0), "the quadratic cost is ½Σ over outputs, averaged over examples"


def test_the_registry_names_say_what_each_loss_is():
    assert type(nn.get_loss("mse")) is nn.MeanSquaredError
    assert type(nn.get_loss("quadratic")) is nn.Quadratic
    assert type(nn.get_loss("probability_cross_entropy")) is nn.ProbabilityCrossEntropy
    assert type(nn.get_loss("cross_entropy")) is nn.ProbabilityCrossEntropy   # the name of earlier releases
    assert nn.get_loss("softmax_cross_entropy", label_smoothing=0.1).label_smoothing == 0.1
    with pytest.raises(ValueError, match="unknown loss 'hinge'; known: quadratic, mse, softmax_cross_entropy"):
        nn.get_loss("hinge")


def test_probability_cross_entropy_takes_probabilities():
    # -(log 0.5 + log 0.25) / 2
    p = np.array([[0.5, 0.5], [0.75, 0.25]])
    loss, grad = nn.ProbabilityCrossEntropy()(p, np.array([0, 1]))
    assert loss == pytest.approx(-(np.log(0.5) + np.log(0.25)) / 2)
    np.testing.assert_allclose(grad, [[-1.0, 0.0], [0.0, -2.0]])


def test_label_smoothing_by_hand():
    # two classes, z = (0, 0): p = (½, ½); ε = 0.2 gives t = (0.9, 0.1) for label 0
    # L = log 2 (whatever t is, since both log p are -log 2); dL/dz = p - t = (-0.4, 0.4)
    loss, grad = nn.SoftmaxCrossEntropy(label_smoothing=0.2)(np.zeros((1, 2)), np.array([0]))
    assert loss == pytest.approx(np.log(2))
    np.testing.assert_allclose(grad, [[-0.4, 0.4]])
    # z = (log 3, 0): p = (¾, ¼); L = -(0.9 log ¾ + 0.1 log ¼); dL/dz = (¾ - 0.9, ¼ - 0.1)
    loss, grad = nn.SoftmaxCrossEntropy(label_smoothing=0.2)(np.array([[np.log(3), 0.0]]), np.array([0]))
    assert loss == pytest.approx(-(0.9 * np.log(0.75) + 0.1 * np.log(0.25)))
    np.testing.assert_allclose(grad, [[-0.15, 0.15]])


@pytest.mark.parametrize("target", ["labels", "rows"])
def test_label_smoothing_equals_the_cross_entropy_of_smoothed_rows(target):
    z = logits()
    epsilon = 0.1
    rows = np.eye(3)[LABELS] if target == "rows" else None
    loss, grad = nn.SoftmaxCrossEntropy(label_smoothing=epsilon)(z, LABELS if rows is None else rows)
    smoothed = (1 - epsilon) * np.eye(3)[LABELS] + epsilon / 3
    expected_loss, expected_grad = nn.SoftmaxCrossEntropy()(z, smoothed)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("epsilon", [0.1, 0.5])
@pytest.mark.parametrize("target", ["labels", "rows"])
def test_label_smoothing_gradient_matches_central_differences(epsilon, target):
    rows = nn.layers.softmax(np.random.default_rng(7).standard_normal((4, 3)))
    check_loss_gradient(nn.SoftmaxCrossEntropy(label_smoothing=epsilon), logits(),
                        LABELS if target == "labels" else rows)


def test_mean_squared_error_gradient_matches_central_differences():
    check_loss_gradient(nn.MeanSquaredError(), logits(), LABELS)
    check_loss_gradient(nn.MeanSquaredError(), logits(), np.random.default_rng(3).random((4, 3)))


def test_label_smoothing_keeps_float32_and_refuses_values_outside_0_1():
    loss, grad = nn.SoftmaxCrossEntropy(label_smoothing=0.1)(logits().astype(np.float32), LABELS)
    assert grad.dtype == np.float32 and isinstance(loss, float)
    _, grad = nn.SoftmaxCrossEntropy(label_smoothing=0.1)(logits().astype(np.float32), np.eye(3)[LABELS])
    assert grad.dtype == np.float32
    _, grad = nn.MeanSquaredError()(logits().astype(np.float32), LABELS)
    assert grad.dtype == np.float32
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0, 1\], got 1.5"):
        nn.SoftmaxCrossEntropy(label_smoothing=1.5)
    assert repr(nn.SoftmaxCrossEntropy(label_smoothing=0.1)) == "SoftmaxCrossEntropy(label_smoothing=0.1)"


class TestAgainstPyTorch:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; `pip install torch==2.13.0` enables "
                                                "the oracle tests")

    @pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.3])
    @pytest.mark.parametrize("target", ["labels", "rows"])
    def test_label_smoothing_value_and_gradient(self, epsilon, target):
        torch, F = self.torch, self.torch.nn.functional
        z = logits()
        y = LABELS if target == "labels" else nn.layers.softmax(np.random.default_rng(7).standard_normal((4, 3)))
        loss, grad = nn.SoftmaxCrossEntropy(label_smoothing=epsilon)(z.copy(), y)
        z_t = torch.tensor(z, requires_grad=True)
        expected = F.cross_entropy(z_t, torch.tensor(y), label_smoothing=epsilon)
        expected.backward()
        assert loss == pytest.approx(expected.item(), rel=1e-12)
        np.testing.assert_allclose(grad, z_t.grad.numpy(), rtol=1e-10, atol=1e-14)

    def test_mean_squared_error_value_and_gradient(self):
        torch, F = self.torch, self.torch.nn.functional
        output, target = logits(), np.random.default_rng(3).random((4, 3))
        loss, grad = nn.MeanSquaredError()(output.copy(), target)
        output_t = torch.tensor(output, requires_grad=True)
        expected = F.mse_loss(output_t, torch.tensor(target))
        expected.backward()
        assert loss == pytest.approx(expected.item(), rel=1e-12)
        np.testing.assert_allclose(grad, output_t.grad.numpy(), rtol=1e-12)
