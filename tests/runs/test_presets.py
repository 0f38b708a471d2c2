"""Presets: each builds the network it describes, and the shift augmentation moves images as it says."""
import re

import numpy as np
import pytest

from nnscratch import SGD, Adam, CosineDecay, Dropout, Linear, Quadratic, Sigmoid, SoftmaxCrossEntropy
from nnscratch.images.augment import ElasticDistortion, RandomAffine, RandomShift
from nnscratch.presets import PRESETS, get_preset
from nnscratch.runs import resolve
from nnscratch.runs.build import build_loss, build_model, build_optimizer, build_transform, input_shape
from nnscratch.runs.table import DEFAULTS


def settings_of(name):
    """A preset's checked settings: the table's defaults, then the preset's."""
    return resolve(preset=name)


def built(name):
    """A preset's untrained network, initialised from its own seed."""
    settings = settings_of(name)
    return build_model(settings, np.random.default_rng(settings["seed"]))


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_builds_its_layer_sizes(name):
    preset = PRESETS[name]
    assert set(preset.settings) <= set(DEFAULTS), set(preset.settings) - set(DEFAULTS)
    settings, model = settings_of(name), built(name)
    if settings["architecture"] == "mlp":
        sizes = [(layer.in_features, layer.out_features) for layer in model if isinstance(layer, Linear)]
        assert sizes == list(zip(settings["layers"][:-1], settings["layers"][1:], strict=True))
    output = model.predict_output(np.zeros((2, *input_shape(settings)), np.float32))
    classes = 10 if settings["architecture"] != "mlp" else settings["layers"][-1]
    assert output.shape == (2, classes) and output.dtype == np.float32, (output.shape, output.dtype)
    assert all(array.dtype == np.float32 for array in model.parameters().values())
    assert preset.description and preset.reproduces and preset.expected and preset.measured


def test_nielsen_is_sigmoid_everywhere_quadratic_normal_sgd():
    settings = settings_of("nielsen")
    model = build_model(settings, np.random.default_rng(0))
    assert [type(layer).__name__ for layer in model] == ["Linear", "Sigmoid", "Linear", "Sigmoid"]
    assert isinstance(model[-1], Sigmoid) and isinstance(build_loss(settings), Quadratic)
    weights = model[0].params["W"]
    assert 0.95 < weights.std() < 1.05, f"N(0, 1) weights expected, got std {weights.std():.3f}"
    optimizer = build_optimizer(settings, model)
    assert isinstance(optimizer, SGD) and optimizer.lr == 3.0 and optimizer.momentum == 0.0
    assert settings["batch_size"] == 10 and settings["epochs"] == 15 and settings["report_test_each_epoch"]


def test_mlp_large_uses_dropout_adam_cosine_and_shifts():
    settings = settings_of("mlp-large")
    model = build_model(settings, np.random.default_rng(0))
    assert sum(isinstance(layer, Dropout) for layer in model) == len(settings["layers"]) - 2
    assert isinstance(build_loss(settings), SoftmaxCrossEntropy)
    optimizer = build_optimizer(settings, model)
    assert isinstance(optimizer, Adam) and isinstance(optimizer.schedule, CosineDecay)
    assert settings["augment"] > 0


def test_cnn_presets_are_the_convolutional_networks_they_describe():
    names = ["Conv2D", "MaxPool2D", "ReLU", "Conv2D", "MaxPool2D", "ReLU", "Flatten", "Linear", "ReLU", "Dropout",
             "Linear"]
    cnn = built("cnn")
    assert [type(layer).__name__ for layer in cnn] == names
    assert (cnn[7].in_features, cnn[7].out_features, cnn[9].p) == (1024, 128, 0.25)
    best = built("cnn-best")
    assert [type(layer).__name__ for layer in best] == [
        "Conv2D", "BatchNorm", "MaxPool2D", "ReLU", "Conv2D", "BatchNorm", "MaxPool2D", "ReLU", "Flatten", "Linear",
        "BatchNorm", "ReLU", "Dropout", "Linear"]
    assert best[9].out_features == 256 and best[10].num_features == 256
    for name, lr, epochs in (("cnn", 1e-3, 6), ("cnn-best", 2e-3, 30)):
        settings = settings_of(name)
        optimizer = build_optimizer(settings, built(name))
        assert isinstance(optimizer, Adam) and isinstance(optimizer.schedule, CosineDecay)
        assert optimizer.lr == lr and settings["epochs"] == epochs and settings["batch_size"] == 128
        assert input_shape(settings) == [1, 28, 28]
    assert build_transform(settings_of("cnn")) is None
    affine = build_transform(settings_of("cnn-best"))
    assert isinstance(affine, RandomAffine)
    assert (affine.shift, affine.rotation, affine.scale) == (2.0, 10.0, 0.1)


def test_cnn_elastic_bends_then_moves_each_image():
    bend, move = build_transform(settings_of("cnn-elastic")).transforms
    assert isinstance(bend, ElasticDistortion) and (bend.alpha, bend.grid) == (1.5, 4)
    assert isinstance(move, RandomAffine) and (move.shift, move.rotation, move.scale) == (2.0, 10.0, 0.1)


def test_build_transform_and_architecture_names():
    assert build_transform({"augment": 0}) is None
    shift = build_transform({"augment": 2})
    assert isinstance(shift, RandomShift) and shift.max_shift == 2
    with pytest.raises(ValueError, match="augment must be a number of pixels, 'affine' or 'elastic', got 'wobble'"):
        build_transform({"augment": "wobble"})
    with pytest.raises(ValueError, match="unknown architecture 'rnn'; known: mlp, cnn"):
        build_model({**DEFAULTS, "architecture": "rnn"}, np.random.default_rng(0))


