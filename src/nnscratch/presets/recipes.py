"""Presets: named training recipes, from the classic from-scratch networks to our best convolutional network.

A preset is a set of training settings (the same names as the ``nnscratch train`` flags, which override them),
together with what it reproduces and the accuracy to expect. ``build_model``, ``build_loss``,
``build_optimizer`` and ``build_transform`` turn settings into the objects that ``fit`` trains with; the data
augmentations (``RandomShift`` for ``mlp-large``, ``RandomAffine`` for ``cnn-best``) come from ``augment``.
"""
from dataclasses import dataclass, field

import numpy as np

from ..images.augment import RandomAffine, RandomShift
from ..layers import BatchNorm, Conv2D, Dropout, Flatten, Linear, MaxPool2D, ReLU
from ..losses import get_loss
from ..network import Network, Sequential
from ..optimizers import OPTIMIZERS
from ..schedules import Constant, CosineDecay, ExponentialDecay, OneCycle, StepDecay, Warmup

# Every setting and its default: what `nnscratch train` uses when neither a preset nor a flag says otherwise.
DEFAULTS = {
    "layers": [784, 100, 10], "activation": "relu", "output": "none", "loss": "softmax_cross_entropy",
    "init": "he", "bias_init": "zeros", "optimizer": "sgd", "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0,
    "schedule": "constant", "warmup": 0.0, "dropout": 0.0, "batch_size": 32, "epochs": 10, "shuffle": True,
    "patience": None, "seed": 0, "dataset": "mnist", "data": None, "validation_size": 10000,
    "train_size": None, "augment": 0, "report_test_each_epoch": False, "evaluate_before": False,
    "architecture": "mlp", "hidden": 128, "batch_norm": False, "print_every": 1, "monitor": "val_accuracy",
    "label_smoothing": 0.0, "betas": [0.9, 0.999], "weight_average": 0.0,
}

SCHEDULES = ("constant", "cosine", "one-cycle", "step", "exponential")
# The convolutional networks: (output channels, kernel size) of each convolution; each is followed by a 2×2
# max-pool and a ReLU, and the last by a dense hidden layer of `hidden` units and 10 outputs.
CONVOLUTIONS = {"cnn": [(32, 5), (64, 5)], "cnn-small": [(24, 5), (32, 3)]}
ARCHITECTURES = ("mlp", *CONVOLUTIONS)
CNN_INPUT_SHAPE = [1, 28, 28]
CNN_CLASSES = 10
AFFINE = {"shift": 2.0, "rotation": 10.0, "scale": 0.1}  # what --augment affine draws from


@dataclass(frozen=True)
class Preset:
    """A named recipe: its settings (overriding ``DEFAULTS``), what it reproduces and what it reaches."""

    name: str
    description: str
    reproduces: str
    expected: str
    measured: str
    settings: dict = field(default_factory=dict)

    def full_settings(self):
        return {**DEFAULTS, **self.settings}

    def build(self, rng=None):
        """The untrained network of this preset."""
        settings = self.full_settings()
        return build_model(settings, np.random.default_rng(settings["seed"] if rng is None else rng))


NIELSEN = {"layers": [784, 30, 10], "activation": "sigmoid", "output": "same", "loss": "quadratic",
           "init": "normal", "bias_init": "normal", "optimizer": "sgd", "batch_size": 10}

