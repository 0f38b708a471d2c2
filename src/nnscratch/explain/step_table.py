"""The table of one step: every quantity of a ``Step`` in order, each with its symbol, its equation (in the
symbols of docs/math.md) and the function that computes it.

A dense or convolutional layer l computes Z⁽ˡ⁾ from its input and has the parameters W⁽ˡ⁾, b⁽ˡ⁾; the
activation after it computes A⁽ˡ⁾; a softmax computes P; any other layer k (pooling, Flatten, BatchNorm, ...)
computes O₍ₖ₎. X is the network's input and Y the target. ``rows`` lists the quantities, ``describe`` writes an
array whole when it is small and otherwise as its shape, its entry on the chosen path and its largest entries.
The text of ``nnscratch step`` and its HTML page are both drawn from these rows.
"""
from dataclasses import dataclass

import numpy as np

from ..layers.activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh, softmax
from ..layers.batchnorm import BatchNorm
from ..layers.conv import Conv2D
from ..layers.dropout import Dropout
from ..layers.linear import Linear
from ..layers.pooling import AvgPool2D, GlobalAvgPool, MaxPool2D
from ..layers.reshape import Flatten
from ..losses import SoftmaxCrossEntropy
from .step import parameter_entry

WHOLE = 16       # arrays of at most this many entries are written whole
LARGEST = 3      # how many of the largest entries a summary names
DIGITS = 9       # significant digits of every number (Mazur's page prints nine)
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
ACTIVATION_FORMS = {
    Sigmoid: ("σ({x})", "∂L/∂{y} ⊙ {y} ⊙ (1 − {y})"),
    Tanh: ("tanh({x})", "∂L/∂{y} ⊙ (1 − {y} ⊙ {y})"),
    ReLU: ("max(0, {x})", "∂L/∂{y} ⊙ [{x} > 0]"),
    LeakyReLU: ("{x} where {x} > 0, else α{x}", "∂L/∂{y} ⊙ (1 where {x} > 0, else α)"),
    Softmax: ("softmax({x}): e^{x}ᵢ / Σⱼ e^{x}ⱼ", "{y} ⊙ (∂L/∂{y} − Σᵢ (∂L/∂{y})ᵢ {y}ᵢ)"),
}
OTHER_FORMS = {
    Flatten: ("{x}, each example as one row", "∂L/∂{y} reshaped back"),
    Dropout: ("{x} (evaluation mode: dropout passes everything)", "∂L/∂{y}"),
    MaxPool2D: ("the largest entry of each window of {x}", "∂L/∂{y} to each window's largest entry, 0 elsewhere"),
    AvgPool2D: ("the mean of each kₕ×k_w window of {x}", "each entry gets 1/(kₕ k_w) of its window's ∂L/∂{y}"),
    GlobalAvgPool: ("the mean of each channel of {x}", "each entry gets 1/(H W) of its channel's ∂L/∂{y}"),
    BatchNorm: ("γ (x − μ)/s + β, μ and s the running averages", "(γ/s) ⊙ ∂L/∂{y}"),
}
SECTIONS = {
    "forward": "Forward: each layer's output",
    "loss": "Loss",
    "backward": "Backward: the gradient of the loss, from the output back to the input",
    "update": "Update: θ ← θ − η ∂L/∂θ (SGD.update)",
    "after": "After the step, on the same example",
}
LOSS_FORMS = {
    "Quadratic": ("(1/N) Σ ½‖{y} − Y‖²", "({y} − Y)/N"),
    "MeanSquaredError": ("(1/(N C)) Σ ({y} − Y)²", "2({y} − Y)/(N C)"),
    "SoftmaxCrossEntropy": ("−(1/N) Σ Y log softmax({y})", "(P − Y)/N, P = softmax({y})"),
    "ProbabilityCrossEntropy": ("−(1/N) Σ Y log {y}", "−Y/(N {y})"),
    "BinaryCrossEntropy": ("−(1/N) Σ [Y log {y} + (1 − Y) log(1 − {y})]", "({y} − Y)/({y}(1 − {y}) N)"),
}


@dataclass
class Row:
    """One quantity: the section it belongs to, the layer (None for the loss), its symbol, its equation, the
    function that computes it, its value and the index of its entry on the chosen path (None if none)."""

    section: str
    layer: object
    symbol: str
    equation: str
    function: str
    value: object
    path_entry: tuple = None


