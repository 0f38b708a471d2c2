"""Convolutional models end to end: `nnscratch train --architecture cnn` on a few hundred tiny synthetic digits,
then save and load, `evaluate`, `predict`, `plot --weights` and the draw page on the model file."""
import re

import numpy as np
import pytest
from PIL import Image

from nnscratch import cli
from nnscratch.app.service import DrawService
from nnscratch.images.prepare import load_image, prepare_digit
from nnscratch.losses import SoftmaxCrossEntropy
from nnscratch.optimizers import Adam
from nnscratch.runs import TrainingData
from nnscratch.runs.build import build_model
from nnscratch.runs.data import wants_images
from nnscratch.runs.table import DEFAULTS
from nnscratch.serialization import load_model, save_model
from nnscratch.training import evaluate, fit

CNN = ["--architecture", "cnn", "--hidden", "16", "--optimizer", "adam", "--lr", "0.003", "--epochs", "2",
       "--batch-size", "32", "--quiet"]


def squares(n, rng):
    """28x28 images of one 6x6 bright square at one of ten places (its class), on faint noise."""
    y = rng.integers(0, 10, n)
    x = rng.uniform(0.0, 0.2, (n, 28, 28)).astype(np.float32)
    top, left = 3 + 12 * (y // 5), 1 + 5 * (y % 5)
    rows = top[:, None, None] + np.arange(6)[None, :, None]
    columns = left[:, None, None] + np.arange(6)[None, None, :]
    x[np.arange(n)[:, None, None], rows, columns] = 1.0
    return x.reshape(n, 784), y.astype(np.int64)


@pytest.fixture
def digits(use_loader):
    """Replace the data loader by 240 / 60 / 100 square images, flat or (N, 1, 28, 28) as the network asks."""
    requests = []

    def load(settings):
        requests.append(dict(settings))
        rng = np.random.default_rng(0)
        splits = [squares(240, rng), squares(60, rng), squares(100, rng)]
        if wants_images(settings):
            splits = [(x.reshape(len(x), 1, 28, 28), y) for x, y in splits]
        return TrainingData("mnist", [str(digit) for digit in range(10)], splits[0],
                                   splits[1] if settings["validation_size"] else None, splits[2])

    use_loader(load)
    return requests


def train_cnn(tmp_path, *extra, name="cnn.npz"):
    return cli.main(["train", *CNN, "--out", str(tmp_path / name), *extra])


def test_cnn_trains_on_images_and_saves_its_input_shape(tmp_path, digits, capsys):
    assert train_cnn(tmp_path, "--batch-norm", "--augment", "affine") == 0
    out = capsys.readouterr().out
    banner = " ".join(line.strip() for line in out.split("Training for")[0].splitlines())
    assert ("Input (m, 1, 28, 28) --> Conv2D (m, 32, 24, 24) --> BatchNorm --> MaxPool2D (m, 32, 12, 12) --> "
            "ReLU --> Conv2D (m, 64, 8, 8)") in banner, out
    assert ("Flatten (m, 1024) --> Linear (m, 16) --> BatchNorm --> ReLU --> Linear (m, 10) --> Output (m, 10)"
            in banner)
    assert "train (240, 1, 28, 28) labels (240,)" in banner
    assert "hidden 16, batch-norm True" in banner and "augment affine" in banner and "momentum" not in banner
    assert max(len(line) for line in out.split("Training for")[0].splitlines()) <= 100, "the banner wraps"
    for line in out.split("Training for")[0].splitlines():
        assert not line.rstrip().endswith(("(m,", "Conv2D", "MaxPool2D")), f"broken inside a layer: {line!r}"
    assert len([line for line in out.splitlines() if line.startswith("Epoch ")]) == 2
    model, metadata = load_model(tmp_path / "cnn.npz")
    assert metadata["input_shape"] == [1, 28, 28] and "(1, rows, columns)" in metadata["preprocessing"]
    assert metadata["training"]["settings"]["architecture"] == "cnn"
    x_test, y_test = digits_test()
    result = evaluate(model, x_test.reshape(-1, 1, 28, 28), y_test)
    assert result.accuracy == metadata["test_accuracy"], "the reloaded model should score what was saved"
    assert result.accuracy >= 0.9, f"ten squares at ten places should be told apart in 2 epochs, got {result}"


def digits_test():
    """The test split of the `digits` fixture."""
    rng = np.random.default_rng(0)
    squares(240, rng), squares(60, rng)
    return squares(100, rng)


def test_save_and_load_give_identical_predictions(tmp_path):
    settings = {**DEFAULTS, "architecture": "cnn", "hidden": 16, "dropout": 0.25, "batch_norm": True}
    model = build_model(settings, np.random.default_rng(1))
    x, y = squares(200, np.random.default_rng(2))
    x = x.reshape(-1, 1, 28, 28)
    fit(model, x, y, SoftmaxCrossEntropy(), Adam(model, 0.003), epochs=1, batch_size=50,
        rng=np.random.default_rng(3))
    save_model(tmp_path / "m.npz", model, {"input_shape": [1, 28, 28]})
    loaded, metadata = load_model(tmp_path / "m.npz")
    assert [type(layer).__name__ for layer in loaded] == [type(layer).__name__ for layer in model]
    expected = model.predict_output(x)
    assert expected.dtype == np.float32 and expected.shape == (200, 10)
    np.testing.assert_array_equal(loaded.predict_output(x), expected)


def test_evaluate_a_cnn_model_file(tmp_path, digits, capsys):
    assert train_cnn(tmp_path) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "cnn.npz")]) == 0
    out = capsys.readouterr().out
    _, metadata = load_model(tmp_path / "cnn.npz")
    correct = round(metadata["test_accuracy"] * 100)
    assert f"Accuracy  {correct} / 100" in out, out
    assert "Input (m, 1, 28, 28) --> Conv2D (m, 32, 24, 24)" in out
    assert wants_images(digits[-1]), "evaluate should ask for images for a convolutional model"