PRESETS = {preset.name: preset for preset in [
    Preset("nielsen", "784-30-10 sigmoid, quadratic cost, N(0,1) init, SGD eta 3.0, mini-batch 10, 15 epochs",
           "ibpme/NeuralNetworkFromScratch (Nielsen's network): 94.21 % after 15 epochs, ~89.9 % after one",
           "94-95.5 %",
           "94.52 % (epoch 13 of 15, chosen by validation), 5 s",
           {**NIELSEN, "lr": 3.0, "epochs": 15, "report_test_each_epoch": True}),
    Preset("nielsen-eta10", "the same network with eta 10, trained on all 60,000 training images (no "
           "validation split) for 19 epochs, with the test accuracy before training and after every epoch",
           "peterw-github/NeuralNetwork_FromScratch: \"about 95 %\" after 10 epochs (its main.py runs 19)",
           "94-95 %",
           "94.56 % after 19 epochs (seed 0), 8 s",
           {**NIELSEN, "lr": 10.0, "epochs": 19, "validation_size": 0, "report_test_each_epoch": True,
            "evaluate_before": True}),
    Preset("full-batch", "784-100-10 ReLU, softmax + cross-entropy, U(-0.5, 0.5) init, full-batch descent, "
           "lr 0.2, 1000 iterations",
           "Outdatedcandy92/NeuralNetwork: ~91 % after 1000 iterations",
           ">= 91 %", "93.39 %, 2.5 min",
           {"layers": [784, 100, 10], "init": "uniform", "bias_init": "uniform", "lr": 0.2,
            "batch_size": "full", "epochs": 1000, "shuffle": False, "print_every": 10}),
    Preset("per-sample", "784-16-10 ReLU, softmax + cross-entropy, N(0,1) init, per-sample SGD at lr 0.01, "
           "20 epochs",
           "ZimengXiong/NeuralNetworkFromScratch (MNISTDigitRecog): its weights score 92.44 %",
           ">= 92.4 %", "93.15 % (epoch 18 of 20 by validation), 62 s",
           {"layers": [784, 16, 10], "init": "normal", "bias_init": "normal", "lr": 0.01, "batch_size": 1,
            "epochs": 20}),
    Preset("lines", "256-16-2 ReLU, softmax + cross-entropy on 16x16 line images, 1500 per-sample steps at "
           "lr 0.01; prints the accuracy before and after training",
           "ZimengXiong/NeuralNetworkFromScratch (simpleNN): 100 % on 10,000 fresh images",
           "100 %", "100.00 % (10000 / 10000), under 1 s",
           {"layers": [256, 16, 2], "init": "normal", "bias_init": "normal", "lr": 0.01, "batch_size": 1,
            "epochs": 1, "dataset": "lines", "train_size": 1500, "validation_size": 1000,
            "evaluate_before": True}),
    Preset("dense-16", "Linear(784, 16), ReLU, Linear(16, 10), He init, batch 100, lr 0.01, 10 epochs, "
           "no shuffling",
           "raj-pulapakura/nn-from-scratch (no figure given; its README challenges you to pass 95 %)",
           "~90 %", "91.59 %, 1 s",
           {"layers": [784, 16, 10], "lr": 0.01, "batch_size": 100, "epochs": 10, "shuffle": False}),
    Preset("mlp", "784-1024-512-10 ReLU, dropout 0.2, Adam lr 1e-3 with cosine decay, batch 128, 10 epochs",
           "ours: the best MLP in about a minute", ">= 98.0 %", "98.47 %, 51 s",
           {"layers": [784, 1024, 512, 10], "optimizer": "adam", "lr": 1e-3, "schedule": "cosine",
            "dropout": 0.2, "batch_size": 128, "epochs": 10}),
    Preset("mlp-large", "784-1024-1024-10 ReLU, dropout 0.2, random shifts of up to 2 pixels, Adam lr 1e-3 "
           "with cosine decay, batch 128, 30 epochs",
           "ours: the best MLP in under ten minutes", ">= 98.5 %", "99.15 % (epoch 26 of 30 by validation), 3.6 min",
           {"layers": [784, 1024, 1024, 10], "optimizer": "adam", "lr": 1e-3, "schedule": "cosine",
            "dropout": 0.2, "augment": 2, "batch_size": 128, "epochs": 30}),
    Preset("cnn", "conv 5x5x32, max-pool 2, ReLU, conv 5x5x64, max-pool 2, ReLU, dense 128, ReLU, dropout 0.25, "
           "dense 10; Adam lr 1e-3 with cosine decay, batch 128, 6 epochs",
           "ours: a small convolutional network", ">= 99.2 %", "99.20 % (epoch 5 of 6 by validation), 2.6 min",
           {"architecture": "cnn", "layers": None, "hidden": 128, "dropout": 0.25, "optimizer": "adam",
            "lr": 1e-3, "schedule": "cosine", "batch_size": 128, "epochs": 6}),
    Preset("cnn-fast", "conv 5x5x24, max-pool 2, ReLU, conv 3x3x32, max-pool 2, ReLU, dense 256, ReLU, dense 10; "
           "Adam lr 0.01 with betas 0.7 and 0.9, one-cycle schedule, batch 256, two epochs on all 60,000 training "
           "images",
           "tuomaso/train_mnist_fast: 99.04 % (mean of 30 seeds) in one epoch, 0.76 s on a GTX 1660 Ti",
           ">= 99.0 % in under 30 s", "99.19 % mean of seeds 0-4 (99.10-99.27 %), 13-15 s",
           {"architecture": "cnn-small", "layers": None, "hidden": 256, "optimizer": "adam", "lr": 0.01,
            "betas": [0.7, 0.9], "schedule": "one-cycle", "batch_size": 256, "epochs": 2, "validation_size": 0}),
    Preset("cnn-best", "the cnn with dense 256 and batch norm after each conv and the dense layer; random "
           "shifts (up to 2 pixels), rotations (up to 10 degrees) and scalings (up to 10 %); softmax cross-entropy "
           "with label smoothing 0.1; Adam lr "
           "2e-3 with cosine decay, batch 128, 30 epochs",
           "ours: the best single network here (Nielsen's best single network: 99.60 %)", ">= 99.5 %",
           "99.62 % mean of seeds 0-4 (99.59-99.66 %; epochs 15-27 of 30 by validation), 4.7-5.0 min",
           {"architecture": "cnn", "layers": None, "hidden": 256, "dropout": 0.25, "batch_norm": True,
            "optimizer": "adam", "lr": 2e-3, "schedule": "cosine", "batch_size": 128, "epochs": 30,
            "augment": "affine", "label_smoothing": 0.1}),
]}


def get_preset(name):
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None