def symbols(step):
    """For each layer, the symbols of its input, its output and its parameters."""
    names, stage, current = [], 0, "X"
    for part in step.layers:
        layer = part.layer
        if isinstance(layer, (Linear, Conv2D)):
            stage += 1
            output = f"Z{superscript(stage)}"
            params = {"W": f"W{superscript(stage)}", "b": f"b{superscript(stage)}"}
        elif isinstance(layer, Softmax):
            output, params = "P", {}
        elif type(layer) in ACTIVATION_FORMS:
            output, params = f"A{superscript(stage)}", {}
        else:
            output = f"O{subscript(part.index)}"
            params = {key: f"{greek(key)}{subscript(part.index)}" for key in part.params}
        names.append({"input": current, "output": output, "params": params})
        current = output
    return names


def superscript(number):
    return f"⁽{str(number).translate(SUPERSCRIPT)}⁾"


def subscript(number):
    return f"₍{str(number).translate(SUBSCRIPT)}₎"


def greek(key):
    return {"gamma": "γ", "beta": "β"}.get(key, key)


def forward_equation(layer, x, y, params):
    if isinstance(layer, Linear):
        return f"{x} {params['W']} + {params['b']}"
    if isinstance(layer, Conv2D):
        return f"{params['W']} ⋆ {x} + {params['b']}"
    form = ACTIVATION_FORMS.get(type(layer)) or OTHER_FORMS.get(type(layer))
    return form[0].format(x=x, y=y) if form else f"f({x}; θ)"


def input_gradient_equation(layer, x, y, params):
    if isinstance(layer, Linear):
        return f"∂L/∂{y} {params['W']}ᵀ"
    if isinstance(layer, Conv2D):
        return f"fold({params['W']}ᵀ ∂L/∂{y})"
    form = ACTIVATION_FORMS.get(type(layer)) or OTHER_FORMS.get(type(layer))
    return form[1].format(x=x, y=y) if form else f"Jᵀ ∂L/∂{y}"


def parameter_gradient_equation(layer, key, x, y, symbol):
    if isinstance(layer, Linear):
        return f"{x}ᵀ ∂L/∂{y}" if key == "W" else f"1ᵀ ∂L/∂{y}"
    if isinstance(layer, Conv2D):
        return f"∂L/∂{y} · (the windows of {x})ᵀ" if key == "W" else f"Σ over pixels of ∂L/∂{y}"
    if isinstance(layer, BatchNorm):
        return f"Σ ∂L/∂{y} ⊙ x̂" if key == "gamma" else f"Σ ∂L/∂{y}"
    return f"the layer's own backward, for {symbol}"


def loss_equations(step, y):
    """The loss's value and gradient equations for the output symbol ``y``, and the name of its function."""
    name = type(step.loss).__name__
    value, gradient = LOSS_FORMS.get(name, (f"{name}({{y}}, Y)", "the loss's own gradient"))
    value, gradient = value.format(y=y), gradient.format(y=y)
    if getattr(step.loss, "label_smoothing", 0.0):
        value += f", Y smoothed to (1 − ε)Y + ε/C, ε = {step.loss.label_smoothing:g}"
    return value, gradient, f"{name}.__call__"


def rows(step):
    """Every quantity of ``step`` in order: forward, loss, backward, update, loss after."""
    names = symbols(step)
    path = step.path
    table = [Row("forward", None, "X", "", "", step.x[0], unravel(path[0], step.x))]
    if step.target.ndim == 1:
        table.append(Row("forward", None, "y", "", "", int(step.target[0])))
    else:
        table.append(Row("forward", None, "Y", "", "", step.target[0]))
    for part, name in zip(step.layers, names, strict=True):
        x, y, params = name["input"], name["output"], name["params"]
        function = f"{type(part.layer).__name__}.forward"
        table.append(Row("forward", part, y, forward_equation(part.layer, x, y, params), function, part.output[0],
                         unravel(path[part.index + 1], part.output)))
    output = names[-1]["output"]
    value_equation, gradient_equation, loss_function = loss_equations(step, output)
    if isinstance(step.loss, SoftmaxCrossEntropy):  # the probabilities inside the fused loss, for hand checks
        table.append(Row("loss", None, "P", f"softmax({output})", "softmax", softmax(step.layers[-1].output)[0]))
    table.append(Row("loss", None, "L", value_equation, loss_function, step.loss_value))
    table.append(Row("backward", None, f"∂L/∂{output}", gradient_equation, loss_function, step.grad_loss[0],
                     unravel(path[-1], step.grad_loss)))
    for part, name in zip(reversed(step.layers), reversed(names), strict=True):
        table += backward_rows(step, part, name)
    for part, name in zip(step.layers, names, strict=True):
        table += update_rows(step, part, name)
    change = step.loss_after - step.loss_value
    table.append(Row("after", None, "L", f"{value_equation} with the new parameters",
                     loss_function, step.loss_after))
    table.append(Row("after", None, "ΔL", "L after − L before", "", change))
    return table


