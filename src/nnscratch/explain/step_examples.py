"""Two networks small enough to show every number of a step: Mazur's 2-2-2 network and math.md's worked example.

``nnscratch step --example mazur`` is Matt Mazur's "A Step by Step Backpropagation Example" (2015): inputs
0.05, 0.10, sigmoid hidden and output units, targets 0.01, 0.99, the squared error E = Σ ½(target − out)² (the
``Quadratic`` cost, with N = 1) and η = 0.5. His page updates the eight weights but not the two biases, so this
example freezes the biases: their gradients are shown, and what SGD would have done with them, but they stay.
His b1 is one number shared by both hidden units, here the bias vector [0.35, 0.35] (and b2 likewise).
``--example worked`` is the 2-3-2 network of docs/math.md's worked example, trained with softmax cross-entropy.
"""
from dataclasses import dataclass

import numpy as np

from ..layers.activations import Sigmoid
from ..layers.linear import Linear
from ..losses import Quadratic, SoftmaxCrossEntropy
from ..network import Sequential


@dataclass
class Example:
    """A model with its one example: the input (batch of 1), the target (a class or a row), the learning rate,
    the loss, the parameters the step leaves alone, and a line on where it comes from."""

    title: str
    model: Sequential
    x: np.ndarray
    target: object
    lr: float
    loss: object
    frozen: tuple
    source: str


def dense_sigmoid_dense(weights, sizes, head):
    """``Linear, Sigmoid, Linear[, Sigmoid]`` in float64 with the given state dict."""
    layers = [Linear(sizes[0], sizes[1], dtype=np.float64), Sigmoid(), Linear(sizes[1], sizes[2], dtype=np.float64)]
    model = Sequential(*layers, *([Sigmoid()] if head else []))
    model.load_state_dict({name: np.array(value, dtype=np.float64) for name, value in weights.items()})
    return model


def mazur():
    """Mazur's network. His h1 = w1 i1 + w2 i2 + b1 and h2 = w3 i1 + w4 i2 + b1, so with one example per row
    (Z = X W + b) his w1..w4 fill W⁽¹⁾ column by column: [[w1, w3], [w2, w4]]; w5..w8 fill W⁽²⁾ the same way."""
    weights = {"0.W": [[0.15, 0.25], [0.20, 0.30]], "0.b": [0.35, 0.35],
               "2.W": [[0.40, 0.50], [0.45, 0.55]], "2.b": [0.60, 0.60]}
    return Example(
        title="Mazur's network: 2-2-2, sigmoid units, squared error",
        model=dense_sigmoid_dense(weights, (2, 2, 2), head=True), x=np.array([[0.05, 0.10]]),
        target=np.array([[0.01, 0.99]]), lr=0.5, loss=Quadratic(), frozen=("0.b", "2.b"),
        source="Matt Mazur, \"A Step by Step Backpropagation Example\" (2015); his weights w1..w8 are W⁽¹⁾ and "
               "W⁽²⁾ read column by column. His page does not update the biases, so they are frozen here.")


def worked():
    """docs/math.md's worked example: ``Linear(2, 3)``, ``Sigmoid``, ``Linear(3, 2)`` producing logits."""
    weights = {"0.W": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], "0.b": [0.1, 0.0, -0.1],
               "2.W": [[0.7, -0.8], [0.2, 0.3], [-0.5, 0.6]], "2.b": [0.0, 0.1]}
    return Example(
        title="math.md's worked example: 2-3-2, sigmoid hidden units, softmax cross-entropy",
        model=dense_sigmoid_dense(weights, (2, 3, 2), head=False), x=np.array([[1.0, 0.5]]), target=0, lr=0.5,
        loss=SoftmaxCrossEntropy(), frozen=(),
        source="docs/math.md, \"A worked example: every number of one training step\"; every parameter is updated.")


EXAMPLES = {"mazur": mazur, "worked": worked}
