"""Layers: each one a forward pass and its hand-written backward pass."""
from .activations import ACTIVATIONS, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh, log_softmax, softmax
from .base import LAYERS, Layer, register_layer
from .batchnorm import BatchNorm
from .conv import Conv2D
from .dropout import Dropout
from .linear import Linear
from .pooling import AvgPool2D, GlobalAvgPool, MaxPool2D
from .reshape import Flatten

__all__ = [
    "ACTIVATIONS", "LAYERS", "Dropout", "Flatten", "Layer", "LeakyReLU", "Linear", "ReLU", "Sigmoid", "Softmax",
    "Tanh", "log_softmax", "register_layer", "softmax",
    "AvgPool2D", "BatchNorm", "Conv2D", "GlobalAvgPool", "MaxPool2D",
]
