"""nnscratch step: its JSON equals a float64 forward and backward written here (not the engine's code) for an
MLP and a CNN, the loss after the step is the loss of the updated parameters, the model file is untouched, the
text and the page show the table, and every bad request is one line with exit status 2."""
import json

import numpy as np
import pytest
from PIL import Image

import nnscratch.cli as cli
from nnscratch import Conv2D, Flatten, Linear, MaxPool2D, Network, ReLU, Sequential, Sigmoid
from nnscratch.serialization import save_model
from tests.naive_layers import conv2d, conv2d_backward, pool2d


@pytest.fixture
def main():
    """``nnscratch.cli.main``."""
    return cli.main


@pytest.fixture
def fake_mnist(use_mnist):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (12, 784)).astype(np.float32)
    y = rng.integers(0, 10, 12)
    use_mnist(x, y, held_out=0)
    return x, y


def saved(tmp_path, model, input_shape, name="model.npz", metadata=None):
    path = tmp_path / name
    save_model(path, model, {"dataset": "mnist", "input_shape": list(input_shape), **(metadata or {})})
    return str(path)


def step_json(main, capsys, arguments):
    assert main(["step", *arguments, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# ---- the reference: each layer by hand, in float64, one example (batch of 1)
def reference_forward(layers, params, x):
    """Outputs of ``layers`` (names) for x, the parameters given as {position: {"W", "b"}}."""
    outputs = []
    for position, kind in enumerate(layers):
        if kind == "linear":
            x = x.reshape(1, -1) @ params[position]["W"] + params[position]["b"]
        elif kind == "conv":
            x = conv2d(x, params[position]["W"], params[position]["b"])
        elif kind == "relu":
            x = np.where(x > 0, x, 0.0)
        elif kind == "sigmoid":
            x = 1.0 / (1.0 + np.exp(-x))
        elif kind == "maxpool":
            x = pool2d(x, (2, 2), (2, 2))[0]
        elif kind == "flatten":
            x = x.reshape(1, -1)
        outputs.append(x)
    return outputs


def cross_entropy(logits, label):
    """L = log Σ e^z - z_label and its gradient softmax(z) - one-hot."""
    exp = np.exp(logits - logits.max())
    p = exp / exp.sum()
    one_hot = np.eye(logits.shape[1])[label]
    return float(np.log(exp.sum()) - (logits - logits.max())[0, label]), p - one_hot


def reference_backward(layers, params, x, outputs, grad):
    """Per layer (from the last): the gradient it received, the one it returned, and its parameter gradients."""
    received, returned, grads = {}, {}, {}
    inputs = [x] + outputs[:-1]
    for position in reversed(range(len(layers))):
        kind, x_in, y = layers[position], inputs[position], outputs[position]
        received[position] = grad
        if kind == "linear":
            flat = x_in.reshape(1, -1)
            grads[position] = {"W": flat.T @ grad, "b": grad.sum(axis=0)}
            grad = (grad @ params[position]["W"].T).reshape(x_in.shape)
        elif kind == "conv":
            grad, grad_W, grad_b = conv2d_backward(x_in, params[position]["W"], grad)
            grads[position] = {"W": grad_W, "b": grad_b}
        elif kind == "relu":
            grad = grad * (x_in > 0)
        elif kind == "sigmoid":
            grad = grad * y * (1 - y)
        elif kind == "maxpool":
            grad = pool2d(x_in, (2, 2), (2, 2), grad_out=grad)[1]
        elif kind == "flatten":
            grad = grad.reshape(x_in.shape)
        returned[position] = grad
    return received, returned, grads


def weights_of(model):
    state = {name: np.asarray(value, dtype=np.float64) for name, value in model.state_dict().items()}
    params = {}
    for name, value in state.items():
        position, key = name.split(".")
        params.setdefault(int(position), {})[key] = value
    return params


def check_against_reference(answer, layers, params, x, label, lr):
    outputs = reference_forward(layers, params, x)
    loss, grad = cross_entropy(outputs[-1], label)
    received, returned, grads = reference_backward(layers, params, x, outputs, grad)
    assert answer["loss"] == pytest.approx(loss, rel=1e-12)
    assert [layer["index"] for layer in answer["layers"]] == list(range(len(layers)))
    for position, layer in enumerate(answer["layers"]):
        for key, expected in (("output", outputs[position]), ("grad_output", received[position]),
                              ("grad_input", returned[position])):
            value = np.array(layer[key])
            assert value.shape == expected.shape, f"layer {position} {key}: shape {value.shape}, {expected.shape}"
            np.testing.assert_allclose(value, expected, rtol=1e-10, atol=1e-13, err_msg=f"layer {position} {key}")
        assert set(layer["grads"]) == set(grads.get(position, {})), f"layer {position}: {sorted(layer['grads'])}"
        for key, expected in grads.get(position, {}).items():
            np.testing.assert_allclose(layer["grads"][key], expected, rtol=1e-10, atol=1e-13,
                                       err_msg=f"layer {position} ∂L/∂{key}")
            np.testing.assert_allclose(layer["update"][key], -lr * expected, rtol=1e-9, atol=1e-15,
                                       err_msg=f"layer {position} update of {key}")
    new = {position: {key: params[position][key] + np.array(answer["layers"][position]["update"][key])
                      for key in params[position]} for position in params}
    after, _ = cross_entropy(reference_forward(layers, new, x)[-1], label)
    assert answer["loss_after"] == pytest.approx(after, rel=1e-12)
    assert answer["loss_after"] < answer["loss"], "a small step against the gradient must lower the loss"


def test_mlp_step_equals_a_hand_written_forward_and_backward(tmp_path, fake_mnist, main, capsys):
    model = Sequential(Linear(784, 16, bias_init="normal", rng=1), ReLU(), Linear(16, 10, rng=2))
    path = saved(tmp_path, model, [784])
    before = open(path, "rb").read()
    answer = step_json(main, capsys, [path, "--index", "3", "--lr", "0.05"])
    x, y = fake_mnist
    assert answer["example"] == {"index": 3, "label": int(y[3])} and answer["target"] == int(y[3])
    assert answer["lr"] == 0.05 and answer["loss_name"] == "SoftmaxCrossEntropy"
    assert [layer["type"] for layer in answer["layers"]] == ["Linear", "ReLU", "Linear"]
    assert {"example", "target", "lr", "loss", "loss_after", "layers"} <= set(answer)
    assert {"index", "type", "output", "grad_output", "grad_input", "grads", "update"} <= set(answer["layers"][0])
    check_against_reference(answer, ["linear", "relu", "linear"], weights_of(model),
                            x[3:4].astype(np.float64), int(y[3]), 0.05)
    assert open(path, "rb").read() == before, "the model file changed"


def test_cnn_step_equals_a_hand_written_forward_and_backward(tmp_path, fake_mnist, main, capsys):
    model = Sequential(Conv2D(1, 2, 3, bias_init="normal", rng=1), ReLU(), MaxPool2D(2), Flatten(),
                       Linear(2 * 13 * 13, 10, rng=2))
    path = saved(tmp_path, model, [1, 28, 28])
    answer = step_json(main, capsys, [path, "--index", "5", "--label", "4"])
    assert answer["target"] == 4 and answer["lr"] == 0.1
    x = fake_mnist[0][5].astype(np.float64).reshape(1, 1, 28, 28)
    check_against_reference(answer, ["conv", "relu", "maxpool", "flatten", "linear"], weights_of(model), x, 4, 0.1)


def test_text_shows_the_path_and_summaries_of_big_arrays(tmp_path, fake_mnist, main, capsys):
    model = Network([784, 12, 10], activation="sigmoid", output=None, rng=4)
    path = saved(tmp_path, model, [784])
    assert main(["step", path, "--index", "0"]) == 0
    text = capsys.readouterr().out
    assert "test digit 0" in text and "target class" in text
    assert "on the path input [" in text and "→ 2 Linear(12→10) unit" in text
    assert "shape 784×12; on the path [" in text and "largest [" in text
    for heading in ("Forward", "Loss", "Backward", "Update", "After the step"):
        assert f"\n{heading}" in text, f"no {heading} section"
    assert "Z⁽¹⁾ = X W⁽¹⁾ + b⁽¹⁾" in text and "∂L/∂W⁽²⁾ = A⁽¹⁾ᵀ ∂L/∂Z⁽²⁾" in text and "Linear.backward" in text


def test_the_path_follows_the_largest_contribution(tmp_path, fake_mnist, main, capsys):
    model = Network([784, 12, 10], activation="relu", output=None, rng=4)
    path = saved(tmp_path, model, [784])
    answer = step_json(main, capsys, [path, "--index", "1", "--label", "6"])
    pixel, hidden, after_relu, output = answer["path"]
    assert output == 6 and after_relu == hidden
    W2 = np.array(answer["layers"][2]["params"]["W"])
    a = np.array(answer["layers"][1]["output"])[0]
    assert hidden == int(np.argmax(np.abs(a * W2[:, 6])))
    W1, x = np.array(answer["layers"][0]["params"]["W"]), np.array(answer["input"])[0]
    assert pixel == int(np.argmax(np.abs(x * W1[:, hidden])))


def test_an_image_with_a_label_and_the_trained_loss(tmp_path, main, capsys):
    model = Network([784, 8, 10], activation="sigmoid", rng=5)
    path = saved(tmp_path, model, [784], metadata={"training": {"settings": {"loss": "mse"}}})
    picture = np.full((56, 56), 255, np.uint8)             # a dark "1" on white paper
    picture[8:48, 26:31] = 0
    Image.fromarray(picture).save(tmp_path / "one.png")
    answer = step_json(main, capsys, [path, str(tmp_path / "one.png"), "--label", "1"])
    assert answer["example"] == {"image": str(tmp_path / "one.png")} and answer["loss_name"] == "MeanSquaredError"
    output = np.array(answer["layers"][-1]["output"])
    target = np.eye(10)[[1]]
    assert answer["loss"] == pytest.approx(float(np.mean((output - target) ** 2)), rel=1e-12)


def test_the_page_holds_the_table(tmp_path, main, capsys):
    out = tmp_path / "pages" / "step.html"
    assert main(["step", "--example", "worked", "--out", str(out)]) == 0
    assert "written to" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "http" not in page.replace("<!DOCTYPE html>", ""), "the page must not fetch anything"
    for text in ("∂L/∂W⁽²⁾", "A⁽¹⁾ᵀ ∂L/∂Z⁽²⁾", "Linear.backward", "SGD.update", "0.587291127", "0.832959273"):
        assert text in page, f"{text!r} is not on the page"


def test_a_step_that_overflows_says_so(tmp_path, fake_mnist, main, capsys):
    path = saved(tmp_path, Network([784, 6, 10], output=None, rng=0), [784])
    answer = step_json(main, capsys, [path, "--index", "0", "--lr", "1e308"])
    assert answer["loss_after"] is None and answer["loss"] > 0
    assert main(["step", path, "--index", "0", "--lr", "1e308"]) == 0
    captured = capsys.readouterr()
    assert "the step overflowed float64" in captured.out and not captured.err, captured.err


def test_help(main, capsys):
    assert main(["step", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: nnscratch step")


def errors_of(main, capsys, arguments):
    status = main(["step", *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("arguments, message", [
    (["--index", "12"], "--index must be from 0 to 11, got 12"),
    (["--index", "0", "--label", "10"], "--label: the target class must be from 0 to 9"),
    (["--index", "0", "--label", "-1"], "--label: the target class must be from 0 to 9"),
    ([], "either --index N or an IMAGE file"),
    (["picture.png"], "a picture has no label"),
    (["--index", "0", "--lr", "0"], "--lr must be positive"),
    (["--index", "0", "--out", "step.png"], "--out must name an .html file"),
    (["--index", "0", "--example", "mazur"], "--example brings its own network"),
])
def test_bad_requests_are_one_line(tmp_path, fake_mnist, main, capsys, arguments, message):
    path = saved(tmp_path, Network([784, 6, 10], output=None, rng=0), [784])
    status, out, error = errors_of(main, capsys, [path, *arguments])
    assert status == 2 and message in error and error.count("\n") == 1 and not out, error


def test_no_such_model_file_or_image(tmp_path, fake_mnist, main, capsys):
    status, _, error = errors_of(main, capsys, [str(tmp_path / "none.npz"), "--index", "0"])
    assert status == 2 and "none.npz: no such model file" in error and error.count("\n") == 1, error
    path = saved(tmp_path, Network([784, 6, 10], output=None, rng=0), [784])
    status, _, error = errors_of(main, capsys, [path, str(tmp_path / "none.png"), "--label", "3"])
    assert status == 2 and "none.png" in error and error.count("\n") == 1, error
    status, _, error = errors_of(main, capsys, ["--example", "nobody"])
    assert status == 2 and "invalid choice: 'nobody'" in error, error


@pytest.mark.parametrize("model, shape, message", [
    (Network([784, 6, 10], activation="relu", output="relu", rng=0), [784],
     "ends in ReLU and its file does not say which loss"),
    (Network([10, 6, 2], output=None, rng=0), [10], "it takes input shape (10,), a digit has 784 pixels"),
    (Sequential(Linear(784, 4, rng=0), Sigmoid(), Linear(4, 2, rng=1), Flatten()), [784], None),
])
def test_a_model_it_cannot_step_is_one_line(tmp_path, fake_mnist, main, capsys, model, shape, message):
    path = saved(tmp_path, model, shape)
    status, out, error = errors_of(main, capsys, [path, "--index", "0"])
    if message is None:   # two outputs: the data set's label 7 (say) is no class of this network
        message = "the target class must be from 0 to 1 (the network has 2 outputs)"
        assert int(fake_mnist[1][0]) >= 2
    assert status == 2 and message in error and error.count("\n") == 1 and not out, error


def test_take_step_leaves_the_model_as_it_was():
    from nnscratch.explain.step import take_step
    model = Network([784, 5, 10], output=None, rng=1)
    before = model.state_dict()
    step = take_step(model, np.full((1, 784), 0.5), 3, "softmax_cross_entropy", 0.1)
    assert step.layers[0].update["W"].any() and model.dtype == np.float32
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
