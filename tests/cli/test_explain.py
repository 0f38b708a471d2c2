"""nnscratch explain: the JSON object other tools read, the PNG of the views, and one-line errors."""
import json

import numpy as np
import pytest
from PIL import Image

from nnscratch import Network
from nnscratch.cli import main
from nnscratch.inspection import logit_gradient
from nnscratch.serialization import save_model


@pytest.fixture
def fake_mnist(use_mnist):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (40, 784)).astype(np.float32)
    y = rng.integers(0, 10, 40)
    use_mnist(x, y, test=(x[:10], y[:10]), held_out=0)
    return x, y


def saved(tmp_path, sizes, name="model.npz"):
    model = Network(sizes, activation="relu", output=None, bias_init="normal", rng=3)
    path = tmp_path / name
    save_model(path, model, {"dataset": "mnist", "input_shape": [sizes[0]]})
    return str(path), model


def test_json_holds_the_prediction_saliency_and_exact_splits(tmp_path, fake_mnist, capsys):
    path, model = saved(tmp_path, [784, 20, 10])
    assert main(["explain", path, "--index", "4", "--class", "2", "--versus", "7", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    x = fake_mnist[0][4:5]
    z = model.forward(x)[0]
    assert answer["source"] == {"index": 4, "label": int(fake_mnist[1][4])}
    assert answer["prediction"] == int(np.argmax(z)) and answer["class"] == 2
    np.testing.assert_allclose(answer["logits"], z, rtol=1e-6)
    np.testing.assert_allclose(answer["probabilities"], model.predict_proba(x)[0], rtol=1e-6)
    np.testing.assert_array_equal(answer["input"], x[0])
    np.testing.assert_allclose(answer["saliency"], logit_gradient(model, x, 2)[0], rtol=1e-6)
    assert len(answer["contributions"]) == 20
    assert set(answer["contributions"][0]) == {"unit", "activation", "weight", "contribution"}
    total = sum(part["contribution"] for part in answer["contributions"]) + answer["bias"]
    assert total == pytest.approx(z[2], rel=1e-5)
    versus = answer["versus"]
    assert versus["class"] == 7
    assert sum(part["contribution"] for part in versus["contributions"]) + versus["bias"] == \
        pytest.approx(z[2] - z[7], rel=1e-5, abs=1e-5)


def test_text_and_png_for_an_image_file(tmp_path, fake_mnist, capsys):
    path, _ = saved(tmp_path, [784, 20, 10])
    picture = np.full((56, 56), 255, np.uint8)             # a dark "7" on white paper
    picture[12:18, 12:44] = 0
    for row in range(18, 48):
        picture[row, 40 - (row - 18) // 2:46 - (row - 18) // 2] = 0
    Image.fromarray(picture).save(tmp_path / "one.png")
    out = tmp_path / "views" / "explain.png"
    assert main(["explain", path, str(tmp_path / "one.png"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "one.png: prediction" in text and "Why " in text and "exactly, as the network is piecewise linear" in text
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 1000 and image.height > 1000


@pytest.mark.parametrize("arguments, message", [
    (["--index", "10"], "--index must be from 0 to 9, got 10"),
    (["--index", "0", "--class", "10"], "--class must be from 0 to 9, got 10"),
    (["--index", "0", "--versus", "-1"], "--versus must be from 0 to 9, got -1"),
    ([], "either --index N or an IMAGE file"),
    (["--index", "0", "--out", "x.jpg"], "--out must name a .png file"),
])
def test_bad_requests_are_one_line_errors(tmp_path, fake_mnist, capsys, arguments, message):
    path, _ = saved(tmp_path, [784, 20, 10])
    assert main(["explain", path, *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error


def test_a_model_without_a_hidden_layer_is_refused(tmp_path, fake_mnist, capsys):
    path, _ = saved(tmp_path, [784, 10])
    assert main(["explain", path, "--index", "0"]) == 2
    error = capsys.readouterr().err
    assert "has no hidden layer" in error and error.count("\n") == 1, error


def test_a_missing_image_is_one_line(tmp_path, fake_mnist, capsys):
    path, _ = saved(tmp_path, [784, 20, 10])
    assert main(["explain", path, str(tmp_path / "none.png")]) == 2
    error = capsys.readouterr().err
    assert "none.png" in error and error.count("\n") == 1, error