def backward_rows(step, part, name):
    x, y, params = name["input"], name["output"], name["params"]
    path_in, path_out = step.path[part.index], step.path[part.index + 1]
    function = f"{type(part.layer).__name__}.backward"
    table = [Row("backward", part, f"∂L/∂{params.get(key, key)}",
                 parameter_gradient_equation(part.layer, key, x, y, params.get(key, key)), function, part.grads[key],
                 parameter_entry(part, key, path_in, path_out)) for key in part.grads]
    table.append(Row("backward", part, f"∂L/∂{x}", input_gradient_equation(part.layer, x, y, params), function,
                     part.grad_input[0], unravel(path_in, part.input)))
    return table


def unravel(flat, batch):
    """The index, within one example of ``batch``, of the flat per-example index ``flat``."""
    return tuple(int(index) for index in np.unravel_index(flat, batch.shape[1:]))


def update_rows(step, part, name):
    table = []
    path_in, path_out = step.path[part.index], step.path[part.index + 1]
    for key in part.params:
        symbol = name["params"].get(key, key)
        entry = parameter_entry(part, key, path_in, path_out)
        table.append(Row("update", part, f"{symbol} before", "", "", part.params[key], entry))
        if f"{part.name}.{key}" in step.frozen:
            table.append(Row("update", part, f"Δ{symbol}", "0: frozen, left as it is", "", part.update[key], entry))
            table.append(Row("update", part, f"−η ∂L/∂{symbol}", "what SGD would have added (not applied)", "",
                             -step.lr * part.grads[key], entry))
        else:
            table.append(Row("update", part, f"Δ{symbol}", f"−η ∂L/∂{symbol}, η = {step.lr:g}", "SGD.update",
                             part.update[key], entry))
        function = "" if f"{part.name}.{key}" in step.frozen else "SGD.update"
        table.append(Row("update", part, f"{symbol} after", f"{symbol} + Δ{symbol}", function,
                         part.new_params[key], entry))
    return table


def number(value):
    return f"{float(value):.{DIGITS}g}"


def describe(value, entry=None):
    """A number, a small array whole, or a big one as its shape, its entry on the path and its largest ones."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return number(array)
    if array.size <= WHOLE:
        return nested(array)
    parts = [f"shape {'×'.join(str(size) for size in array.shape)}"]
    if entry is not None:
        parts.append(f"on the path {list(entry)} = {number(array[entry])}")
    largest = np.argsort(-np.abs(array).reshape(-1), kind="stable")[:LARGEST]
    shown = ", ".join(f"{[int(i) for i in np.unravel_index(flat, array.shape)]} {number(array.reshape(-1)[flat])}"
                      for flat in largest)
    parts.append(f"largest {shown}")
    return "; ".join(parts)


def nested(array):
    if array.ndim == 1:
        return "[" + ", ".join(number(item) for item in array) + "]"
    return "[" + ", ".join(nested(row) for row in array) + "]"


def layer_label(part):
    """``0 Linear(2→2)``: the layer's position and type, with its sizes for dense layers."""
    if part is None:
        return ""
    layer = part.layer
    sizes = f"({layer.in_features}→{layer.out_features})" if isinstance(layer, Linear) else ""
    return f"{part.index} {type(layer).__name__}{sizes}"


def path_text(step):
    """The chosen path in words: where each boundary's shown entry is."""
    entries = [f"input {list(unravel(step.path[0], step.x))}"]
    for part in step.layers:
        if part.params or part is step.layers[-1]:
            where = unravel(step.path[part.index + 1], part.output)
            entries.append(f"{layer_label(part)} unit {list(where) if len(where) > 1 else where[0]}")
    return " → ".join(entries)
