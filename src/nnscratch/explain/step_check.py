"""Check a learner's hand calculation of one number of a step, and say what a wrong one is consistent with.

A learner who works a step by hand types one entry of one quantity of the step's table (``step_table.rows``):
Z⁽¹⁾₂, δ, ∂L/∂W⁽²⁾₁₀, W⁽¹⁾ after, the loss after, ... ``check`` says whether the typed value is right to the
precision typed (``0.73`` is right when the true value rounds to 0.73: |typed − true| ≤ ½ · 10⁻²), and where it is
wrong it compares the value with what the usual slips give, each computed from the step's own numbers: a
forgotten activation derivative (δ = ∂L/∂A instead of ∂L/∂A ⊙ σ′(Z)), the derivative taken at A instead of Z,
the wrong sign, a factor 2 or ½ (the quadratic cost's ½), a transposed weight, a forgotten bias, Z used where A
belongs, one term of a sum instead of all, the update's η or its minus forgotten, and others. The codes that
``nnscratch.gradcheck`` gives (``sign``, ``scale``, ``transpose``, ``missing-mask``, ``zeros``) mean the same
here. Nothing here changes the step or the model: every candidate is a new array.
"""
import math
import re
from dataclasses import dataclass

import numpy as np

from ..gradcheck import meaning_of
from ..layers.activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh, softmax
from ..layers.linear import Linear
from ..losses import SoftmaxCrossEntropy
from .step_table import SUPERSCRIPT, rows, symbols

NUMBER = re.compile(r"^\s*([+\-−]?)(\d+)?(?:[.,](\d*))?(?:[eE]([+\-−]?\d+))?\s*$")
CLOSE = 1e-2     # a value within 1 % of the right one, but not to the precision typed: rounded too early


@dataclass
class Quantity:
    """What a row of the table is: its kind (``output``, ``grad_input``, ``grad_param``, ``before``, ``delta``,
    ``after``, ``loss``, ``loss_gradient``, ``probabilities``, ``loss_after``, ``input``), its layer's part
    (None for the loss) and the parameter key (None unless a parameter's)."""

    kind: str
    part: object = None
    key: str = None


def parse_typed(text):
    """The number a learner typed and its precision, the largest error its rounding allows: ``"0.73"`` gives
    (0.73, 0.005), ``"-1.5e-3"`` (-0.0015, 0.00005), ``"2"`` (2, 0.5). ValueError for anything else."""
    match = NUMBER.match(str(text))
    if not match or (match.group(2) is None and not match.group(3)):
        raise ValueError(f"expected a number such as 0.7311 or -1.2e-3, got {str(text)[:40]!r}")
    sign, whole, decimals, exponent = match.groups()
    decimals = decimals or ""
    power = int((exponent or "0").replace("−", "-"))
    value = float(f"{'-' if sign in '-−' and sign else ''}{whole or '0'}.{decimals or '0'}e{power}")
    return value, 0.5 * 10.0 ** (power - len(decimals))


def quantities(step):
    """The ``Quantity`` of each row of ``rows(step)``, in the same order, read from the symbols the table uses."""
    names = symbols(step)
    found = []
    for row in rows(step):
        found.append(quantity_of(step, row, names))
    return found


def quantity_of(step, row, names):
    if row.layer is None:
        kinds = {("forward", "X"): "input", ("forward", "y"): "target", ("forward", "Y"): "target",
                 ("loss", "P"): "probabilities", ("loss", "L"): "loss", ("after", "L"): "loss_after",
                 ("after", "ΔL"): "loss_change"}
        return Quantity(kinds.get((row.section, row.symbol), "loss_gradient"))
    part = row.layer
    name = names[part.index]
    if row.section == "forward":
        return Quantity("output", part)
    for key, symbol in name["params"].items():
        for kind, text in (("grad_param", f"∂L/∂{symbol}"), ("before", f"{symbol} before"),
                           ("delta", f"Δ{symbol}"), ("would_add", f"−η ∂L/∂{symbol}"), ("after", f"{symbol} after")):
            if row.symbol == text:
                return Quantity(kind, part, key)
    return Quantity("grad_input", part)


