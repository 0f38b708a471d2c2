"""The settings of a training run: every name, what it means, its default, and the one place they are checked.

A run's settings are ``DEFAULTS``, then a preset's, then the caller's (the ``train`` command's flags, the page's
JSON, a sweep's trial). ``resolve`` merges and checks them, turning text into numbers where a value came as
text. A wrong value raises ``SettingsError``, which names the setting; the command line shows it as its flag
(``--batch-size``), the page and sweeps by its name (``batch_size``).
"""
import math
import re

from ..errors import NNScratchError
from ..initializers import INITIALIZERS
from ..layers import ACTIVATIONS
from ..losses import LOSSES
from ..optimizers import OPTIMIZERS
from ..presets import ARCHITECTURES, DEFAULTS, SCHEDULES, get_preset

MONITORS = ("val_accuracy", "val_loss")
MAX_SHIFT = 8  # --augment N shifts by up to N pixels; beyond a third of a 28-pixel digit it only destroys it

# name: (kind, help). Kinds: int, float, str, list (comma-separated sizes), switch (on/off).
SETTINGS = {
    "architecture": ("str", f"{', '.join(ARCHITECTURES)}: dense layers of the layers sizes, or two convolutions "
                            "(cnn: 5x5x32 and 5x5x64; cnn-small: 5x5x24 and 3x3x32), each pooled, then a dense layer "
                            "of hidden units and 10 outputs, on 28x28 images"),
    "layers": ("list", "layer sizes, input first (mlp)"),
    "hidden": ("int", "units of the dense hidden layer (cnn)"),
    "batch_norm": ("switch", "cnn: batch normalisation after each convolution and the dense hidden layer"),
    "activation": ("str", "hidden activation: sigmoid, tanh, relu, leaky_relu"),
    "output": ("str", "output activation: none (logits), softmax, sigmoid or same (as hidden)"),
    "loss": ("str", "softmax_cross_entropy, probability_cross_entropy, quadratic, mse, binary_cross_entropy"),
    "label_smoothing": ("float", "softmax_cross_entropy: the weight spread evenly over all classes, in [0, 1)"),
    "init": ("str", "weight initializer: he, glorot, lecun, normal, uniform, zeros"),
    "bias_init": ("str", "bias initializer"),
    "optimizer": ("str", "sgd, adam or adamw"),
    "lr": ("float", "learning rate"),
    "momentum": ("float", "SGD momentum, in [0, 1)"),
    "betas": ("list", "Adam's two decay rates, like 0.9,0.999, each in [0, 1)"),
    "weight_decay": ("float", "L2 weight decay"),
    "schedule": ("str", f"learning-rate schedule: {', '.join(SCHEDULES)}"),
    "warmup": ("float", "epochs of linear learning-rate warm-up"),
    "dropout": ("float", "dropout probability after each hidden layer, in [0, 1)"),
    "weight_average": ("float", "keep an exponential moving average of the weights with this decay, in [0, 1) "
                                "(like 0.999), and measure, pick and save it instead of the weights; 0: off"),
    "batch_size": ("str", "examples per step, or 'full' for full-batch descent"),
    "epochs": ("int", "passes over the training set (with --resume: the total)"),
    "patience": ("int", "stop after this many epochs without a better monitored metric"),
    "monitor": ("str", f"what picks the best epoch, whose weights are saved: {' or '.join(MONITORS)}"),
    "seed": ("int", "random seed: same seed, same run"),
    "dataset": ("str", "mnist, fashion-mnist, kmnist, emnist-digits, emnist-letters or lines"),
    "data": ("str", "read the data set from this path instead of the cache"),
    "validation_size": ("int", "training examples held out for validation"),
    "train_size": ("int", "train on only the first N examples (lines: how many to draw)"),
    "augment": ("str", f"shift training images randomly by up to N pixels (0 to {MAX_SHIFT}), or 'affine': shift "
                       "by up to 2 pixels, rotate by up to 10 degrees and scale by up to 10 %"),
    "print_every": ("int", "print the epoch line of the first epoch, every Nth and the last"),
    "shuffle": ("switch", "draw a new order of the training examples every epoch"),
    "report_test_each_epoch": ("switch", "measure the test set after every epoch, as Nielsen's network did"),
    "evaluate_before": ("switch", "measure the test set before training too"),
}
HIDDEN_ACTIVATIONS = tuple(name for name in ACTIVATIONS if name != "softmax")
CHOICES = {"activation": HIDDEN_ACTIVATIONS, "output": ("none", "same", *ACTIVATIONS), "loss": tuple(LOSSES),
           "init": tuple(INITIALIZERS), "bias_init": tuple(INITIALIZERS), "optimizer": tuple(OPTIMIZERS),
           "schedule": SCHEDULES, "monitor": MONITORS}
