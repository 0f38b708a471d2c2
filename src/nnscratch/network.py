"""Networks as layers made of layers.

``Sequential`` applies its layers in order and backpropagates through them in reverse; being a ``Layer``
itself, it nests. ``Network([784, 30, 10], activation="sigmoid")`` is the shorthand of the classic
from-scratch projects: a stack of ``Linear`` layers with an activation after each.
"""
import numpy as np

from .initializers import as_generator
from .layers.activations import ACTIVATIONS
from .layers.activations import softmax as row_softmax
from .layers.base import Layer, register_layer
from .layers.dropout import Dropout
from .layers.linear import Linear


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

    @property
    def needs_input_grad(self):
        return not self.layers or self.layers[0].needs_input_grad

    @needs_input_grad.setter
    def needs_input_grad(self, value):
        # Only the first layer's input gradient can go unused; skipping it saves one matrix product.
        if self.layers:
            self.layers[0].needs_input_grad = value

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

    def predict_proba(self, x, batch_size=4096):
        """Class probabilities in eval mode: softmax of the output, unless the rows already are probabilities."""
        output = self.predict_output(x, batch_size)
        if isinstance(self.layers[-1], ACTIVATIONS["softmax"]) or output.shape[1] == 1:
            return output
        if isinstance(self.layers[-1], ACTIVATIONS["sigmoid"]):
            return output / output.sum(axis=1, keepdims=True)
        return row_softmax(output)

    def predict(self, x, batch_size=4096):
        """The most likely class of each row."""
        return self.predict_output(x, batch_size).argmax(axis=1)

    def predict_output(self, x, batch_size=4096):
        """The raw output in eval mode, computed in batches in the model's dtype; the training mode is restored."""
        x = np.asarray(x).astype(self.dtype, copy=False)
        was_training = self.training
        self.eval()
        try:
            return np.concatenate([self.forward(x[start:start + batch_size])
                                   for start in range(0, max(len(x), 1), batch_size)])
        finally:
            self.train(was_training)

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
        return f"Sequential(\n{inner}\n)"


def Network(sizes, activation="sigmoid", output="same", init="he", bias_init="zeros", dropout=0.0, rng=None,
            dtype=np.float32):
    """A ``Sequential`` of ``Linear`` layers of the given sizes, each followed by an activation.

    ``Network([784, 30, 10], activation="sigmoid", init="normal", bias_init="normal")`` is Nielsen's network:
    sigmoid on every layer, N(0, 1) weights and biases. ``output`` is the activation of the last layer:
    ``"same"`` (the hidden activation, as in the classic projects), any name in ``ACTIVATIONS``, or ``None``
    for raw scores (logits, to train with ``SoftmaxCrossEntropy``).
    """
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
    return Sequential(layers)
