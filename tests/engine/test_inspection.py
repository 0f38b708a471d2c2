"""The engine's inspection: every layer's output, and d logit[c] / d input checked by central differences."""
import numpy as np
import pytest

from nnscratch import (
    BatchNorm,
    Conv2D,
    Dropout,
    Flatten,
    Linear,
    MaxPool2D,
    Network,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from nnscratch.inspection import flat_layers, forward_trace, input_gradient, logit_gradient, logits
from tests.gradcheck import assert_close, numerical_gradient


def small_cnn(rng):
    return Sequential(Conv2D(1, 3, 3, rng=rng), BatchNorm(3), MaxPool2D(2), ReLU(),
                      Flatten(), Linear(3 * 3 * 3, 8, rng=rng), Tanh(), Dropout(0.5, rng=rng),
                      Linear(8, 4, rng=rng))


def with_trained_statistics(model, rng, x_shape):
    """Move BatchNorm's running statistics away from (0, 1) so that eval mode is not the identity."""
    model.train()
    for _ in range(3):
        model.forward(rng.standard_normal((16, *x_shape)))
    return model.eval()


def numerical_logit_gradient(model, x, class_index):
    x = x.copy()
    return numerical_gradient(lambda: float(logits(model, x)[0, class_index]), x)


@pytest.mark.parametrize("output", [None, "softmax", "sigmoid"])
def test_mlp_logit_gradient_matches_central_differences(output):
    rng = np.random.default_rng(0)
    model = Network([12, 7, 5, 4], activation="tanh", output=output, bias_init="normal", rng=rng,
                    dtype=np.float64)
    x = rng.standard_normal((1, 12))
    z = logits(model, x)
    if output is not None:
        # The logits are the last Linear's output, before the final activation.
        assert not np.allclose(z, model.predict_output(x)), "logits must be taken before the final activation"
    for class_index in range(4):
        assert_close(f"d z[{class_index}] / dx", logit_gradient(model, x, class_index),
                     numerical_logit_gradient(model, x, class_index), rtol=1e-6, atol=1e-9)


def test_cnn_logit_gradient_matches_central_differences_on_noise():
    # Noise has no ties inside a max-pool window, so the gradient is defined everywhere.
    rng = np.random.default_rng(1)
    model = with_trained_statistics(small_cnn(rng).astype(np.float64), rng, (1, 8, 8))
    model.train()  # logit_gradient must switch to eval mode itself (dropout off, running statistics on)
    x = rng.uniform(0, 1, (1, 1, 8, 8))
    for class_index in (0, 3):
        assert_close(f"CNN d z[{class_index}] / dx", logit_gradient(model, x, class_index),
                     numerical_logit_gradient(model, x, class_index), rtol=1e-6, atol=1e-9)
    assert model.training, "the model's training mode must be restored"


def test_one_backward_serves_a_batch_with_one_class_per_row():
    rng = np.random.default_rng(2)
    model = Network([6, 5, 3], activation="relu", output=None, bias_init="normal", rng=rng, dtype=np.float64)
    x = rng.standard_normal((4, 6))
    classes = np.array([0, 2, 1, 2])
    together = logit_gradient(model, x, classes)
    for row, class_index in enumerate(classes):
        alone = logit_gradient(model, x[row:row + 1], class_index)
        np.testing.assert_allclose(together[row:row + 1], alone, rtol=1e-12, atol=0)


def test_relu_network_without_biases_is_homogeneous():
    # Without biases a ReLU network is positively homogeneous: z(x) = J(x) x, so Σ saliency · x = z[c].
    rng = np.random.default_rng(3)
    model = Network([20, 9, 7, 5], activation="relu", output=None, bias_init="zeros", rng=rng,
                    dtype=np.float64)
    x = rng.uniform(0, 1, (3, 20))
    z = logits(model, x)
    for class_index in range(5):
        completeness = np.sum(logit_gradient(model, x, class_index) * x, axis=1)
        np.testing.assert_allclose(completeness, z[:, class_index], rtol=1e-12, atol=1e-12)


def test_input_gradient_of_a_difference_of_logits():
    rng = np.random.default_rng(4)
    model = Network([10, 6, 4], activation="sigmoid", output="softmax", rng=rng, dtype=np.float64)
    x = rng.standard_normal((1, 10))
    seed = np.zeros((1, 4))
    seed[0, 2], seed[0, 0] = 1.0, -1.0
    expected = logit_gradient(model, x, 2) - logit_gradient(model, x, 0)
    np.testing.assert_allclose(input_gradient(model, x, seed), expected, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match=r"grad_logits of shape \(1, 4\)"):
        input_gradient(model, x, np.ones((1, 3)))


def test_forward_trace_keeps_every_layer_output_in_eval_mode():
    rng = np.random.default_rng(5)
    model = Sequential(Linear(6, 5, rng=rng), ReLU(), Sequential(Linear(5, 4, rng=rng), Sigmoid()),
                       Dropout(0.9, rng=rng), Linear(4, 3, rng=rng), Softmax())
    x = rng.standard_normal((2, 6)).astype(np.float32)
    trace = forward_trace(model, x)
    assert [step.name for step in trace] == ["0", "1", "2.0", "2.1", "3", "4", "5"]
    assert [type(step.layer).__name__ for step in trace] == [
        "Linear", "ReLU", "Linear", "Sigmoid", "Dropout", "Linear", "Softmax"]
    np.testing.assert_array_equal(trace[-1].output, model.predict_output(x))
    np.testing.assert_array_equal(trace[4].output, trace[3].output)  # dropout is the identity in eval mode
    assert all(step.output.dtype == np.float32 for step in trace)
    assert model.training, "the model's training mode must be restored"
    assert [name for name, _ in flat_layers(model)] == [step.name for step in trace]


def test_bad_class_index_is_refused():
    model = Network([4, 3, 2], rng=0)
    x = np.zeros((1, 4), np.float32)
    for bad in (2, -1, 1.5):
        with pytest.raises(ValueError, match="class_index must be a whole number from 0 to 1"):
            logit_gradient(model, x, bad)


def test_the_gradient_is_in_the_model_dtype():
    model = Network([4, 3, 2], activation="relu", output=None, rng=0)
    grad = logit_gradient(model, np.ones((2, 4), np.float32), 1)
    assert grad.dtype == np.float32 and grad.shape == (2, 4)
