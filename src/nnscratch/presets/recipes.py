"""Presets: named training recipes, from the classic from-scratch networks to our best convolutional network.

A preset is data: a set of training settings (the same names as the ``nnscratch train`` flags, which override
them), together with what it reproduces and the accuracy to expect. The settings it leaves out take the defaults of
the table in ``runs.table``; ``runs.build`` turns settings into the network, loss, optimizer and augmentation
(``RandomShift`` for ``mlp-large``, ``RandomAffine`` for ``cnn-best``). The presets that go wrong on purpose, for
the doctor's diagnoses, are the entries of ``broken.BROKEN``, registered here beside the others.
"""
from dataclasses import dataclass, field

from .broken import BROKEN


@dataclass(frozen=True)
class Preset:
    """A named recipe: its settings (overriding the table's defaults), what it reproduces and what it reaches."""

    name: str
    description: str
    reproduces: str
    expected: str
    measured: str
    settings: dict = field(default_factory=dict)


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
           ">= 99.0 % in under 30 s", "99.19 % mean of seeds 0-9 (99.08-99.28 %); the whole command 19-25 s on two "
           "cores (AMD EPYC, OpenBLAS SkylakeX kernels), as long as the same job in PyTorch; 99.17 % "
           "(99.10-99.27 %) in 19-22 s, 0.69 of PyTorch's time, under OpenBLAS's Haswell kernels (AMD EPYC, Zen 3)",
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
    Preset("cnn-elastic", "cnn-best's network and optimizer trained on all 60,000 training images for 40 "
           "epochs (the last epoch's weights: nothing chosen on any data), each image first bent by an elastic "
           "distortion (a 4x4 grid of random moves of up to 1.5 pixels, interpolated), then shifted, rotated and "
           "scaled as cnn-best's",
           "ttdoucet/mnist: 99.70-99.79 % single networks (mean 99.74 %) with elastic distortions; Simard, "
           "Steinkraus and Platt (2003): 99.60 % for a plain CNN with elastic distortions",
           ">= 99.70 % in <= 15 min", "99.56 % mean of seeds 0-4 (99.50-99.57 %), five together 99.68 %; "
           "12.5-15.5 min each on two cores (AMD EPYC, shared with other work; 11 min at its quiet 16.5 s an epoch)",
           {"architecture": "cnn", "layers": None, "hidden": 256, "dropout": 0.25, "batch_norm": True,
            "optimizer": "adam", "lr": 2e-3, "schedule": "cosine", "batch_size": 128, "epochs": 40,
            "validation_size": 0, "augment": "elastic", "label_smoothing": 0.1}),
]}
PRESETS.update((entry["name"], Preset(**entry)) for entry in BROKEN)  # the presets that go wrong on purpose


def get_preset(name):
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
