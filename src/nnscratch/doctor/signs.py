"""The doctor's measurements: what one training step leaves behind in the layers, read without another pass.

After a step each layer still holds what its backward needed: a dense or convolutional layer its gradient
∂L/∂W in ``grads["W"]``, a Sigmoid or Tanh its output a = σ(z) (``y``), a ReLU the mask z > 0 (``active``).
So the gradient norms, the share of saturated units and the ReLU units that fired are all read off the batch
at hand; only the update-to-weight ratio ‖ΔW‖ / ‖W‖ needs the weights copied before the step. The thresholds
that turn these numbers into a diagnosis live here too, each with the reason for its value.
"""
import math

import numpy as np

from ..inspection import flat_layers, split_at_logits
from ..layers.activations import ReLU, Sigmoid, Tanh
from ..losses import ProbabilityCrossEntropy, SoftmaxCrossEntropy

# How often to measure: every step of the first WATCH_FIRST (a learning rate far too large wrecks a run in a
# few steps), then every EVERY-th step.
WATCH_FIRST = 20
EVERY = 10

# lr-too-large: one step changes a layer's weights by more than their own size (healthy runs measure 1e-4 to
# 5e-2, Nielsen's η = 10 up to 0.3 in its last layer); or the loss, smoothed over about 20 batches, has stayed
# above twice its mean over the first WATCH_FIRST batches for LOSS_GROWTH_STEPS steps (healthy runs whose first
# steps are wild, per-example or full-batch ones, spend a few steps there).
UPDATE_HUGE = 1.0
LOSS_GROWTH = 2.0
LOSS_GROWTH_STEPS = 50
SMOOTHING = 0.05             # exponential moving average of the batch loss: about 1 / SMOOTHING batches
# lr-too-small: after STILL_STEPS steps every layer's update is below 1e-5 of its weights in the RECENT last
# measurements and the smoothed loss has fallen by less than 5 % from its start: nothing changes.
UPDATE_TINY = 1e-5
STILL_STEPS = 100
STILL_LOSS_DROP = 0.05
# vanishing-gradients: in a network of three or more weighted layers with sigmoid or tanh units, the first
# layer's relative gradient ‖∂L/∂W‖ / ‖W‖ is below 1/VANISHING of the last layer's in every one of the last
# RECENT measurements (Nielsen's 784-30-10 measures about 1/10; five sigmoid layers about 1/1000).
VANISHING = 100.0
RECENT = 5
# saturated-units: a hidden sigmoid (tanh) unit is saturated where σ(z) is within 0.01 of 0 or 1 (|tanh(z)| >
# 0.98), i.e. |z| > 4.6 (2.3), where σ'(z) < 0.01 (tanh'(z) < 0.04): BP2 multiplies the gradient reaching it by
# that. Nielsen's N(0, 1) weights on 784 pixels saturate about 60 % of the hidden sigmoids (math.md), and the
# network still learns at once; N(0, 1) weights before tanh units saturate about 80 %. A diagnosis needs more
# than SATURATED of a layer's units on the first batch (which ran on the initial weights) and in each of the
# RECENT last measurements, and a smoothed loss still above half its start after SATURATED_STEPS steps:
# saturated and not learning.
SIGMOID_MARGIN = 0.01
TANH_MARGIN = 0.02
SATURATED = 0.75
SATURATED_STEPS = 50
SATURATED_LOSS_DROP = 0.5
# dead-relu: more than DEAD of a layer's ReLU units (channels, for a convolution) fired for none of the last
# DEAD_EXAMPLES or more examples of the measured batches (the health strip calls 50 % trouble too).
DEAD = 0.5
DEAD_EXAMPLES = 256
# stuck-at-chance: for softmax cross-entropy, the smoothed loss has stayed within 3 % of ln K, the loss of a
# uniform guess among K classes, from step CHANCE_FROM to step CHANCE_STEPS; for any loss, an epoch whose
# training accuracy is at most 1.5 / K (as ``Run.at_chance`` judges a finished run), once CHANCE_STEPS steps are
# done (a first epoch of a few dozen steps may not have begun to learn).
CHANCE_MARGIN = 0.03
CHANCE_FROM = 50
CHANCE_STEPS = 200
CHANCE_ACCURACY = 1.5
# inputs-not-scaled: 99 % of the input values lie within ±1 for pixels scaled to [0, 1] or standardised data; a
# 99th percentile of |x| above INPUT_LARGE means raw values, such as pixels 0..255.
INPUT_LARGE = 10.0