def build_model(settings, rng):
    """The network ``settings["architecture"]`` names: ``mlp`` (``build_mlp``) or ``cnn`` (``build_cnn``)."""
    architecture = settings.get("architecture", "mlp")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")
    return build_cnn(settings, rng) if is_cnn(settings) else build_mlp(settings, rng)


def is_cnn(settings):
    """Whether ``settings`` describe one of the convolutional networks."""
    return settings.get("architecture", "mlp") in CONVOLUTIONS


def input_shape(settings):
    """The shape of one example as the network of ``settings`` takes it: [1, 28, 28] or [inputs]."""
    if is_cnn(settings):
        return list(CNN_INPUT_SHAPE)
    return [int(settings["layers"][0])]


def build_mlp(settings, rng):
    """``Network``: Linear layers of ``settings["layers"]`` sizes, the activation after each, dropout after hidden
    ones."""
    output = None if settings["output"] in (None, "none") else settings["output"]
    return Network(settings["layers"], activation=settings["activation"], output=output, init=settings["init"],
                   bias_init=settings["bias_init"], dropout=float(settings["dropout"]), rng=rng)


def build_cnn(settings, rng):
    """The convolutions of ``CONVOLUTIONS[architecture]`` (``cnn``: 5×5×32 and 5×5×64), each followed by a 2×2
    max-pool and a ReLU, then a dense layer of ``hidden`` units, ReLU, dropout and 10 outputs, on (N, 1, 28, 28)
    images; with ``batch_norm``, a BatchNorm after each convolution and the hidden dense layer.

    Pooling before the ReLU gives the same result as after it (both are monotone) on a quarter of the values.
    """
    hidden, dropout = int(settings["hidden"]), float(settings["dropout"])
    norm = (lambda features: [BatchNorm(features)]) if settings["batch_norm"] else (lambda features: [])
    layers, channels, side = [], CNN_INPUT_SHAPE[0], CNN_INPUT_SHAPE[1]
    for out_channels, kernel in CONVOLUTIONS[settings["architecture"]]:
        layers += [Conv2D(channels, out_channels, kernel, rng=rng), *norm(out_channels), MaxPool2D(2), ReLU()]
        channels, side = out_channels, (side - kernel + 1) // 2
    layers += [Flatten(), Linear(channels * side * side, hidden, rng=rng), *norm(hidden), ReLU()]
    if dropout:
        layers.append(Dropout(dropout, rng=rng))
    layers.append(Linear(hidden, CNN_CLASSES, rng=rng))
    return Sequential(layers)


def build_transform(settings):
    """The augmentation of ``settings["augment"]``: None for 0, ``RandomShift(N)`` for N pixels, or
    ``RandomAffine`` for "affine" (shifts up to 2 pixels, rotations up to 10 degrees, scalings up to 10 %)."""
    augment = settings["augment"]
    if augment == "affine":
        return RandomAffine(**AFFINE)
    if isinstance(augment, str) or int(augment) < 0:
        raise ValueError(f"augment must be a number of pixels or 'affine', got {augment!r}")
    return RandomShift(int(augment)) if int(augment) else None


def build_loss(settings):
    """The loss named in ``settings``; softmax cross-entropy with its ``label_smoothing``."""
    smoothing = float(settings.get("label_smoothing") or 0.0)
    if smoothing and settings["loss"] != "softmax_cross_entropy":
        raise ValueError(f"label smoothing applies to softmax_cross_entropy, not {settings['loss']}")
    return get_loss(settings["loss"], **({"label_smoothing": smoothing} if smoothing else {}))


def build_schedule(settings):
    """The learning rate over epochs: constant, cosine (to zero at the last epoch), step (x0.1 every third of
    the run) or exponential (x0.9 an epoch), optionally after a linear warm-up."""
    lr, epochs, name = float(settings["lr"]), int(settings["epochs"]), settings["schedule"]
    if not lr > 0:
        raise ValueError(f"the learning rate must be positive, got {lr}")
    schedules = {"constant": lambda: Constant(lr), "cosine": lambda: CosineDecay(lr, epochs),
                 "one-cycle": lambda: OneCycle(lr, epochs),
                 "step": lambda: StepDecay(lr, max(1, epochs // 3), 0.1),
                 "exponential": lambda: ExponentialDecay(lr, 0.9)}
    if name not in schedules:
        raise ValueError(f"unknown schedule {name!r}; known: {', '.join(SCHEDULES)}")
    schedule = schedules[name]()
    return Warmup(schedule, settings["warmup"]) if settings["warmup"] else schedule


def build_optimizer(settings, model):
    name = settings["optimizer"]
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
    schedule, weight_decay = build_schedule(settings), float(settings["weight_decay"])
    if name == "sgd":
        return OPTIMIZERS[name](model, schedule, momentum=float(settings["momentum"]), weight_decay=weight_decay)
    return OPTIMIZERS[name](model, schedule, betas=tuple(settings.get("betas") or (0.9, 0.999)),
                            weight_decay=weight_decay)
