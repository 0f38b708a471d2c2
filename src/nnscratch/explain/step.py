"""One step of gradient descent on one example, with every number it computes kept for a learner to read.

``take_step`` copies the model in float64, runs each layer's own ``forward``, the loss, each layer's own
``backward`` in reverse and one plain SGD update (θ ← θ - η ∂L/∂θ, the engine's ``SGD``), then the forward pass
again for the loss after the step. The copy runs in evaluation mode, so Dropout passes everything and BatchNorm
uses its running statistics: one example has no batch statistics, and the step is the same every time. The
model given is never changed. ``choose_path`` picks one input → hidden unit → output path through the network,
along which ``nnscratch step`` shows the entries of arrays too big to print whole.
"""
from dataclasses import dataclass, field

import numpy as np

from ..errors import NNScratchError
from ..inspection import flat_layers
from ..layers.activations import ACTIVATIONS, Sigmoid, Softmax
from ..layers.batchnorm import BatchNorm
from ..layers.conv import Conv2D
from ..layers.linear import Linear
from ..losses import get_loss
from ..network import last_layer
from ..optimizers import SGD


class StepError(NNScratchError, ValueError):
    """A model, an example or a setting that one step cannot be taken with; the message says why in one line."""


@dataclass
class LayerStep:
    """One layer's part of the step, for one example (arrays keep the batch axis, of length 1)."""

    index: int
    name: str                 # the dotted position in the model: "3", or "1.0" inside a nested block
    layer: object
    input: np.ndarray         # X, what the layer received
    output: np.ndarray        # its forward's output
    grad_output: np.ndarray = None   # ∂L/∂output, what its backward received
    grad_input: np.ndarray = None    # ∂L/∂input, what its backward returned
    params: dict = field(default_factory=dict)      # before the step
    grads: dict = field(default_factory=dict)       # ∂L/∂θ
    update: dict = field(default_factory=dict)      # Δθ = θ_after - θ_before (-η ∂L/∂θ, 0 for a frozen one)
    new_params: dict = field(default_factory=dict)  # after the step


@dataclass
class Step:
    """The whole step: the example, the loss before and after, each layer's part and the chosen path (one
    flat per-example index at each boundary: the input, then each layer's output)."""

    x: np.ndarray
    target: object
    lr: float
    loss: object
    loss_value: float
    loss_after: float
    layers: list
    frozen: tuple
    path: list

    @property
    def grad_loss(self):
        """∂L/∂(the network's output), where backpropagation starts."""
        return self.layers[-1].grad_output

    def to_json(self):
        """The step as JSON-ready values, every array whole, as nested lists."""
        target = int(self.target[0]) if self.target.ndim == 1 else self.target.tolist()  # a class, or rows
        return {"input": listed(self.x), "target": target, "lr": self.lr, "loss_name": type(self.loss).__name__,
                "loss": finite(self.loss_value), "loss_after": finite(self.loss_after), "frozen": list(self.frozen),
                "path": self.path, "layers": [layer_json(part) for part in self.layers]}


def layer_json(part):
    arrays = {key: {name: listed(value) for name, value in getattr(part, key).items()}
              for key in ("params", "grads", "update", "new_params")}
    return {"index": part.index, "name": part.name, "type": type(part.layer).__name__, "output": listed(part.output),
            "grad_output": listed(part.grad_output), "grad_input": listed(part.grad_input), **arrays}


def listed(array):
    """An array as nested lists of floats; NaN and infinities (a step that diverged) become None."""
    array = np.asarray(array, dtype=np.float64)
    if np.isfinite(array).all():
        return array.tolist()
    return np.where(np.isfinite(array), array, None).tolist()


def finite(value):
    """A float for JSON: None for NaN or an infinity (a loss that overflowed)."""
    return float(value) if np.isfinite(value) else None


def take_step(model, x, target, loss, lr, frozen=()):
    """One SGD step of a float64 copy of ``model`` on one example, every intermediate value kept.

    ``x``: the example with a batch axis of 1, in the shape the model takes; ``target``: an integer class or
    a row of target values like the output; ``loss``: a ``Loss`` or its name; ``frozen``: dotted parameter names
    (``"0.b"``) that the step leaves as they are (their gradients are still computed). Returns a ``Step``.
    """
    if not lr > 0:
        raise StepError(f"the learning rate must be positive, got {lr}")
    twin = model.clone().astype(np.float64).eval()
    leaves = flat_layers(twin)
    unknown = sorted(set(frozen) - {name for name, _, _ in twin.slots()})
    if unknown:
        raise StepError(f"no parameters named {', '.join(unknown)} to freeze")
    loss = get_loss(loss)
    x = np.asarray(x, dtype=np.float64)
    target = target_array(target)
    parts, inputs = [], x
    for index, (name, layer) in enumerate(leaves):
        layer.needs_input_grad = True  # the copy computes ∂L/∂X of the first layer too: the learner sees it
        output = layer.forward(inputs)
        parts.append(LayerStep(index, name, layer, inputs, output, params=copied(layer.params)))
        inputs = output
    check_target(target, inputs)
    loss_value, grad = loss(inputs, target)
    path = choose_path(parts, target, grad)
    for part in reversed(parts):
        part.grad_output = grad
        grad = part.layer.backward(grad)
        part.grad_input = grad
        part.grads = copied(part.layer.grads)
    optimizer = SGD(twin, lr=float(lr))
    optimizer.slots = [slot for slot in optimizer.slots if slot[0] not in frozen]
    with np.errstate(over="ignore", invalid="ignore"):  # a huge η overflows: the loss after is then NaN, not noise
        optimizer.step()
        for part in parts:
            part.new_params = copied(part.layer.params)
            part.update = {key: part.new_params[key] - part.params[key] for key in part.params}
        loss_after = loss.value(twin.forward(x), target)
    return Step(x, target, float(lr), loss, float(loss_value), float(loss_after), parts, tuple(frozen), path)