def weighted_layers(model):
    """``(dotted name, layer)`` of every layer with weights ``W`` (dense and convolutional), in the order they
    run."""
    return [(name, layer) for name, layer in flat_layers(model) if "W" in layer.params]


def copy_weights(layers):
    return [layer.params["W"].copy() for _, layer in layers]


def norm(array):
    """‖A‖: the Frobenius norm, √(Σ a²), in float64 whatever the array's dtype."""
    return math.sqrt(float(np.vdot(array, array)))


def gradient_norms(layers):
    """‖∂L/∂W‖ of each layer, from the gradients its last backward left (None for a layer without)."""
    return [norm(layer.grads["W"]) if "W" in layer.grads else None for _, layer in layers]


def relative_gradients(layers):
    """‖∂L/∂W‖ / ‖W‖ of each layer (None where the weights are all zero): how fast plain SGD changes it."""
    ratios = []
    for (_, layer), gradient in zip(layers, gradient_norms(layers), strict=True):
        size = norm(layer.params["W"])
        ratios.append(gradient / size if gradient is not None and size > 0 else None)
    return ratios


def update_ratios(before, layers):
    """‖ΔW‖ / ‖W‖ of each layer for the step since ``before`` (the weights copied ahead of it); None where
    the weights were all zero."""
    ratios = []
    for previous, (_, layer) in zip(before, layers, strict=True):
        size = norm(previous)
        ratios.append(norm(layer.params["W"] - previous) / size if size > 0 else None)
    return ratios


def hidden_activations(model):
    """``(dotted name, layer)`` of the activations before the logits (the output's own activation is left out:
    an output saturates as the network grows sure of its answers)."""
    body, _ = split_at_logits(model)
    return [(name, layer) for name, layer in body if isinstance(layer, (Sigmoid, Tanh, ReLU))]


def saturated_share(layer):
    """The share of a Sigmoid's (Tanh's) outputs on the last batch within the margin of its bounds, where the
    derivative has all but vanished; None before its first forward."""
    y = getattr(layer, "y", None)
    if y is None:
        return None
    if isinstance(layer, Sigmoid):
        return float(np.mean((y < SIGMOID_MARGIN) | (y > 1.0 - SIGMOID_MARGIN)))
    return float(np.mean(np.abs(y) > 1.0 - TANH_MARGIN))


def fired_units(layer):
    """For a ReLU after its forward: which units (channels of an image batch) were positive for at least one
    example of the last batch, and how many examples that batch held; (None, 0) before."""
    active = getattr(layer, "active", None)
    if active is None:
        return None, 0
    if active.ndim > 2:                              # (N, C, H, W): a channel fires anywhere in its map
        return active.any(axis=(0, *range(2, active.ndim))), len(active)
    return active.any(axis=0), len(active)


def chance_loss(loss, model):
    """ln K, the loss of a uniform guess among K classes, for the losses where that is the chance level
    (softmax cross-entropy and cross-entropy on probabilities); None for others."""
    if not isinstance(loss, (SoftmaxCrossEntropy, ProbabilityCrossEntropy)):
        return None
    classes = class_count(model)
    return math.log(classes) if classes and classes > 1 else None


def class_count(model):
    """K: the number of outputs of the last weighted layer (None when it does not say)."""
    layers = weighted_layers(model)
    if not layers:
        return None
    last = layers[-1][1]
    return getattr(last, "out_features", None) or getattr(last, "out_channels", None)


def input_spread(x, examples=1000):
    """The 99th percentile of |x| over the first ``examples`` inputs, and their least and largest values."""
    x = np.asarray(x[:examples])
    if x.size == 0:
        return 0.0, 0.0, 0.0
    return float(np.percentile(np.abs(x), 99)), float(x.min()), float(x.max())
