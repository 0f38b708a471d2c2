"""nnscratch: neural networks from scratch in NumPy.

The engine (layers, losses, optimizers, schedules, initializers, training, evaluation) imports NumPy and nothing
else; ``fast`` runs its layers faster, and ``fit`` and evaluation use it.
"""
from .averaging import WeightAverage
from .callbacks import Callback, EarlyStopping, MeasureEachEpoch, TrainingState
from .evaluation import Evaluation, evaluate
from .initializers import INITIALIZERS
from .layers import (
                     ACTIVATIONS,
                     LAYERS,
                     AvgPool2D,
                     BatchNorm,
                     Conv2D,
                     Dropout,
                     Flatten,
                     GlobalAvgPool,
                     Layer,
                     LeakyReLU,
                     Linear,
                     MaxPool2D,
                     ReLU,
                     Sigmoid,
                     Softmax,
                     Tanh,
                     register_layer,
)
from .losses import (
                     LOSSES,
                     BinaryCrossEntropy,
                     Loss,
                     MeanSquaredError,
                     ProbabilityCrossEntropy,
                     Quadratic,
                     SoftmaxCrossEntropy,
                     get_loss,
)
from .network import Network, Sequential
from .optimizers import OPTIMIZERS, SGD, Adam, AdamW, Optimizer
from .schedules import Constant, CosineDecay, ExponentialDecay, OneCycle, Schedule, StepDecay, Warmup
from .training import DivergenceError, History, fit, train_step

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "Adam", "AdamW", "BinaryCrossEntropy", "Callback", "Constant", "CosineDecay",
    "DivergenceError", "Dropout", "EarlyStopping", "Evaluation", "ExponentialDecay", "Flatten", "History",
    "INITIALIZERS", "LAYERS", "LOSSES", "Layer", "LeakyReLU", "Linear", "Loss", "MeanSquaredError",
    "MeasureEachEpoch", "Network", "OPTIMIZERS", "OneCycle", "Optimizer", "ProbabilityCrossEntropy", "Quadratic",
    "ReLU", "SGD", "Schedule", "Sequential", "Sigmoid", "Softmax", "SoftmaxCrossEntropy", "StepDecay", "Tanh",
    "TrainingState", "Warmup", "WeightAverage", "evaluate", "fit", "get_loss", "register_layer", "train_step",
    "AvgPool2D", "BatchNorm", "Conv2D", "GlobalAvgPool", "MaxPool2D",
]
