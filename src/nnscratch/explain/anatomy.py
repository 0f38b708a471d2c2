"""Where a classifier's answer is made: the last hidden layer, the output (dense) layer, and what comes after.

Every view of the explanation starts from the same split of the network: the layers that turn the input into
the last hidden layer's activations a, the output layer z = a W + b (the logits), and any final activation
(softmax, sigmoid) that turns z into probabilities without changing which class wins.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import NNScratchError
from ..inspection import split_at_logits
from ..layers.activations import Sigmoid, Softmax, softmax
from ..layers.conv import Conv2D
from ..layers.dropout import Dropout
from ..layers.linear import Linear
from ..network import Sequential


class ExplainError(NNScratchError, ValueError):
    """A network or a request that the explanation cannot serve, with one line saying why."""


@dataclass
class Anatomy:
    """``hidden``: the (name, layer) pairs that compute the last hidden layer; ``output``: the output
    Linear; ``output_name``: its dotted position; ``head``: the activations after the logits."""

    hidden: list
    output: Linear
    output_name: str
    head: list

    @classmethod
    def of(cls, model):
        body, head = split_at_logits(model)
        output_name, output = body[-1]
        if not isinstance(output, Linear):
            raise ExplainError(f"the explanation needs a network whose output layer is dense (Linear); this one "
                               f"ends in {type(output).__name__}")
        if not any(layer.params for _, layer in body[:-1]):
            raise ExplainError(f"the network has no hidden layer (its only dense layer maps {output.in_features} "
                               f"inputs to {output.out_features} outputs); the explanation splits the answer "
                               f"into the hidden units' contributions")
        return cls(body[:-1], output, output_name, head)

    @property
    def last_hidden_name(self):
        """The name of the layer whose output is a (a Dropout at the end, the identity here, is passed over)."""
        names = [name for name, layer in self.hidden if not isinstance(layer, Dropout)]
        return names[-1] if names else self.hidden[-1][0]

    @property
    def num_classes(self):
        return self.output.out_features

    @property
    def hidden_size(self):
        return self.output.in_features

    def hidden_activations(self, x, scale=None):
        """a, the last hidden layer's activations (N, H), in eval mode. ``scale``: an optional
        ``(layer name, unit, factor)`` that multiplies one unit (a channel, for feature maps) of that layer's
        output on the way, as the ablation lab does."""
        layers = [layer for _, layer in self.hidden]
        if scale is None:
            return run_layers(layers, x)
        split = [name for name, _ in self.hidden].index(scale[0]) + 1
        x = run_layers(layers[:split], x).copy()
        x[:, scale[1]] *= x.dtype.type(scale[2])
        return run_layers(layers[split:], x)

    def logits_from_hidden(self, a):
        """z = a W + b."""
        return a @ self.output.params["W"] + self.output.params["b"]

    def probabilities(self, z):
        """The model's class probabilities from the logits, as ``Sequential.predict_proba`` gives them."""
        if not self.head:
            return softmax(np.array(z, dtype=np.float64))
        for _, layer in self.head:
            with layer.mode(training=False):
                z = layer.forward(np.array(z))
        if isinstance(self.head[-1][1], Softmax):
            return np.asarray(z, dtype=np.float64)
        if isinstance(self.head[-1][1], Sigmoid):
            return z / z.sum(axis=1, keepdims=True)
        return softmax(np.array(z, dtype=np.float64))


def run_layers(layers, x):
    """``layers`` one after another on ``x`` in eval mode. Convolutions go the engine's way of answering
    (``Sequential.predict_output``: in batches, in the weights' dtype, with the fast layers lent), several times
    quicker over thousands of digits than the plain layers' forward; dense layers, quicker the plain way, and
    layers without weights keep x's dtype."""
    if any(isinstance(layer, Conv2D) for layer in layers):
        return Sequential(*layers).predict_output(x)
    for layer in layers:
        with layer.mode(training=False):
            x = layer.forward(x)
    return x
