"""The track: the exercises in order, from a sigmoid to batch normalisation, and what each one checks with.

Each exercise names the engine class the learner subclasses, what it teaches, the section of docs/math.md it
rests on, how long it takes and where its model answer lives. ``ROLES`` says, for every engine class that an
exercise may subclass, how to build one for the unit check, and which small network it plays its part in.
"""
from dataclasses import dataclass

import numpy as np

import nnscratch as nn


@dataclass(frozen=True)
class Exercise:
    number: int
    name: str
    part: str
    title: str
    reference: str          # the engine class the learner's class subclasses
    teaches: str
    math: str               # the section of docs/math.md it rests on
    minutes: int
    answer: str             # where the model answer is

    @property
    def filename(self):
        return f"my_{self.name.replace('-', '_')}.py"


PARTS = {
    "dense": "Part 1: a dense network, from the inside out (docs/notebooks/exercises-1-dense.ipynb)",
    "optimizers": "Part 2: the optimizers (docs/notebooks/exercises-2-optimizers.ipynb)",
    "convolution": "Part 3: a convolutional network (docs/notebooks/exercises-3-convolution.ipynb)",
    "regularisation": "Part 4: batch normalisation and dropout (docs/notebooks/exercises-4-regularisation.ipynb)",
}

TRACK = [
    Exercise(1, "sigmoid", "dense", "the sigmoid layer", "Sigmoid",
             "A first forward and backward pass: the local derivative σ(1 - σ) times the gradient that arrives.",
             "Element-wise activations", 10, "src/nnscratch/layers/activations.py: Sigmoid"),
    Exercise(2, "linear", "dense", "the linear (dense) layer", "Linear",
             "The three gradients of y = xW + b, and why the sum over the batch lives inside xᵀ · dL/dy.",
             "Dense layer", 20, "src/nnscratch/layers/linear.py: Linear"),
    Exercise(3, "softmax-cross-entropy", "dense", "softmax with cross-entropy", "SoftmaxCrossEntropy",
             "A loss and its gradient: why softmax and cross-entropy together give (p - y) / N.",
             "Softmax with cross-entropy, and why the gradient is $p - y$", 20,
             "src/nnscratch/losses.py: SoftmaxCrossEntropy"),
    Exercise(4, "relu", "dense", "the ReLU layer", "ReLU",
             "A gradient that is a mask: zero wherever the unit was off.", "Element-wise activations", 10,
             "src/nnscratch/layers/activations.py: ReLU"),
    Exercise(5, "two-layer", "dense", "the whole backward pass of a two-layer network", "Network",
             "The four equations of backpropagation, written out for a network in one method.",
             "The four equations of backpropagation, in batch form", 30, "src/nnscratch/network.py: Sequential"),
    Exercise(6, "sgd", "optimizers", "SGD with momentum", "SGD",
             "An update rule with state: the velocity, kept per parameter and changed in place.", "Update rules",
             15, "src/nnscratch/optimizers.py: SGD.update"),
    Exercise(7, "adam", "optimizers", "Adam", "Adam",
             "Two moving averages and their correction for starting at zero.", "Update rules", 20,
             "src/nnscratch/optimizers.py: Adam.update"),
    Exercise(8, "max-pooling", "convolution", "max-pooling", "MaxPool2D",
             "Windows of an image as one array, and a gradient that goes only where the maximum was.",
             "Convolution, pooling and batch normalisation", 30, "src/nnscratch/layers/pooling.py: MaxPool2D"),
    Exercise(9, "convolution", "convolution", "a convolution by im2col", "Conv2D",
             "A convolution as one matrix product, and its backward pass as two more and a fold.",
             "Convolution, pooling and batch normalisation", 45, "src/nnscratch/layers/conv.py: Conv2D"),
    Exercise(10, "batch-normalisation", "regularisation", "batch normalisation", "BatchNorm",
             "A layer whose examples are coupled: the gradient through the batch's mean and variance.",
             "Convolution, pooling and batch normalisation", 40, "src/nnscratch/layers/batchnorm.py: BatchNorm"),
    Exercise(11, "dropout", "regularisation", "dropout", "Dropout",
             "Randomness in a layer, training and eval mode, and the 1 / (1 - p) that keeps the mean.",
             "Dropout and Flatten", 15, "src/nnscratch/layers/dropout.py: Dropout"),
]
BY_NAME = {exercise.name: exercise for exercise in TRACK}


@dataclass(frozen=True)
class Role:
    """How an engine class is checked: ``kind`` (layer, loss or optimizer), ``build(cls)`` an instance for the
    unit check (or the optimizer's options), ``x`` the input shape of the unit check, and ``network`` the name
    of the small MNIST network it takes its place in."""
    kind: str
    build: object
    x: tuple = None
    network: str = "dense"