def check(step, row_index, entry, typed):
    """The verdict on ``typed`` (text) for entry ``entry`` (an index into the row's value; ``()`` for a number)
    of row ``row_index`` of ``rows(step)``: a dict with ``right``, ``expected`` (the true value, to the typed
    precision and to nine digits), ``code`` (None when right) and ``message``, a line for the learner."""
    table = rows(step)
    if not 0 <= row_index < len(table):
        raise ValueError(f"row must be from 0 to {len(table) - 1}, got {row_index}")
    row = table[row_index]
    value = np.asarray(row.value, dtype=np.float64)
    entry = tuple(int(index) for index in entry)
    if len(entry) != value.ndim or any(not 0 <= index < size for index, size in zip(entry, value.shape, strict=True)):
        raise ValueError(f"{row.symbol} has shape {list(value.shape)}; entry {list(entry)} is not in it")
    got, tolerance = parse_typed(typed)
    expected = float(value[entry])
    where = entry_name(step, row, entry)
    answer = {"row": row_index, "entry": list(entry), "typed": str(typed), "expected": expected,
              "tolerance": tolerance, "symbol": row.symbol}
    if not math.isfinite(expected):
        return {**answer, "right": False, "code": "not-finite", "message": f"{where} is not a finite number here "
                "(the step overflowed), so no hand calculation can match it"}
    if abs(got - expected) <= tolerance * (1 + 1e-9):
        return {**answer, "right": True, "code": None, "message": f"right: {where} = {expected:.9g}"}
    quantity = quantities(step)[row_index]
    for code, explanation, candidate in candidates(step, quantity, value):
        other = np.asarray(candidate, dtype=np.float64)
        if other.shape == value.shape and abs(got - float(other[entry])) <= tolerance * (1 + 1e-9) \
                and not abs(float(other[entry]) - expected) <= tolerance:
            return {**answer, "right": False, "code": code,
                    "message": f"not quite: your {where} matches {explanation} (the right value is {expected:.9g})"}
    if got == 0 and expected != 0:
        return {**answer, "right": False, "code": "zeros", "message": f"your {where} is 0 where the right value is "
                                                                      f"{expected:.9g}"}
    if abs(got - expected) <= CLOSE * abs(expected):
        return {**answer, "right": False, "code": "rounding",
                "message": f"close: your {where} is within 1 % of {expected:.9g} but not to the precision you typed: "
                           f"an earlier number rounded too soon? Keep more digits along the way"}
    return {**answer, "right": False, "code": "unknown",
            "message": f"your {where} is {got:g}, the right value {expected:.9g}; no usual slip gives your value: "
                       f"redo it from the equation, with the numbers of the rows above"}


def entry_name(step, row, entry):
    """Words for one entry: ``δ⁽¹⁾ = ∂L/∂Z⁽¹⁾ for hidden unit 2``, ``∂L/∂W⁽²⁾ from unit 1 to output 0``."""
    symbol = row.symbol
    base = symbol.removeprefix("∂L/∂").removeprefix("Δ").removeprefix("−η ∂L/∂").split(" ")[0]
    if symbol.startswith("∂L/∂Z"):
        symbol = f"δ{base[1:]} = {symbol}"
    if not entry:
        return symbol
    last = f"{len([part for part in step.layers if part.params and 'W' in part.params])}".translate(SUPERSCRIPT)
    final = base in ("P", "y", "Y") or base.endswith(f"⁽{last}⁾")
    if len(entry) == 1:
        label = "input" if base == "X" else "output" if final else "hidden unit"
        return f"{symbol} for {label} {entry[0]}"
    if len(entry) == 2 and base.startswith("W"):
        return f"{symbol} from {'input' if base.endswith('⁽¹⁾') else 'unit'} {entry[0]} to " \
               f"{'output' if final else 'hidden unit'} {entry[1]}"
    return f"{symbol}[{', '.join(str(index) for index in entry)}]"