def test_evaluate_reads_the_input_shape_of_a_model_without_training_settings(tmp_path, digits, capsys):
    model = build_model({**DEFAULTS, "architecture": "cnn", "hidden": 8}, np.random.default_rng(0))
    save_model(tmp_path / "bare.npz", model, {"dataset": "mnist", "input_shape": [1, 28, 28]})
    assert cli.main(["evaluate", str(tmp_path / "bare.npz")]) == 0
    x, y = digits_test()
    expected = evaluate(model, x.reshape(-1, 1, 28, 28), y)
    assert f"Accuracy  {expected.correct} / 100" in capsys.readouterr().out


@pytest.fixture
def cnn_file(tmp_path):
    model = build_model({**DEFAULTS, "architecture": "cnn", "hidden": 8}, np.random.default_rng(5))
    path = tmp_path / "cnn.npz"
    save_model(path, model, {"dataset": "mnist", "input_shape": [1, 28, 28],
                             "class_names": [str(digit) for digit in range(10)]})
    return str(path), model


def test_predict_a_test_digit_with_a_cnn(cnn_file, use_mnist, capsys):
    path, model = cnn_file
    x, y = digits_test()
    use_mnist(x, y)
    assert cli.main(["predict", path, "--index", "3"]) == 0
    probabilities = model.predict_proba(x[3].reshape(1, 1, 28, 28))[0]
    predicted = int(probabilities.argmax())
    out = capsys.readouterr().out
    assert f"Prediction: {predicted}   True label: {y[3]}" in out, out
    assert f"{100 * probabilities[predicted]:6.2f} %" in out


def test_predict_an_image_file_with_a_cnn(cnn_file, tmp_path, capsys):
    path, model = cnn_file
    picture = np.full((90, 70), 255, np.uint8)
    picture[10:80, 30:40] = 0  # a dark "1" on white paper
    Image.fromarray(picture).save(tmp_path / "one.png")
    assert cli.main(["predict", path, str(tmp_path / "one.png")]) == 0
    digit = prepare_digit(load_image(str(tmp_path / "one.png")))
    probabilities = model.predict_proba(digit.reshape(1, 1, 28, 28))[0]
    predicted = int(probabilities.argmax())
    out = capsys.readouterr().out
    assert f"one.png: prediction {predicted} ({100 * probabilities[predicted]:.2f} %" in out, out


