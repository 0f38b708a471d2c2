"""Networks as layers made of layers.

``Sequential`` applies its layers in order and backpropagates through them in reverse; being a ``Layer``
itself, it nests. ``Network([784, 30, 10], activation="sigmoid")`` is the shorthand of the classic
from-scratch projects: a ``Sequential`` of ``Linear`` layers with an activation after each.
"""
import numpy as np

from .errors import ModelError
from .initializers import as_generator
from .layers.activations import ACTIVATIONS
from .layers.activations import softmax as row_softmax
from .layers.base import Layer, register_layer
from .layers.dropout import Dropout
from .layers.linear import Linear
from .layers.windows import products_on_the_pool

# Examples per forward pass when a network only answers: enough to keep the products efficient, few enough that
# a convolution's unrolled windows stay small (about 50 MB for the cnn-best network).
EVAL_BATCH_SIZE = 256


@register_layer
class Sequential(Layer):
    """y = f_n(... f_2(f_1(x))); dL/dx = J_1ᵀ(J_2ᵀ(... J_nᵀ dL/dy)), one layer's backward at a time."""

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for position, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: item {position} is a {type(layer).__name__}, not a Layer")
        self.layers = list(layers)

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
        x = np.asarray(x).astype(self.dtype, copy=False)
        with self.mode(training=False), products_on_the_pool(self):
            return np.concatenate([self.forward(x[start:start + batch_size])
                                   for start in range(0, max(len(x), 1), batch_size)])

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
    each hidden layer's activation. A saved ``Network`` is rebuilt from its layers, as a ``Sequential`` is:
    ``Network(*layers)``.
    """

    def __init__(self, sizes, *more_layers, activation="sigmoid", output="same", init="he", bias_init="zeros",
                 dropout=0.0, rng=None, dtype=np.float32):
        if isinstance(sizes, Layer) or (isinstance(sizes, (list, tuple)) and sizes
                                        and all(isinstance(item, Layer) for item in sizes)):
            super().__init__(sizes, *more_layers)   # rebuilt from a model file: the layers themselves
            return
        if more_layers:
            raise TypeError(f"Network takes one list of sizes, got {len(more_layers) + 1} positional arguments")
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
    for position, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(fan_in, fan_out, init=init, bias_init=bias_init, rng=rng, dtype=dtype))
        last = position == len(sizes) - 2
        name = output if last else activation
        if name is not None:
            layers.append(ACTIVATIONS[name]())
        if dropout and not last:
            layers.append(Dropout(dropout, rng=rng))
    return layers