# ---- the usual slips, each computed from the step's own numbers ------------------------------------------------

def candidates(step, quantity, value):
    """``(code, explanation, array shaped like value)`` for each slip that applies to this quantity."""
    found = []
    if quantity.kind not in ("input", "target", "before"):
        found += [("sign", "the right value with the wrong sign (y − p for p − y, or a lost minus)", -value),
                  ("scale", f"2 × the right value{meaning_of(2.0, None)}", 2 * value),
                  ("scale", f"½ × the right value{meaning_of(0.5, None)}", 0.5 * value)]
    maker = {"output": output_slips, "grad_input": input_gradient_slips, "grad_param": parameter_gradient_slips,
             "delta": update_slips, "after": update_slips, "loss": loss_slips, "loss_gradient": loss_gradient_slips,
             "probabilities": probability_slips, "loss_after": loss_after_slips}.get(quantity.kind)
    if maker is not None:
        found = [*maker(step, quantity), *found]
    return found


def activation_after(step, part):
    """The activation layer's part that directly follows ``part`` (None if the next layer is no activation)."""
    following = step.layers[part.index + 1] if part.index + 1 < len(step.layers) else None
    if following is not None and isinstance(following.layer, (Sigmoid, Tanh, ReLU, LeakyReLU)):
        return following
    return None


def derivative(layer, values):
    """The activation's derivative f′ at ``values`` (for the slip of taking it at A instead of Z)."""
    if isinstance(layer, Sigmoid):
        sigma = 1.0 / (1.0 + np.exp(-values))
        return sigma * (1.0 - sigma)
    if isinstance(layer, Tanh):
        return 1.0 - np.tanh(values) ** 2
    if isinstance(layer, LeakyReLU):
        return np.where(values > 0, 1.0, layer.alpha)
    return (values > 0).astype(np.float64)


def prime(layer):
    return {Sigmoid: "σ′(z)", Tanh: "tanh′(z)", ReLU: "ReLU′(z) (the mask z > 0)",
            LeakyReLU: "the leaky ReLU's slope"}.get(type(layer), "f′(z)")


def output_slips(step, quantity):
    part = quantity.part
    layer, x = part.layer, part.input[0]
    if isinstance(layer, Linear):
        weights, bias = part.params["W"], part.params["b"]
        found = [("forgot-bias", "X W without + b (a forgotten bias)", x @ weights)]
        if weights.shape[0] == weights.shape[1]:
            found.append(("transpose", "X Wᵀ + b (a transposed weight)", x @ weights.T + bias))
        return found
    if isinstance(layer, (Sigmoid, Tanh, ReLU, LeakyReLU)):
        return [("forgot-activation", "Z itself (a forgotten activation: A = f(Z))", x)]
    if isinstance(layer, Softmax):
        return [("not-normalised", "e^z without dividing by Σ e^z (softmax not normalised)", np.exp(x))]
    return []


def input_gradient_slips(step, quantity):
    part = quantity.part
    layer, grad_output = part.layer, part.grad_output[0]
    if isinstance(layer, (Sigmoid, Tanh, ReLU, LeakyReLU)):
        code = "missing-mask" if isinstance(layer, ReLU) else "forgot-derivative"
        return [(code, f"a forgotten {prime(layer)}: ∂L/∂A where δ = ∂L/∂A ⊙ {prime(layer)}", grad_output),
                ("derivative-at-a", f"{prime(layer)} taken at a instead of z",
                 grad_output * derivative(layer, part.output[0])),
                ("activation-for-derivative", "∂L/∂A ⊙ f(z), the activation where its derivative belongs",
                 grad_output * part.output[0])]
    if isinstance(layer, Linear):
        weights, after = part.params["W"], part.new_params["W"]
        found = [("updated-weights", "δ Wᵀ with the weights after the update", grad_output @ after.T),
                 ("one-term-only", "one term of the sum Σⱼ δⱼ Wᵢⱼ: the path's unit only, not every unit",
                  weights[:, path_unit(step, part)] * grad_output[path_unit(step, part)])]
        if weights.shape[0] == weights.shape[1]:
            found.append(("transpose", "δ W (a transposed weight: the gradient needs Wᵀ)", grad_output @ weights))
        return found
    return []