def test_plot_weights_of_a_cnn_draws_its_first_kernels(cnn_file, tmp_path, capsys):
    path, _ = cnn_file
    assert cli.main(["plot", "--weights", path, "--neurons", "16", "--out", str(tmp_path / "k.png")]) == 0
    with Image.open(tmp_path / "k.png") as image:
        assert image.format == "PNG" and image.width > 300 and image.height > 100, image.size
    assert "Saved the first-layer weights" in capsys.readouterr().out


def test_draw_page_predicts_with_a_cnn(cnn_file):
    path, model = cnn_file
    loaded, metadata = load_model(path)
    service = DrawService(loaded, metadata)
    assert service.describe()["architecture"] == ("conv 5×5×32 → max-pool 2 ReLU → conv 5×5×64 → max-pool 2 "
                                                  "ReLU → 8 ReLU → 10")
    drawing = np.zeros((200, 200), np.float32)
    drawing[30:170, 90:110] = 1.0
    answer = service.predict(drawing)
    expected = model.predict_proba(prepare_digit(drawing).reshape(1, 1, 28, 28))[0]
    assert answer["status"] == "ok" and answer["prediction"] == int(expected.argmax())
    np.testing.assert_allclose(answer["probabilities"], expected, atol=1e-6)


def test_resumed_cnn_run_matches_one_go(tmp_path, digits, capsys):
    flags = ["--batch-norm", "--dropout", "0.25", "--validation-size", "0", "--augment", "affine"]
    assert train_cnn(tmp_path, *flags, name="one.npz") == 0
    assert train_cnn(tmp_path, *flags, "--epochs", "1", name="split.npz") == 0
    assert cli.main(["train", "--resume", str(tmp_path / "split.npz"), "--epochs", "2", "--quiet"]) == 0
    resumed, _ = load_model(tmp_path / "split.npz")
    reference, _ = load_model(tmp_path / "one.npz")
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[key], value, err_msg=key)


@pytest.mark.parametrize("argv, message", [
    (["--layers", "784,30,10"], "--layers sets the sizes of an mlp; the cnn's are fixed but for --hidden"),
    (["--architecture", "rnn"], "--architecture must be one of mlp, cnn, cnn-small, got 'rnn'"),
    (["--augment", "wobble"], "--augment expects a number of pixels or 'affine' or 'elastic', got 'wobble'"),
    (["--augment", "-1"], "--augment must be 0 to 8 pixels (or 'affine' or 'elastic'), got -1"),
    (["--hidden", "0"], "--hidden must be at least 1, got 0"),
    (["--print-every", "0"], "--print-every must be at least 1, got 0"),
])
def test_bad_cnn_input_is_one_line(tmp_path, digits, capsys, argv, message):
    assert train_cnn(tmp_path, *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnscratch train: error: ") and message in err, err
    assert err.count("\n") == 1


def test_the_cnn_refuses_images_of_another_size(tmp_path, capsys):
    assert cli.main(["train", *CNN, "--dataset", "lines", "--validation-size", "0",
                     "--out", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert "the cnn takes examples of shape (1, 28, 28), but lines examples have shape (1, 16, 16)" in err, err


def test_print_every_keeps_the_first_every_nth_and_last_epoch(tmp_path, digits, capsys):
    assert cli.main(["train", "--layers", "784,10", "--batch-size", "full", "--epochs", "23", "--print-every",
                     "10", "--quiet", "--report-test-each-epoch", "--out", str(tmp_path / "m.npz")]) == 0
    epochs = [int(re.match(r"Epoch\s+(\d+)/23", line).group(1))
              for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch")]
    assert epochs == [1, 10, 20, 23]
    _, metadata = load_model(tmp_path / "m.npz")
    assert metadata["epochs_trained"] == 23
