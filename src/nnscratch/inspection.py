"""Looking inside a network: every layer's output for an input, and the gradient of one class's logit.

Training asks how the loss changes with the parameters; explaining a prediction asks how one output changes
with the input. ``forward_trace`` runs the layers one by one in eval mode and keeps what each one produced;
``logit_gradient`` starts the backward pass from a chosen class's logit instead of from a loss and returns
d logit[c] / d x. Both are separate functions that call the layers' own ``forward`` and ``backward``, so
ordinary training runs exactly as before. The "logit" is the output layer's pre-activation: for a network that
ends in a Sigmoid or Softmax (or any activation), the pass stops before that final activation.
"""
from dataclasses import dataclass

import numpy as np

from .layers.activations import ACTIVATIONS
from .layers.dropout import Dropout
from .network import Sequential


@dataclass(frozen=True)
class LayerOutput:
    """What one layer produced: its dotted position in the model (``"3"``, or ``"1.0"`` in a nested block),
    the layer itself, and its output for the whole batch."""

    name: str
    layer: object
    output: np.ndarray


def flat_layers(model, prefix=""):
    """The leaf layers of ``model`` in the order they run, as ``(dotted name, layer)``; nested ``Sequential``
    blocks are opened up."""
    if not isinstance(model, Sequential):
        return [(prefix or "0", model)]
    leaves = []
    for position, layer in enumerate(model.layers):
        name = f"{prefix}{position}"
        leaves += flat_layers(layer, name + ".") if isinstance(layer, Sequential) else [(name, layer)]
    return leaves


def is_output_activation(layer):
    """Layers that may follow the logits without changing which class wins: activations, and Dropout (the
    identity in eval mode)."""
    return isinstance(layer, (*ACTIVATIONS.values(), Dropout))


def split_at_logits(model):
    """``(body, head)``: the layers up to the logits, and the activations after them (often none)."""
    layers = flat_layers(model)
    end = len(layers)
    while end > 1 and is_output_activation(layers[end - 1][1]):
        end -= 1
    return layers[:end], layers[end:]


def forward_trace(model, x):
    """Run ``model`` on ``x`` in eval mode, layer by layer, and return every layer's output as a list of
    ``LayerOutput``; the last one is the model's output. The model's training mode is restored afterwards."""
    trace = []
    with model.mode(training=False):
        for name, layer in flat_layers(model):
            x = layer.forward(x)
            trace.append(LayerOutput(name, layer, x))
    return trace


def logits(model, x):
    """z: the output layer's pre-activation in eval mode (the model's output when it ends without an
    activation)."""
    body, _ = split_at_logits(model)
    with model.mode(training=False):
        for _, layer in body:
            x = layer.forward(x)
    return x


def input_gradient(model, x, grad_logits):
    """dS/dx for S = Σ_rows Σ_k grad_logits[n, k] · z[n, k]: one eval-mode forward pass up to the logits z, then
    the layers' backward passes started from ``grad_logits`` (shape of z) instead of from a loss's gradient.

    Like any backward pass it overwrites the layers' ``grads``; the parameters are not touched."""
    body, _ = split_at_logits(model)
    with model.mode(training=False):
        z = x
        for _, layer in body:
            z = layer.forward(z)
        grad_logits = np.asarray(grad_logits, dtype=z.dtype)
        if grad_logits.shape != z.shape:
            raise ValueError(f"input_gradient expected grad_logits of shape {z.shape}, got {grad_logits.shape}")
        grad = grad_logits
        for name, layer in reversed(body):
            grad = layer.backward(grad)
            if grad is None:
                raise ValueError(f"layer {name} ({type(layer).__name__}) has needs_input_grad = False; "
                                 f"an input gradient needs it True")
    return grad


def logit_gradient(model, x, class_index):
    """d z[n, c] / d x[n] for every row n of ``x``, where z is the logits and c is ``class_index`` (one class
    for every row, or one per row). Rows do not mix in eval mode, so one backward pass serves the whole batch:
    the seed is the one-hot row e_c, the gradient of z[n, c] with respect to z[n]."""
    z_shape = logits_shape(model, x)
    classes = np.broadcast_to(np.asarray(class_index), (z_shape[0],))
    if classes.dtype.kind not in "iu" or classes.min(initial=0) < 0 or classes.max(initial=0) >= z_shape[1]:
        raise ValueError(f"class_index must be a whole number from 0 to {z_shape[1] - 1}, got {class_index!r}")
    seed = np.zeros(z_shape)
    seed[np.arange(z_shape[0]), classes] = 1.0
    return input_gradient(model, x, seed)


def logits_shape(model, x):
    """The shape of the logits for ``x``, from the output layer's size when it is a dense layer."""
    body, _ = split_at_logits(model)
    last = body[-1][1]
    if hasattr(last, "out_features"):
        return (len(x), last.out_features)
    return logits(model, x).shape
