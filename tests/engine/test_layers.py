import numpy as np
import pytest

import nnscratch as nn


def test_linear_shapes_and_affine_map():
    layer = nn.Linear(3, 2, rng=0)
    layer.params["W"][...] = [[1, 2], [3, 4], [5, 6]]
    layer.params["b"][...] = [0.5, -0.5]
    y = layer.forward(np.array([[1, 1, 1], [1, 0, 0]], dtype=np.float32))
    np.testing.assert_array_equal(y, [[9.5, 11.5], [1.5, 1.5]])
    assert y.dtype == np.float32


def test_linear_rejects_the_wrong_width_naming_both_shapes():
    with pytest.raises(ValueError, match=r"Linear expected 784 input features, got shape \(32, 783\)"):
        nn.Linear(784, 10).forward(np.zeros((32, 783), dtype=np.float32))


class Doubling(nn.Layer):
    """A custom layer with no check of its own: it gets the base class's."""

    def forward(self, x):
        return 2 * x

    def backward(self, grad_out):
        return 2 * grad_out


@pytest.mark.parametrize("layer", [nn.Linear(2, 2), nn.Sigmoid(), nn.ReLU(), nn.Tanh(), nn.Softmax(),
                                   nn.LeakyReLU(), nn.Flatten(), nn.Dropout(0.5), nn.Conv2D(1, 2, 3),
                                   nn.MaxPool2D(2), nn.BatchNorm(2), nn.Network([2, 2]), Doubling()],
                         ids=lambda layer: type(layer).__name__)
def test_backward_before_forward_names_the_layer(layer):
    name = type(layer).__name__
    with pytest.raises(RuntimeError, match=f"^{name}.backward was called before {name}.forward"):
        layer.backward(np.ones((1, 2), dtype=np.float32))


def test_backward_after_forward_passes_the_check_and_a_typo_is_a_plain_attribute_error():
    layer = Doubling()
    layer.forward(np.ones((1, 2)))
    np.testing.assert_array_equal(layer.backward(np.ones((1, 2))), [[2.0, 2.0]])
    with pytest.raises(AttributeError) as raised:
        _ = layer.paramz
    assert "forward" not in str(raised.value), f"a typo should not speak of forward: {raised.value}"