ROLES = {
    "Linear": Role("layer", lambda cls: cls(5, 5, init="glorot", bias_init="normal", rng=1), (4, 5), "linear"),
    "Sigmoid": Role("layer", lambda cls: cls(), (4, 5), "activation"),
    "Tanh": Role("layer", lambda cls: cls(), (4, 5), "activation"),
    "ReLU": Role("layer", lambda cls: cls(), (4, 5), "activation"),
    "LeakyReLU": Role("layer", lambda cls: cls(0.1), (4, 5), "activation"),
    "Softmax": Role("layer", lambda cls: cls(), (4, 5), "softmax"),
    "Network": Role("layer", lambda cls: cls([5, 4, 3], activation="sigmoid", output=None, rng=1), (4, 5),
                    "two-layer"),
    "Conv2D": Role("layer", lambda cls: cls(2, 3, 3, padding=1, bias_init="normal", rng=1), (3, 2, 5, 5), "conv"),
    "MaxPool2D": Role("layer", lambda cls: cls(2), (3, 2, 4, 4), "pool"),
    "BatchNorm": Role("layer", lambda cls: cls(4), (6, 4), "batchnorm"),
    "Dropout": Role("layer", lambda cls: cls(0.3, rng=1), (4, 6), "dropout"),
    "SoftmaxCrossEntropy": Role("loss", lambda cls: cls(), (4, 5), "loss"),
    "SGD": Role("optimizer", lambda cls: {"lr": 0.1, "momentum": 0.9}, None, "optimizer"),
    "Adam": Role("optimizer", lambda cls: {"lr": 0.01}, None, "optimizer"),
}
ENGINE_CLASSES = {name: getattr(nn, name) for name in ROLES}


def engine_class_of(cls):
    """The engine class that ``cls`` subclasses (the nearest one the track knows), or None."""
    for base in cls.__mro__[1:]:
        if ENGINE_CLASSES.get(base.__name__) is base:
            return base
    return None


def setup(network, chosen, seed=0, hidden=32):
    """``(model, loss, optimizer factory, image shape)`` of a small MNIST network; ``chosen`` maps an engine
    class name to the class that takes its place (the learner's, or the engine's own)."""
    def pick(name):
        return chosen.get(name, ENGINE_CLASSES[name])

    rng = np.random.default_rng(seed)
    Linear, activation = pick("Linear"), pick(next((name for name in ("ReLU", "Sigmoid", "Tanh", "LeakyReLU")
                                                    if name in chosen), "ReLU"))
    flat = (784,)
    if network == "two-layer":
        model = pick("Network")([784, hidden, 10], activation="sigmoid", output=None, rng=rng)
    elif network in ("conv", "pool"):
        channels = 4 if hidden <= 32 else 8
        model = nn.Sequential(pick("Conv2D")(1, channels, 3, padding=1, rng=rng), activation(),
                              pick("MaxPool2D")(2), nn.Flatten(), Linear(channels * 14 * 14, 10, rng=rng))
        flat = (1, 28, 28)
    else:
        middle = [pick("BatchNorm")(hidden)] if network == "batchnorm" or "BatchNorm" in chosen else []
        middle.append(activation())
        if network == "dropout" or "Dropout" in chosen:
            middle.append(pick("Dropout")(0.2, rng=np.random.default_rng(seed + 1)))
        model = nn.Sequential(Linear(784, hidden, rng=rng), *middle, Linear(hidden, 10, rng=rng))
    loss = pick("SoftmaxCrossEntropy")()
    if network == "softmax":
        model.layers.append(pick("Softmax")())
        loss = nn.ProbabilityCrossEntropy()
    if "Adam" in chosen:
        make_optimizer = lambda model: pick("Adam")(model, lr=1e-3)  # noqa: E731 - one line each
    elif "SGD" in chosen:
        make_optimizer = lambda model: pick("SGD")(model, lr=0.05, momentum=0.9)  # noqa: E731
    else:
        make_optimizer = lambda model: nn.SGD(model, lr=0.05, momentum=0.9)  # noqa: E731
    return model, loss, make_optimizer, flat


def described(network, hidden=32):
    return {"two-layer": f"784-{hidden}-10 sigmoid network",
            "conv": "convolutional network (3×3 convolution, ReLU, 2×2 max-pooling, dense)",
            "pool": "convolutional network (3×3 convolution, ReLU, 2×2 max-pooling, dense)",
            "batchnorm": f"784-{hidden}-10 network with batch normalisation",
            "dropout": f"784-{hidden}-10 network with dropout"}.get(network, f"784-{hidden}-10 network")