def target_array(target):
    """An integer class as a batch of one label, a row of targets as a (1, C) float64 array."""
    if isinstance(target, (int, np.integer)):
        return np.array([int(target)])
    return np.asarray(target, dtype=np.float64).reshape(1, -1)


def check_target(target, output):
    """A class within the output's width, or a row of targets shaped like the output."""
    if output.ndim != 2:
        raise StepError(f"the network's output has shape {output.shape[1:]} per example; a loss needs one row of "
                        f"scores or values")
    classes = output.shape[1]
    if target.ndim == 1 and not 0 <= target[0] < classes:
        raise StepError(f"the target class must be from 0 to {classes - 1} (the network has {classes} outputs), "
                        f"got {target[0]}")
    if target.ndim == 2 and target.shape != output.shape:
        raise StepError(f"the target has {target.shape[1]} values, the network {classes} outputs")


def copied(arrays):
    return {key: np.array(value, dtype=np.float64) for key, value in arrays.items()}


def choose_path(parts, target, grad):
    """One flat per-example index at each boundary, from the output back to the input: the output is the
    target class (for a row of targets, the output whose gradient is largest); before each layer, the input
    entry that contributes most to the chosen entry of its output, the largest |x_i · ∂o_j/∂x_i|, each
    derivative found by the layer's own backward from a one-hot gradient. Call it before the real backward:
    it overwrites the layers' ``grads``."""
    chosen = int(target[0]) if target.ndim == 1 else int(np.abs(grad[0]).argmax())
    path = [chosen]
    for part in reversed(parts):
        one_hot = np.zeros_like(part.output)
        one_hot.reshape(-1)[chosen] = 1.0
        derivative = np.abs(part.layer.backward(one_hot)[0]).reshape(-1)
        contribution = derivative * np.abs(part.input[0]).reshape(-1)
        if contribution.max() > 0:
            chosen = int(contribution.argmax())
        elif derivative.max() > 0:
            chosen = int(derivative.argmax())
        elif part.input[0].size != part.output[0].size:
            chosen = 0
        path.append(chosen)
    return path[::-1]


def parameter_entry(part, key, path_in, path_out):
    """The index of parameter ``key`` of this layer that lies on the path from input entry ``path_in`` to
    output entry ``path_out`` (flat per-example indices), or None when the layer has no such single entry."""
    layer = part.layer
    if isinstance(layer, Linear):
        return (path_in, path_out) if key == "W" else (path_out,)
    if isinstance(layer, Conv2D):
        out_channel, row, column = np.unravel_index(path_out, part.output.shape[1:])
        channel, in_row, in_column = np.unravel_index(path_in, part.input.shape[1:])
        if key == "b":
            return (int(out_channel),)
        u = in_row + layer.padding[0] - row * layer.stride[0]
        v = in_column + layer.padding[1] - column * layer.stride[1]
        if 0 <= u < layer.kernel_size[0] and 0 <= v < layer.kernel_size[1]:
            return tuple(int(index) for index in (out_channel, channel, u, v))
        return None
    if isinstance(layer, BatchNorm):
        return (int(np.unravel_index(path_out, part.output.shape[1:])[0]),)
    return None


def loss_for(model, metadata, name=None):
    """The loss to step with, and where it came from: ``name`` if given, else the loss the model was trained
    with (its file's training settings), else the usual one for its last layer: softmax cross-entropy for raw
    scores, the cross-entropy of probabilities after a Softmax, the quadratic cost after a Sigmoid."""
    if name:
        return get_loss(name), "as asked"
    settings = (metadata.get("training") or {}).get("settings") or {}
    if isinstance(settings.get("loss"), str):
        smoothing = float(settings.get("label_smoothing") or 0.0)
        options = {"label_smoothing": smoothing} if smoothing and settings["loss"] == "softmax_cross_entropy" else {}
        try:
            return get_loss(settings["loss"], **options), "the loss the model was trained with"
        except ValueError as error:
            raise StepError(f"the model's training settings name a loss nnscratch cannot build: {error}") from None
    last = last_layer(model)
    if isinstance(last, Softmax):
        return get_loss("probability_cross_entropy"), "usual after a Softmax output"
    if isinstance(last, Sigmoid):
        return get_loss("quadratic"), "usual after a Sigmoid output (Nielsen's networks)"
    if isinstance(last, tuple(ACTIVATIONS.values())):
        raise StepError(f"the network ends in {type(last).__name__} and its file does not say which loss it was "
                        f"trained with: name one with --loss")
    return get_loss("softmax_cross_entropy"), "usual for raw scores, the logits"
