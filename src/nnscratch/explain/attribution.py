"""Why this class: the winning logit split exactly into the last hidden layer's units, and which pixels mattered.

The output layer is z = a W + b, so z_c = Σ_j a_j W[j, c] + b_c: each hidden unit j adds a_j W[j, c] to class c,
and the parts sum to the logit exactly. For "c rather than r", z_c - z_r = Σ_j a_j (W[j, c] - W[j, r]) +
(b_c - b_r). The saliency map is ∂z_c/∂x, from the engine's backward pass started at the logit;
gradient × input is x ⊙ ∂z_c/∂x. For a piecewise-linear network (ReLU, max-pool, dense and convolutional
layers, batch norm in eval mode) z_c is locally affine in x, so
z_c = Σ_i x_i ∂z_c/∂x_i + Σ_layers Σ_k b_k ∂z_c/∂b_k: gradient × input plus the bias terms is the logit.
"""
import numpy as np

from ..initializers import get_initializer
from ..inspection import flat_layers, logit_gradient
from ..layers.activations import LeakyReLU, ReLU
from ..layers.batchnorm import BatchNorm
from ..layers.conv import Conv2D
from ..layers.dropout import Dropout
from ..layers.linear import Linear
from ..layers.pooling import AvgPool2D, GlobalAvgPool, MaxPool2D
from ..layers.reshape import Flatten
from ..serialization.npz import model_from_config

PIECEWISE_LINEAR = (Linear, Conv2D, ReLU, LeakyReLU, MaxPool2D, AvgPool2D, GlobalAvgPool, Flatten, Dropout,
                    BatchNorm)


def contributions(a, W, b, class_index, versus=None):
    """For one example's hidden activations ``a`` (H,): the parts ``a_j · w_j`` and the bias, where w is
    W[:, c] (or W[:, c] - W[:, r] with ``versus`` r) and the bias b_c (or b_c - b_r), in float64.
    Returns ``(weights, parts, bias)``; Σ parts + bias is z_c (or z_c - z_r)."""
    a = np.asarray(a, dtype=np.float64)
    weights = np.asarray(W[:, class_index], dtype=np.float64)
    bias = float(b[class_index])
    if versus is not None:
        weights = weights - np.asarray(W[:, versus], dtype=np.float64)
        bias -= float(b[versus])
    return weights, a * weights, bias


def ranked_contributions(a, weights, parts, count=None):
    """The units as ``{"unit", "activation", "weight", "contribution"}`` dicts, largest |contribution| first."""
    order = np.argsort(-np.abs(parts), kind="stable")[:count]
    return [{"unit": int(unit), "activation": float(a[unit]), "weight": float(weights[unit]),
             "contribution": float(parts[unit])} for unit in order]


def is_piecewise_linear(model):
    """Whether every layer is affine or piecewise affine, so that gradient × input plus bias terms is exact."""
    return all(isinstance(layer, PIECEWISE_LINEAR) for _, layer in flat_layers(model))


def saliency(model, x, class_index):
    """``(gradient, bias_terms)`` for one example x (batch of 1): ∂z_c/∂x in x's shape, and
    Σ_layers Σ_k b_k ∂z_c/∂b_k, read from the ``grads`` that the backward pass fills (for batch norm in eval
    mode, the offset β - γμ/σ plays the bias)."""
    if len(x) != 1:
        raise ValueError(f"saliency explains one example at a time, got a batch of {len(x)}")
    gradient = logit_gradient(model, x, class_index)
    return gradient, bias_terms(model)


def bias_terms(model):
    """Σ b · ∂z/∂b over every layer with a bias, after a backward pass of one example."""
    total = 0.0
    for _, layer in flat_layers(model):
        if isinstance(layer, BatchNorm):
            std = np.sqrt(layer.buffers["running_var"].astype(np.float64) + layer.eps)
            offset = layer.params["beta"] - layer.params["gamma"] * layer.buffers["running_mean"] / std
            total += float(np.dot(layer.grads["beta"].astype(np.float64), offset))
        elif "b" in layer.params:
            total += float(np.dot(layer.grads["b"].astype(np.float64), layer.params["b"].astype(np.float64)))
    return total


def untrained_twin(model, seed=0):
    """The same architecture freshly initialized from ``seed``, with the initializers the model was built with
    (the sanity check of Adebayo et al., 2018: a saliency map that looks the same for random weights shows the
    input, not what was learned)."""
    rng = np.random.default_rng(seed)
    twin = model_from_config({"type": type(model).__name__, "config": model.config()}, initialize=False)
    for _, layer in flat_layers(twin):
        for key, init in (("W", getattr(layer, "init", None)), ("b", getattr(layer, "bias_init", None))):
            if init is not None and key in layer.params:
                layer.params[key] = get_initializer(init)(layer.params[key].shape, rng, np.float32)
    return twin.astype(model.dtype).eval()