NETWORK_SETTINGS = ("architecture", "layers", "hidden", "batch_norm", "activation", "output", "dropout", "dataset")


class SettingsError(NNScratchError, ValueError):
    """A setting with a value that cannot be used; ``setting`` names it. Messages mark setting names as
    ``{name}``: ``str(error)`` shows them by name (``batch_size``), ``error.as_flags()`` as the command line's flags
    (``--batch-size``)."""

    def __init__(self, message, setting=None):
        super().__init__(message)
        self.template, self.setting = message, setting

    def __str__(self):
        return MARKED.sub(lambda match: match.group(1), self.template)

    def as_flags(self):
        return MARKED.sub(lambda match: flag(match.group(1)), self.template)


MARKED = re.compile(r"\{([a-z_]+)\}")


def flag(name):
    return "--" + name.replace("_", "-")


def resolve(given=None, preset=None):
    """The checked settings of a run: ``DEFAULTS``, then the named preset's, then ``given``. Unknown names and
    bad values raise ``SettingsError``."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(SETTINGS) - {"preset"})
    if unknown:
        raise SettingsError(f"unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; known: "
                            f"{', '.join(SETTINGS)}", unknown[0])
    preset = given.pop("preset", None) or preset
    try:
        preset_settings = get_preset(preset).settings if preset else {}
    except ValueError as error:
        raise SettingsError(str(error), "preset") from None
    settings = check({**DEFAULTS, **preset_settings, **given})
    settings["preset"] = preset
    return settings


def check(settings):
    """Convert the values that came as text and check every range; returns a new dict."""
    settings = dict(settings)
    for name, (kind, _) in SETTINGS.items():
        if kind in ("int", "float") and settings[name] is not None:
            settings[name] = number(name, settings[name], int if kind == "int" else float)
        elif kind == "switch":
            settings[name] = switch(name, settings[name])
    if settings["architecture"] not in ARCHITECTURES:
        raise SettingsError(f"{{architecture}} must be one of {', '.join(ARCHITECTURES)}, got "
                            f"{settings['architecture']!r}", "architecture")
    if settings["architecture"] != "mlp":
        if settings["layers"] not in (None, DEFAULTS["layers"]):
            raise SettingsError("{layers} sets the sizes of an mlp; the cnn's are fixed but for {hidden}", "layers")
        settings["layers"] = None
    else:
        settings["layers"] = parse_layers(DEFAULTS["layers"] if settings["layers"] is None else settings["layers"])
    settings["augment"] = parse_augment(settings["augment"])
    settings["betas"] = parse_betas(settings["betas"])
    settings["batch_size"] = parse_batch_size(settings["batch_size"])
    for name, choices in CHOICES.items():
        if settings[name] not in choices:
            raise SettingsError(f"{{{name}}} must be one of {', '.join(choices)}, got {settings[name]!r}", name)
    for name, ok, rule in [
            ("lr", settings["lr"] > 0 and math.isfinite(settings["lr"]), "must be positive"),
            ("epochs", settings["epochs"] >= 1, "must be at least 1"),
            ("momentum", 0 <= settings["momentum"] < 1, "must be in [0, 1)"),
            ("weight_decay", settings["weight_decay"] >= 0, "must be >= 0"),
            ("dropout", 0 <= settings["dropout"] < 1, "must be in [0, 1)"),
            ("label_smoothing", 0 <= settings["label_smoothing"] < 1, "must be in [0, 1)"),
            ("weight_average", 0 <= settings["weight_average"] < 1, "must be in [0, 1)"),
            ("hidden", settings["hidden"] >= 1, "must be at least 1"),
            ("print_every", settings["print_every"] >= 1, "must be at least 1"),
            ("warmup", settings["warmup"] >= 0, "must be >= 0"),
            ("seed", settings["seed"] >= 0, "must be >= 0"),
            ("validation_size", settings["validation_size"] >= 0, "must be >= 0"),
            ("train_size", settings["train_size"] is None or settings["train_size"] >= 1, "must be at least 1"),
            ("patience", settings["patience"] is None or settings["patience"] >= 1, "must be at least 1")]:
        if not ok:
            raise SettingsError(f"{{{name}}} {rule}, got {settings[name]}", name)
    if settings["patience"] is not None and not settings["validation_size"]:
        raise SettingsError("{patience} needs a validation set: {validation_size} must be > 0", "patience")
    if settings["label_smoothing"] and settings["loss"] != "softmax_cross_entropy":
        raise SettingsError(f"{{label_smoothing}} applies to softmax_cross_entropy, not {settings['loss']}",
                            "label_smoothing")
    return settings


def number(name, value, kind):
    """``value`` as an int or a finite float; text is parsed, and 1.5 is not an int."""
    if isinstance(value, bool):
        raise SettingsError(f"{{{name}}} expects a number, got {value!r}", name)
    try:
        parsed = kind(value) if isinstance(value, str) else value
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{{{name}}} expects {what}, got {value!r}", name) from None
    if kind is int and (not isinstance(parsed, (int, float)) or parsed != int(parsed)):
        raise SettingsError(f"{{{name}}} expects a whole number, got {value!r}", name)
    if not isinstance(parsed, (int, float)) or (kind is float and not math.isfinite(parsed)):
        raise SettingsError(f"{{{name}}} expects a finite number, got {value!r}", name)
    return kind(parsed)


def switch(name, value):
    if isinstance(value, bool):
        return value
    raise SettingsError(f"{{{name}}} is on or off (true or false), got {value!r}", name)


def parse_layers(layers):
    if isinstance(layers, str):
        try:
            layers = [int(size) for size in layers.split(",")]
        except ValueError:
            raise SettingsError(f"{{layers}} expects sizes like 784,100,10, got {layers!r}", "layers") from None
    if (not isinstance(layers, (list, tuple)) or len(layers) < 2
            or not all(isinstance(size, int) and not isinstance(size, bool) and size >= 1 for size in layers)):
        raise SettingsError(f"{{layers}} needs at least two positive sizes, got {layers!r}", "layers")
    return list(layers)


def parse_betas(betas):
    """Adam's (β1, β2) from "0.9,0.999" or a pair of numbers."""
    if isinstance(betas, str):
        betas = betas.split(",")
    try:
        betas = [float(beta) for beta in betas]
    except (TypeError, ValueError):
        raise SettingsError(f"{{betas}} expects two numbers like 0.9,0.999, got {betas!r}", "betas") from None
    if len(betas) != 2 or not all(0 <= beta < 1 for beta in betas):
        raise SettingsError(f"{{betas}} expects two numbers in [0, 1), got {betas!r}", "betas")
    return betas


def parse_augment(augment):
    """0 (none), a number of pixels to shift by, or 'affine'."""
    if augment == "affine":
        return augment
    try:
        pixels = number("augment", augment, int)
    except SettingsError:
        raise SettingsError(f"{{augment}} expects a number of pixels or 'affine', got {augment!r}", "augment") from None
    if not 0 <= pixels <= MAX_SHIFT:
        raise SettingsError(f"{{augment}} must be 0 to {MAX_SHIFT} pixels (or 'affine'), got {pixels}", "augment")
    return pixels


def parse_batch_size(batch_size):
    if batch_size == "full":
        return batch_size
    try:
        batch_size = number("batch_size", batch_size, int)
    except SettingsError:
        raise SettingsError(f"{{batch_size}} expects a number or 'full', got {batch_size!r}", "batch_size") from None
    if batch_size < 1:
        raise SettingsError(f"{{batch_size}} must be at least 1, got {batch_size}", "batch_size")
    return batch_size