def path_unit(step, part):
    """The flat index of the path's entry at ``part``'s output."""
    return step.path[part.index + 1]


def parameter_gradient_slips(step, quantity):
    part = quantity.part
    if not isinstance(part.layer, Linear):
        return []
    x, delta = part.input[0], part.grad_output[0]
    found = []
    activation = activation_after(step, part)
    if activation is not None:
        forgot = activation.grad_output[0]          # ∂L/∂A instead of δ = ∂L/∂Z
        found.append(("forgot-derivative", f"a δ with a forgotten {prime(activation.layer)} (∂L/∂A used for ∂L/∂Z)",
                      np.outer(x, forgot) if quantity.key == "W" else forgot))
    if quantity.key == "W":
        before = step.layers[part.index - 1] if part.index > 0 else None
        if before is not None and isinstance(before.layer, (Sigmoid, Tanh, ReLU, LeakyReLU)):
            found.append(("used-z-for-a", "Z of the layer before used where its A belongs (xᵢ is an activation)",
                          np.outer(before.input[0], delta)))
        found.append(("transpose", "δᵢ xⱼ for xᵢ δⱼ (indices swapped: ∂L/∂W = Xᵀ δ)", swapped_outer(x, delta)))
    return found


def swapped_outer(x, delta):
    """∂L/∂W with its two indices mixed up: entry (i, j) is δᵢ xⱼ where both exist (NaN elsewhere, which
    matches nothing)."""
    swapped = np.full((len(x), len(delta)), np.nan)
    both = min(len(x), len(delta))
    swapped[:both, :both] = np.outer(delta[:both], x[:both])
    return swapped


def update_slips(step, quantity):
    part, key = quantity.part, quantity.key
    before, gradient = part.params[key], part.grads[key]
    frozen = f"{part.name}.{key}" in step.frozen
    if quantity.kind == "delta":
        return [] if frozen else [("forgot-lr", "−∂L/∂θ without the learning rate η", -gradient),
                                  ("sign", "+η ∂L/∂θ: a step up the gradient instead of down", step.lr * gradient)]
    if frozen:
        return [("frozen", "θ − η ∂L/∂θ, but this parameter is frozen: it stays as it was",
                 before - step.lr * gradient)]
    return [("sign", "θ + η ∂L/∂θ: a step up the gradient instead of down", before + step.lr * gradient),
            ("forgot-lr", "θ − ∂L/∂θ without the learning rate η", before - gradient),
            ("forgot-old-value", "−η ∂L/∂θ alone: the update without the old θ", -step.lr * gradient)]


def loss_slips(step, quantity):
    found = [("log10", "the loss with log₁₀ instead of the natural log", np.float64(step.loss_value / math.log(10)))]
    return found


def loss_gradient_slips(step, quantity):
    output = step.layers[-1].output[0]
    if isinstance(step.loss, SoftmaxCrossEntropy) and step.target.ndim == 1:
        target = np.zeros_like(output)
        target[int(step.target[0])] = 1.0
        return [("forgot-softmax", "z − y: the logits where the probabilities p = softmax(z) belong",
                 output - target)]
    return []


def probability_slips(step, quantity):
    logits = step.layers[-1].output[0]
    return [("not-normalised", "e^z without dividing by Σ e^z (softmax not normalised)", np.exp(logits)),
            ("softmax-of-negative", "softmax(−z)", softmax(-logits[None])[0])]


def loss_after_slips(step, quantity):
    return [("old-parameters", "the loss before the step (computed with the old parameters)",
             np.float64(step.loss_value))]