def test_saturating_inputs_give_no_overflow_warning_and_exact_limits():
    x = np.array([[-1e4, 0.0, 1e4]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_array_equal(nn.Sigmoid().forward(x), [[0.0, 0.5, 1.0]])
        np.testing.assert_array_equal(nn.Softmax().forward(x), [[0.0, 0.0, 1.0]])
        np.testing.assert_array_equal(nn.Tanh().forward(x), [[-1.0, 0.0, 1.0]])
        loss, grad = nn.SoftmaxCrossEntropy()(x, np.array([0]))
    assert loss == pytest.approx(2e4)
    np.testing.assert_allclose(grad, [[-1.0, 0.0, 1.0]])


def test_softmax_rows_sum_to_one():
    p = nn.Softmax().forward(np.random.default_rng(0).standard_normal((5, 10)).astype(np.float32) * 30)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


def test_relu_derivative_at_zero_is_zero():
    layer = nn.ReLU()
    layer.forward(np.array([[-1.0, 0.0, 2.0]]))
    np.testing.assert_array_equal(layer.backward(np.ones((1, 3))), [[0.0, 0.0, 1.0]])


def test_dropout_scales_in_training_and_is_the_identity_in_eval():
    layer = nn.Dropout(0.25, rng=0)
    x = np.ones((400, 50), dtype=np.float32)
    y = layer.forward(x)
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.01
    assert y.mean() == pytest.approx(1.0, abs=0.02)
    layer.eval()
    assert layer.forward(x) is x
    np.testing.assert_array_equal(layer.backward(x), x)


def test_dropout_rejects_probability_one():
    with pytest.raises(ValueError, match=r"Dropout probability must be in \[0, 1\), got 1"):
        nn.Dropout(1.0)


def test_flatten_round_trip():
    layer = nn.Flatten()
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert layer.forward(x).shape == (2, 12)
    assert layer.backward(np.ones((2, 12))).shape == (2, 3, 4)


def test_network_shorthand_builds_the_same_as_sequential():
    network = nn.Network([784, 30, 10], activation="sigmoid", init="normal", bias_init="normal", rng=3)
    assert [type(layer).__name__ for layer in network] == ["Linear", "Sigmoid", "Linear", "Sigmoid"]
    assert {name: array.shape for name, array in network.parameters().items()} == {
        "0.W": (784, 30), "0.b": (30,), "2.W": (30, 10), "2.b": (10,)}
    logits = nn.Network([784, 100, 10], activation="relu", output=None)
    assert [type(layer).__name__ for layer in logits] == ["Linear", "ReLU", "Linear"]
    assert len(nn.Network([2, 3, 4], activation="tanh")) == 4


def test_network_rejects_unknown_activations_and_bad_sizes():
    with pytest.raises(ValueError, match="unknown activation 'swish'; known: sigmoid, tanh"):
        nn.Network([2, 3], activation="swish")
    with pytest.raises(ValueError, match=r"at least two positive layer sizes, got \[784\]"):
        nn.Network([784])


def test_state_dict_round_trip_and_strict_loading():
    model = nn.Network([4, 5, 3], activation="relu", output=None, rng=0)
    other = nn.Network([4, 5, 3], activation="relu", output=None, rng=1)
    other.load_state_dict(model.state_dict())
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    np.testing.assert_array_equal(model.predict_output(x), other.predict_output(x))
    with pytest.raises(KeyError, match=r"missing \['2.b'\], unexpected \['9.b'\]"):
        state = model.state_dict()
        state["9.b"] = state.pop("2.b")
        other.load_state_dict(state)
    with pytest.raises(ValueError, match=r"'0.W' has shape \(5, 4\), expected \(4, 5\)"):
        other.load_state_dict({**model.state_dict(), "0.W": np.zeros((5, 4))})


def test_state_dict_is_a_copy():
    model = nn.Network([2, 2], rng=0)
    state = model.state_dict()
    state["0.W"] += 1
    assert not np.array_equal(state["0.W"], model.parameters()["0.W"])


def test_predict_and_predict_proba():
    model = nn.Network([3, 4, 5], activation="relu", output=None, rng=0)
    x = np.random.default_rng(1).standard_normal((7, 3)).astype(np.float32)
    p = model.predict_proba(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(p, nn.layers.softmax(model.predict_output(x)))
    np.testing.assert_array_equal(model.predict(x), p.argmax(axis=1))
    assert model.training


@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_predict_proba_passes_probabilities_through_as_they_are(output):
    model = nn.Network([3, 4, 5], activation="relu", output=output, rng=0)
    nested = nn.Sequential(nn.Sequential(*model.layers))      # the last layer inside a nested block counts too
    x = np.random.default_rng(1).standard_normal((7, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.predict_proba(x), model.predict_output(x))
    np.testing.assert_array_equal(nested.predict_proba(x), model.predict_output(x))
    if output == "sigmoid":   # independent probabilities: not renormalised to sum to one
        assert not np.allclose(model.predict_proba(x).sum(axis=1), 1.0)


@pytest.mark.parametrize("activation", ["relu", "tanh", "leaky_relu"])
def test_predict_proba_refuses_outputs_that_are_not_probabilities_or_logits(activation):
    model = nn.Network([3, 4, 5], activation=activation, output="same", rng=0)
    name = type(model[-1]).__name__
    with pytest.raises(ValueError, match=f"predict_proba: the network ends in {name}, whose outputs are not "
                                         f"probabilities"):
        model.predict_proba(np.ones((2, 3)))


def test_predict_proba_refuses_a_single_column_of_logits():
    with pytest.raises(ValueError, match=r"at least 2 scores per example, got output shape \(1,\)"):
        nn.Network([3, 1], output=None, rng=0).predict_proba(np.ones((2, 3)))


def test_network_is_a_class_whose_models_save_and_load_as_networks(tmp_path):
    from nnscratch.serialization.npz import load_checkpoint, save_model
    model = nn.Network([4, 3, 2], activation="tanh", output=None, dropout=0.1, rng=0)
    assert isinstance(model, nn.Network) and isinstance(model, nn.Sequential)
    assert repr(model).startswith("Network(\n  Linear(in_features=4")
    x = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    loaded, _, _ = load_checkpoint(save_model(tmp_path / "network.npz", model))
    assert type(loaded) is nn.Network
    np.testing.assert_array_equal(loaded.predict_output(x), model.predict_output(x))
    sequential = nn.Sequential(*model.layers)          # files of earlier releases say "Sequential"
    loaded, _, _ = load_checkpoint(save_model(tmp_path / "sequential.npz", sequential))
    assert type(loaded) is nn.Sequential
    np.testing.assert_array_equal(loaded.predict_output(x), model.predict_output(x))


def test_network_takes_sizes_and_sequential_takes_layers():
    with pytest.raises(TypeError):
        nn.Network([2, 3], [3, 4], [4, 5])
    for layers in ([nn.Linear(2, 3), nn.ReLU()], nn.Linear(2, 3)):
        with pytest.raises(TypeError, match=r"Network builds a network from a list of sizes.*use Sequential"):
            nn.Network(layers)
    assert [type(layer) for layer in nn.Sequential(nn.Linear(2, 3), nn.ReLU())] == [nn.Linear, nn.ReLU]


def test_from_config_is_the_inverse_of_config_and_clone_copies():
    model = nn.Sequential(nn.layers.Conv2D(1, 2, 3, padding=1, rng=0), nn.layers.BatchNorm(2), nn.ReLU(),
                          nn.Flatten(), nn.Sequential(nn.Linear(2 * 4 * 4, 3, rng=1), nn.Softmax()))
    description = {"type": "Sequential", "config": model.config()}
    rebuilt = nn.Layer.from_config(description)
    assert type(rebuilt) is nn.Sequential and rebuilt.config() == model.config()
    assert type(rebuilt[4]) is nn.Sequential
    network = nn.Network([4, 3, 2], activation="tanh", dropout=0.1, rng=0)
    again = nn.Layer.from_config({"type": "Network", "config": network.config()}, initialize=False)
    assert type(again) is nn.Network and again.config() == network.config()
    assert not any(array.any() for array in again.parameters().values())     # zeros, to be overwritten
    assert again[0].init == "he"                                              # still naming its initializer
    x = np.random.default_rng(0).standard_normal((5, 1, 4, 4)).astype(np.float32)
    model.forward(x)                                                          # moves the running statistics
    twin = model.clone()
    assert type(twin) is nn.Sequential and twin is not model
    np.testing.assert_array_equal(twin.predict_output(x), model.predict_output(x))
    twin[0].params["W"] += 1                                                  # a copy, not a view
    assert not np.array_equal(twin[0].params["W"], model[0].params["W"])
    assert model.astype(np.float64).clone().dtype == np.float64


def test_from_config_names_what_is_wrong():
    with pytest.raises(ValueError, match=r"unknown layer type 'NoSuchLayer'; known: .*Linear"):
        nn.Layer.from_config({"type": "NoSuchLayer", "config": {}})  # (a name no test registers)
    with pytest.raises(ValueError, match="a layer description must be"):
        nn.Layer.from_config(["Linear"])
    with pytest.raises(ValueError, match="cannot build layer Linear from"):
        nn.Layer.from_config({"type": "Linear", "config": {"in_features": 0, "out_features": 2}})
    with pytest.raises(ValueError, match="Sequential needs a list of layers"):
        nn.Layer.from_config({"type": "Sequential", "config": {}})


def test_sequential_rejects_non_layers():
    with pytest.raises(TypeError, match="item 1 is a int, not a Layer"):
        nn.Sequential(nn.ReLU(), 3)


@pytest.mark.parametrize("name", sorted(nn.INITIALIZERS))
def test_initializers_are_reproducible_and_keep_the_dtype(name):
    init = nn.INITIALIZERS[name]
    first = init((300, 200), np.random.default_rng(5), np.float32)
    second = init((300, 200), np.random.default_rng(5), np.float32)
    assert first.dtype == np.float32 and first.shape == (300, 200)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name, expected_std", [
    ("normal", 1.0), ("uniform", np.sqrt(1 / 12)), ("lecun", np.sqrt(1 / 300)),
    ("glorot", np.sqrt(2 / 500)), ("he", np.sqrt(2 / 300)),
])
def test_initializer_scales(name, expected_std):
    weights = nn.INITIALIZERS[name]((300, 200), np.random.default_rng(0), np.float64)
    assert weights.std() == pytest.approx(expected_std, rel=0.02)
    assert abs(weights.mean()) < 0.02 * expected_std * 10


def test_unknown_initializer_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown initializer 'ones'; known: glorot, he"):
        nn.Linear(2, 2, init="ones")


def test_register_layer_accepts_only_layers():
    with pytest.raises(TypeError, match="register_layer expects a Layer subclass"):
        nn.register_layer(int)


def test_network_with_dropout_after_each_hidden_layer():
    network = nn.Network([8, 6, 4, 2], activation="relu", output=None, dropout=0.3, rng=0)
    assert [type(layer).__name__ for layer in network] == ["Linear", "ReLU", "Dropout", "Linear", "ReLU",
                                                           "Dropout", "Linear"]
    assert network[2].p == 0.3


def test_predictions_run_in_the_models_dtype_and_accept_no_rows():
    model = nn.Network([4, 3, 2], output=None, rng=0)
    assert model.predict_output(np.ones((2, 4))).dtype == np.float32      # float64 input, float32 model
    assert model.predict_output(np.ones((0, 4))).shape == (0, 2)
    assert model.predict(np.zeros((0, 4))).shape == (0,)


def test_leaky_relu_keeps_float32_inside():
    layer = nn.LeakyReLU(0.2)
    layer.forward(np.array([[-1.0, 2.0]], dtype=np.float32))
    assert layer.slope.dtype == np.float32
