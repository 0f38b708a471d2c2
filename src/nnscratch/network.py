"""Networks as layers made of layers.

``Sequential(*layers)`` applies its layers in order and backpropagates through them in reverse; being a
``Layer`` itself, it nests. ``Network([784, 30, 10], activation="sigmoid")`` builds the network of the classic
from-scratch projects from its sizes: a ``Sequential`` of ``Linear`` layers with an activation after each.
"""
import numpy as np

from .errors import ModelError
from .evaluation import EVAL_BATCH_SIZE, outputs
from .initializers import as_generator
from .layers.activations import ACTIVATIONS
from .layers.activations import softmax as row_softmax
from .layers.base import Layer, register_layer
from .layers.dropout import Dropout
from .layers.linear import Linear

__all__ = ["EVAL_BATCH_SIZE", "Network", "Sequential", "last_layer", "linear_stack"]


@register_layer
class Sequential(Layer):
    """y = f_n(... f_2(f_1(x))); dL/dx = J_1ᵀ(J_2ᵀ(... J_nᵀ dL/dy)), one layer's backward at a time."""

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):   # Sequential([a, b]) is Sequential(a, b)
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("Sequential needs at least one layer: a network without layers computes nothing")
        for position, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: item {position} is a {type(layer).__name__}, not a Layer")
        self.layers = list(layers)

    @classmethod
    def from_arguments(cls, arguments, registry, initialize):
        """A ``Sequential`` (or a subclass such as ``Network``) of the layers that ``arguments["layers"]``
        describes, each rebuilt by ``Layer.from_config``."""
        children = arguments.get("layers")
        if not isinstance(children, list) or not children:
            raise ModelError(f"{cls.__name__} needs a list of layers in its config, and at least one layer")
        return cls.from_layers([Layer.from_config(child, registry, initialize) for child in children])

    @classmethod
    def from_layers(cls, layers):
        """A ``cls`` holding ``layers``: ``Sequential(*layers)`` itself, and for a subclass whose constructor
        takes other arguments (``Network`` takes sizes) the same network rebuilt, from a model file say."""
        model = cls.__new__(cls)
        Sequential.__init__(model, *layers)
        return model

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_out):
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out

    def train(self, mode=True):
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

    def slots(self):
        return [(f"{position}.{name}", owner, key)
                for position, layer in enumerate(self.layers)
                for name, owner, key in layer.slots()]

    def named_buffers(self):
        return {f"{position}.{name}": array
                for position, layer in enumerate(self.layers)
                for name, array in layer.named_buffers().items()}

    def astype(self, dtype):
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def predict_proba(self, x, batch_size=EVAL_BATCH_SIZE):
        """Class probabilities in eval mode: the softmax of the output when the network ends in raw scores
        (logits), the output as it is when it ends in a ``Softmax`` or ``Sigmoid`` layer.

        Any other final activation (ReLU, Tanh, ...) gives no probabilities: that is a ``ValueError``.
        """
        last = last_layer(self)
        if isinstance(last, (ACTIVATIONS["softmax"], ACTIVATIONS["sigmoid"])):
            return self.predict_output(x, batch_size)
        if isinstance(last, tuple(ACTIVATIONS.values())):
            raise ModelError(f"predict_proba: the network ends in {type(last).__name__}, whose outputs are not "
                             f"probabilities; end it in raw scores (logits), Softmax or Sigmoid")
        logits = self.predict_output(x, batch_size)
        if logits.ndim != 2 or logits.shape[1] < 2:
            raise ModelError(f"predict_proba: the softmax needs a row of at least 2 scores per example, got "
                             f"output shape {logits.shape[1:]}; end a one-output network in Sigmoid")
        return row_softmax(logits)

    def predict(self, x, batch_size=EVAL_BATCH_SIZE):
        """The most likely class of each row."""
        return self.predict_output(x, batch_size).argmax(axis=1)

    def predict_output(self, x, batch_size=EVAL_BATCH_SIZE):
        """The raw output in eval mode, computed in batches in the model's dtype; the training mode is restored."""
        return outputs(self, x, batch_size)

    def config(self):
        return {"layers": [{"type": type(layer).__name__, "config": layer.config()} for layer in self.layers]}

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        inner = ",\n".join("  " + repr(layer).replace("\n", "\n  ") for layer in self.layers)
        return f"{type(self).__name__}(\n{inner}\n)"


def last_layer(layer):
    """The layer that computes the output, inside nested ``Sequential`` blocks (None for an empty one)."""
    while isinstance(layer, Sequential):
        if not layer.layers:
            return None
        layer = layer.layers[-1]
    return layer


@register_layer
class Network(Sequential):
    """A ``Sequential`` of ``Linear`` layers of the given sizes, each followed by an activation.

    ``Network([784, 30, 10], activation="sigmoid", init="normal", bias_init="normal")`` is Nielsen's network:
    sigmoid on every layer, N(0, 1) weights and biases. ``output`` is the activation of the last layer:
    ``"same"`` (the hidden activation, as in the classic projects), any name in ``ACTIVATIONS``, or ``None``
    for raw scores (logits, to train with ``SoftmaxCrossEntropy``). ``dropout`` > 0 puts a ``Dropout`` after
    each hidden layer's activation. Layers of your own choosing make a ``Sequential``; a saved ``Network`` is
    rebuilt from its layers by ``Layer.from_config``.
    """

    def __init__(self, sizes, *, activation="sigmoid", output="same", init="he", bias_init="zeros", dropout=0.0,
                 rng=None, dtype=np.float32):
        if isinstance(sizes, Layer) or (isinstance(sizes, (list, tuple)) and any(isinstance(item, Layer)
                                                                               for item in sizes)):
            raise TypeError("Network builds a network from a list of sizes, such as Network([784, 30, 10]); "
                            "for layers of your own, use Sequential(*layers)")
        super().__init__(linear_stack(sizes, activation, output, init, bias_init, dropout, rng, dtype))


def linear_stack(sizes, activation, output, init, bias_init, dropout, rng, dtype):
    """The layers of ``Network(sizes, ...)``: Linear, activation[, Dropout], ..., Linear[, output activation]."""
    sizes = [int(size) for size in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"Network needs at least two positive layer sizes, got {sizes}")
    output = activation if output == "same" else output
    for name in (activation, output):
        if name is not None and name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    rng = as_generator(rng)
    layers = []
    for position, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(Linear(fan_in, fan_out, init=init, bias_init=bias_init, rng=rng, dtype=dtype))
        last = position == len(sizes) - 2
        name = output if last else activation
        if name is not None:
            layers.append(ACTIVATIONS[name]())
        if dropout and not last:
            layers.append(Dropout(dropout, rng=rng))
    return layers
