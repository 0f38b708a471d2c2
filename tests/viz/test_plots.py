"""Every picture: training curves, confusion matrix, mistakes, first-layer weights; and the commands behind them."""
import json

import numpy as np
import pytest
from PIL import Image

from nnscratch import Network
from nnscratch.cli import main
from nnscratch.metrics import confusion_matrix
from nnscratch.runs import TrainingData
from nnscratch.serialization import save_model
from nnscratch.training import History
from nnscratch.viz.plots import (
    most_confident_mistakes,
    plot_confusion,
    plot_histories,
    plot_mistakes,
    plot_weights,
    read_history,
    run_name,
)


def check_png(path, min_width=300):
    """A real PNG, not tiny, and not blank: several distinct colours, with dark pixels (text) on it."""
    with Image.open(path) as image:
        assert image.format == "PNG", f"{path} is {image.format}, not PNG"
        pixels = np.asarray(image.convert("L"))
    assert pixels.shape[1] >= min_width, f"{path} is only {pixels.shape[1]} pixels wide"
    assert len(np.unique(pixels)) > 20, f"{path} looks blank ({len(np.unique(pixels))} grey levels)"
    assert (pixels < 80).mean() > 0.001, f"{path} has almost no dark pixels (no text or lines)"


def history(losses, accuracies, validation=True):
    records = [{"epoch": epoch + 1, "loss": loss, "accuracy": accuracy,
                "val_loss": loss * 1.1 if validation else None, "val_accuracy": accuracy - 0.01 if validation else None}
               for epoch, (loss, accuracy) in enumerate(zip(losses, accuracies, strict=True))]
    return History(records)


def test_training_curves_of_two_runs(tmp_path):
    runs = [("sigmoid", history([0.5, 0.3, 0.2], [0.8, 0.9, 0.93])),
            ("relu", history([0.3, 0.1, 0.05, 0.04], [0.9, 0.96, 0.97, 0.975], validation=False))]
    check_png(plot_histories(runs, tmp_path / "curves.png", title="two runs"))


def test_read_history_formats(tmp_path):
    records = history([0.4, 0.2], [0.9, 0.95])
    (tmp_path / "plain.json").write_text(json.dumps(records.to_dict()))
    (tmp_path / "run.history.json").write_text(json.dumps({"model": "m.npz", "history": records.to_dict()}))
    for name in ("plain.json", "run.history.json"):
        assert read_history(tmp_path / name)["loss"] == [0.4, 0.2]
    assert run_name("models/mlp.history.json") == "mlp"
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "empty.json").write_text(json.dumps({"epochs": []}))
    for name, message in (("bad.json", "not a history JSON"), ("empty.json", "non-empty list of epochs"),
                          ("missing.json", "no such history file")):
        with pytest.raises(ValueError, match=message):
            read_history(tmp_path / name)


def test_confusion_heat_map(tmp_path):
    rng = np.random.default_rng(0)
    actual = rng.integers(0, 10, 500)
    predicted = np.where(rng.uniform(size=500) < 0.8, actual, rng.integers(0, 10, 500))
    check_png(plot_confusion(confusion_matrix(predicted, actual, 10), tmp_path / "confusion.png"))


def test_most_confident_mistakes_come_first():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.99, 0.01]])
    y = np.array([1, 0, 0, 0])           # rows 0, 1, 2 are wrong, with confidence 0.9, 0.8, 0.6
    assert most_confident_mistakes(probabilities, y, 2).tolist() == [0, 1]


def test_mistakes_grid_with_and_without_mistakes(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (40, 784)).astype(np.float32)
    probabilities = rng.dirichlet(np.ones(10), 40)
    y = rng.integers(0, 10, 40)
    check_png(plot_mistakes(x, y, probabilities, tmp_path / "mistakes.png"))
    check_png(plot_mistakes(x, probabilities.argmax(axis=1), probabilities, tmp_path / "none.png"), min_width=200)


def test_first_layer_weights(tmp_path):
    model = Network([784, 12, 10], rng=0)
    check_png(plot_weights(model, tmp_path / "weights.png", count=12))
    with pytest.raises(ValueError, match="not a square image"):
        plot_weights(Network([30, 4, 2], rng=0), tmp_path / "no.png")


def test_plot_command_curves_and_weights(tmp_path, capsys):
    paths = []
    for name, losses in (("a", [0.5, 0.2]), ("b", [0.4, 0.1])):
        path = tmp_path / f"{name}.history.json"
        path.write_text(json.dumps({"history": history(losses, [0.9, 0.95]).to_dict()}))
        paths.append(str(path))
    assert main(["plot", *paths, "--out", str(tmp_path / "curves.png")]) == 0
    check_png(tmp_path / "curves.png")
    save_model(tmp_path / "model.npz", Network([784, 8, 10], rng=0))
    assert main(["plot", "--weights", str(tmp_path / "model.npz"), "--out", str(tmp_path / "w.png")]) == 0
    check_png(tmp_path / "w.png")
    assert main(["plot", "--out", str(tmp_path / "x.png")]) == 2
    assert main(["plot", *paths, "--names", "only-one"]) == 2
    assert "2 runs" in capsys.readouterr().err