def test_nielsen_eta10_follows_the_original_recipe():
    settings = settings_of("nielsen-eta10")
    assert settings["lr"] == 10.0 and settings["epochs"] == 19 and settings["validation_size"] == 0
    assert settings["report_test_each_epoch"] and settings["evaluate_before"] and settings["batch_size"] == 10
    assert settings_of("full-batch")["print_every"] == 10


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ValueError, match="unknown preset 'x'; known: nielsen, nielsen-eta10"):
        get_preset("x")


def test_random_shift_moves_each_image_by_its_own_offset_and_fills_with_zeros():
    rng = np.random.default_rng(3)
    images = rng.random((50, 28, 28), dtype=np.float32)
    shift = RandomShift(2)
    shifted = shift(images.reshape(50, 784), np.random.default_rng(7)).reshape(50, 28, 28)
    offsets = np.random.default_rng(7).integers(0, 5, size=(2, 50)) - 2  # the draws RandomShift makes
    for n in range(50):
        dy, dx = offsets[:, n]
        expected = np.zeros((32, 32), np.float32)
        expected[2 - dy:30 - dy, 2 - dx:30 - dx] = images[n]
        np.testing.assert_array_equal(shifted[n], expected[2:30, 2:30], err_msg=f"image {n}, shift {dy, dx}")
    assert shifted.dtype == np.float32
    assert len({tuple(offset) for offset in offsets.T}) > 5, "the shifts should vary between images"


def test_schedules_and_bad_names():
    settings = {**DEFAULTS, "schedule": "step", "lr": 1.0, "epochs": 9}
    model = build_model(settings, np.random.default_rng(0))
    optimizer = build_optimizer(settings, model)
    assert [optimizer.schedule(epoch) for epoch in (0, 2.9, 3, 6)] == pytest.approx([1.0, 1.0, 0.1, 0.01])
    with pytest.raises(ValueError, match="unknown schedule 'wavy'"):
        build_optimizer({**settings, "schedule": "wavy"}, model)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        build_optimizer({**settings, "optimizer": "rmsprop"}, model)


def test_lines_preset_reaches_100_percent_with_its_seed(tmp_path, capsys):
    from nnscratch import cli
    assert cli.main(["train", "--preset", "lines", "--quiet", "--out", str(tmp_path / "lines.npz")]) == 0
    out = capsys.readouterr().out
    assert "Before training: test accuracy" in out
    assert "After training: test accuracy 10000 / 10000 (100.00 %)" in out, out


def test_nielsen_preset_reproduces_its_result_on_mnist(tmp_path, capsys):
    from nnscratch import cli
    from nnscratch.datasets import DataError, load_mnist
    try:
        load_mnist(download=False)
    except (DataError, OSError) as error:
        pytest.skip(f"MNIST is not available offline here: {error}")
    assert cli.main(["train", "--preset", "nielsen", "--quiet", "--out", str(tmp_path / "nielsen.npz")]) == 0
    out = capsys.readouterr().out
    epoch_lines = [line for line in out.splitlines() if line.startswith("Epoch")]
    assert len(epoch_lines) == 15 and all(" / 10000 (" in line.split("| test ")[1] for line in epoch_lines)
    test = float(re.search(r"│ Test\s+│ [\d.]+ │ \d+ / 10000\s+│ ([\d.]+) %", out).group(1))
    assert 94.0 <= test <= 95.5, f"Nielsen's network should reach 94-95.5 % on test, got {test} %"


def test_the_fast_recipe_settings_build_what_they_name():
    from nnscratch import Conv2D, OneCycle
    from nnscratch.runs import resolve
    settings = resolve({"architecture": "cnn-small", "hidden": 256, "optimizer": "adam", "lr": 0.01,
                        "betas": "0.7,0.9", "schedule": "one-cycle", "label_smoothing": 0.1, "epochs": 2})
    model = build_model(settings, np.random.default_rng(0))
    convs = [layer for layer in model if isinstance(layer, Conv2D)]
    assert [(conv.out_channels, conv.kernel_size) for conv in convs] == [(24, (5, 5)), (32, (3, 3))]
    assert model.predict_output(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)
    assert [layer for layer in model if isinstance(layer, Linear)][0].in_features == 32 * 5 * 5
    assert build_loss(settings).label_smoothing == 0.1
    optimizer = build_optimizer(settings, model)
    assert (optimizer.beta1, optimizer.beta2) == (0.7, 0.9)
    assert isinstance(optimizer.schedule, OneCycle) and optimizer.schedule.max_lr == 0.01


@pytest.mark.parametrize("given, message", [
    ({"betas": "0.9"}, "betas expects two numbers in [0, 1), got [0.9]"),
    ({"betas": "0.9,1.5"}, "betas expects two numbers in [0, 1), got [0.9, 1.5]"),
    ({"label_smoothing": 1.0}, "label_smoothing must be in [0, 1), got 1.0"),
    ({"label_smoothing": 0.1, "loss": "quadratic"}, "label_smoothing applies to softmax_cross_entropy, not quadratic"),
])
def test_bad_recipe_settings_name_the_setting(given, message):
    from nnscratch.runs import SettingsError, resolve
    with pytest.raises(SettingsError) as raised:
        resolve(given)
    assert str(raised.value) == message