def test_evaluate_plots(tmp_path, use_loader, capsys):
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (60, 784)).astype(np.float32)
    y = rng.integers(0, 10, 60)
    data = TrainingData("mnist", [str(digit) for digit in range(10)], (x, y), None, (x, y))
    use_loader(lambda settings: data)
    save_model(tmp_path / "model.npz", Network([784, 8, 10], output=None, rng=0), {"dataset": "mnist"})
    assert main(["evaluate", str(tmp_path / "model.npz"), "--plots", str(tmp_path / "plots")]) == 0
    assert "confusion.png" in capsys.readouterr().out
    check_png(tmp_path / "plots" / "confusion.png")
    check_png(tmp_path / "plots" / "mistakes.png")


# ---- one rule for the weight pictures, one encoding (viz/pictures.py), used by every view -------------------------

def test_a_dense_units_picture_is_its_column_of_W_laid_out_as_the_input():
    from nnscratch.viz.pictures import weight_images
    W = np.random.default_rng(0).normal(size=(784, 5))
    images = weight_images(W)
    assert images.shape == (5, 28, 28), images.shape
    for unit in range(5):
        assert np.array_equal(images[unit], W[:, unit].reshape(28, 28)), f"unit {unit}'s picture is not W[:, {unit}]"
    assert weight_images(np.zeros((30, 4))).shape == (4, 1, 30), "a non-square input is one row"
    assert weight_images(np.zeros((12, 2)), input_shape=(1, 3, 4)).shape == (2, 3, 4), "the input's own shape"


def test_a_convolutions_pictures_are_every_kernel_of_every_input_channel():
    from nnscratch.viz.pictures import weight_images
    W = np.random.default_rng(1).normal(size=(3, 2, 5, 5))
    images = weight_images(W)
    assert images.shape == (6, 5, 5), images.shape
    assert np.array_equal(images[2 * 2 + 1], W[2, 1]), "picture o·in + c is not the kernel W[o, c]"
    with pytest.raises(ValueError, match="got shape"):
        weight_images(np.zeros(3))


def test_to_uint8_puts_zero_at_127_and_each_pictures_largest_weight_at_the_end():
    from nnscratch.viz.pictures import to_uint8
    images = np.array([[[0.0, 0.6], [-1.0, 0.2]], [[0.0, 0.0], [0.0, 0.0]], [[4.0, -3.0], [0.0, 1.2]]])
    levels, scale = to_uint8(images)
    assert levels.dtype == np.uint8 and levels.shape == images.shape
    assert scale.tolist() == [1.0, 1.0, 4.0], scale
    assert levels[0].tolist() == [[127, 203], [0, 152]], levels[0].tolist()   # rint(127 · w / s + 127)
    assert levels[1].tolist() == [[127, 127], [127, 127]], "an all-zero picture is all 127"
    assert levels[2].tolist() == [[254, 32], [127, 165]], levels[2].tolist()
    shared, _ = to_uint8(images, scale=2.0)
    assert shared[2].tolist() == [[254, 0], [127, 203]], "a shared scale clips beyond it"


def test_the_train_view_look_inside_and_the_plot_share_one_rule():
    """The Train view's mosaic, Look inside's weights and the PNG all start from the same pictures."""
    import base64

    from nnscratch import Conv2D, Flatten, Linear, ReLU, Sequential
    from nnscratch.app.explain_api import encode_weights
    from nnscratch.app.watch import weight_image
    from nnscratch.explain import Explainer
    from nnscratch.viz.pictures import to_uint8, weight_images
    rng = np.random.default_rng(2)
    mlp = Network([784, 6, 10], rng=0)
    cnn = Sequential(Conv2D(1, 3, 3, rng=rng), ReLU(), Flatten(), Linear(3 * 26 * 26, 10, rng=rng))
    for model, W in ((mlp, mlp.layers[0].params["W"]), (cnn, cnn.layers[0].params["W"])):
        expected, _ = to_uint8(weight_images(W))
        train_bytes, train_shape = weight_image(model)
        assert train_shape == expected.shape and train_bytes == expected.tobytes(), "the Train view differs"
        explained = encode_weights(Explainer(model).first_layer_weights())
        assert base64.b64decode(explained["bytes"]) == expected.tobytes(), "Look inside differs"
    assert Explainer(cnn).first_layer_weights()["shape"] == [3, 1, 3, 3], "the kernels keep their layer's shape"
    assert Explainer(mlp).first_layer_weights()["shape"] == [6, 28, 28]
