"""Gradient checks that say what is wrong: a backward pass against central differences, or beside a reference.

``check_layer`` compares a layer's backward pass with the definition of the derivative, ``compare_layers`` runs
a layer beside a reference layer, ``check_network`` follows a whole network layer by layer, and
``check_loss``, ``compare_losses`` and ``compare_optimizers`` do the same for losses and optimizers. Every array
is reported, with its relative error against one threshold (``THRESHOLD``), its worst entry and the two values
there; a wrong array gets a diagnosis read from its numbers, with a one-line hint. The checks run in float64
on copies, so the layer given is left as it was.
"""
import copy
import os

import numpy as np

# The one threshold: an array is right when max|got - expected| <= THRESHOLD * max(max|got|, max|expected|).
# Central differences in float64 agree with a right gradient to about 1e-9; a wrong one is off by far more.
THRESHOLD = 1e-6
SIGNATURE = 1e-4      # how closely a wrong array must fit a cause's signature to be given that cause's name
STEP = 1e-6           # h of the central difference (L(v + h) - L(v - h)) / 2h
TINY = 1e-12
PACKAGE = os.path.dirname(os.path.abspath(__file__))

HINTS = {
    "scale": "{array} is {factor:.4g} × the right value{meaning}: look for a factor or a division in the line "
             "that computes {array}",
    "sign": "{array} has the right size and the wrong sign: look for a subtraction the wrong way round "
            "(p - y, not y - p) or a lost minus in the line that computes {array}",
    "transpose": "{array} equals the right answer with a matrix transposed: dL/dx = dL/dy · Wᵀ, dL/dW = xᵀ · dL/dy",
    "missing-mask": "{array} is non-zero where the true gradient is exactly zero: the mask of forward is missing "
                    "(ReLU: only where x > 0; max-pooling: only at each window's maximum)",
    "only-input-gradient": "the parameter gradients are right, so grad_out arrived right: the mistake is in the "
                           "line that returns dL/dx",
    "accumulates": "a second backward added to grads[{key!r}] instead of replacing it: assign with =, not +=",
    "mutates-input": "{method} changed {array} in place: compute a new array (np.maximum(x, 0), g * mask) "
                     "instead of assigning into the one you were given",
    "updates-parameters": "backward changed params[{key!r}]: backward only fills grads; the optimizer alone "
                          "updates the parameters",
    "batch-coupled": "one example's {array} depends on the other examples of the batch: a sum or mean over "
                     "axis 0 where each row must stay on its own",
    "shape": "{array} has shape {got_shape}, expected {expected_shape}",
    "dtype": "{got_dtype} out for {given_dtype} in: an array made with NumPy's default dtype (np.zeros(shape), "
             "np.float64(...)) promotes the result; use x.dtype, np.zeros_like or a Python number",
    "not-implemented": "{method} raises NotImplementedError: fill it in (its docstring gives the equation and the "
                       "shapes)",
    "error": "{method} raised {message}",
    "zeros": "{array} is all zeros where the right one is not: is it ever assigned? (self.grads[{key!r}] = ...)",
    "not-finite": "{array} holds nan or inf: a division by zero, an overflowing exp, or an unfilled array "
                  "(np.empty)",
    "unknown": "no known cause fits these numbers: compare expected and got at the worst entry with the "
               "equation in math.md",
}


# ---- numbers of one array ------------------------------------------------------------------------------------

def relative_error(got, expected, floor=0.0):
    """max|got - expected| / max(max|got|, max|expected|): 0 for two equal arrays, about 1 for unrelated ones.

    ``floor`` is the smallest scale an array is measured against: for central differences, their own rounding
    error divided by the threshold, so that an array whose entries are all smaller than that rounding error
    (a gradient that is zero but for rounding) is not called wrong for the noise."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    scale = max(np.abs(got).max(initial=0.0), np.abs(expected).max(initial=0.0), floor, TINY)
    return float(np.abs(got - expected).max(initial=0.0) / scale)


def gradient_name(name):
    """The row name of a parameter's gradient: ``W`` -> ``dW``, ``0.W`` (in a Sequential) -> ``0.dW``."""
    prefix, _, key = name.rpartition(".")
    return f"{prefix}.d{key}" if prefix else f"d{key}"


def fits(got, expected, tolerance=SIGNATURE):
    return got.shape == expected.shape and relative_error(got, expected) <= tolerance


def row(array, ok=True, **fields):
    """One line of a report: an array, whether it is right, and the numbers that say so."""
    return {"array": array, "ok": ok, "relative_error": None, "threshold": THRESHOLD, "worst_index": [],
            "expected": None, "got": None, "diagnosis": None, "hint": None, **fields}


def problem(array, code, **details):
    """A row for an array that is wrong for a reason found without comparing numbers (shape, dtype, ...)."""
    details.setdefault("array", array)
    details.setdefault("key", array)
    return row(array, ok=False, diagnosis=code, hint=HINTS[code].format(**details))


def measure(array, got, expected, clues=None, floor=0.0):
    """The row of ``array``: relative error, worst entry, expected and got there; a diagnosis when wrong."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if got.shape != expected.shape:
        if got.ndim == 2 and got.shape == expected.shape[::-1] and fits(got.T, expected):
            return problem(array, "transpose")
        return problem(array, "shape", got_shape=got.shape, expected_shape=expected.shape)
    if expected.size and not np.all(np.isfinite(expected)):
        return row(array, ok=True, hint="the right values are not finite here, so they were not compared")
    if not np.all(np.isfinite(got)):
        return problem(array, "not-finite")
    difference = np.abs(got - expected)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(difference)), difference.shape)) \
        if difference.size else ()
    error = relative_error(got, expected, floor)
    result = row(array, ok=error <= THRESHOLD, relative_error=error, worst_index=list(worst),
                 expected=float(expected[worst]) if difference.size else None,
                 got=float(got[worst]) if difference.size else None)
    if not result["ok"]:
        code, details = diagnose(got, expected, clues or {})
        result.update(diagnosis=code, factor=details.get("factor"),
                      hint=HINTS[code].format(array=array, key=array.rpartition(".")[2].removeprefix("d"), **details))
    return result


def diagnose(got, expected, clues):
    """The likely cause of a wrong array, from its numbers: ``(code, details for the hint)``.

    ``clues`` may hold ``batch_size``, ``params_right`` (for dL/dx: every parameter gradient is right),
    ``alternatives`` (a function giving the right answers with a square matrix transposed) and ``coupled``
    (a function telling whether one example's result depends on the others where it must not)."""
    if not np.any(got) and np.any(expected):
        return "zeros", {}
    if fits(got, -expected):
        return "sign", {}
    factor = float(np.vdot(got, expected) / max(np.vdot(expected, expected), TINY))
    if np.any(expected) and not np.isclose(factor, 1.0) and fits(got, factor * expected):
        return "scale", {"factor": factor, "meaning": meaning_of(factor, clues.get("batch_size"))}
    if got.ndim == 2 and got.shape[0] == got.shape[1] and fits(got.T, expected):
        return "transpose", {}
    if any(fits(got, other) for other in (clues["alternatives"]() if "alternatives" in clues else [])):
        return "transpose", {}
    scale = max(np.abs(expected).max(initial=0.0), np.abs(got).max(initial=0.0))
    zero = np.abs(expected) <= TINY * max(scale, 1.0)
    if zero.any() and not zero.all() and np.abs(got[zero]).max() > THRESHOLD * scale \
            and fits(got[~zero], expected[~zero]):
        return "missing-mask", {}
    if "coupled" in clues and clues["coupled"]():
        return "batch-coupled", {}
    if clues.get("params_right"):
        return "only-input-gradient", {}
    return "unknown", {}


def meaning_of(factor, batch_size):
    """What a constant factor usually means: 1/N a mean for a sum, N a sum for a mean, 2 or ½ the quadratic ½."""
    if batch_size and batch_size > 1 and np.isclose(factor, 1.0 / batch_size, rtol=1e-3):
        return f" (1/N with N = {batch_size}: a mean where a sum belongs)"
    if batch_size and batch_size > 1 and np.isclose(factor, batch_size, rtol=1e-3):
        return f" (N = {batch_size}: a sum where a mean belongs; the loss averages over the batch)"
    if np.isclose(factor, 2.0, rtol=1e-3) or np.isclose(factor, 0.5, rtol=1e-3):
        return " (2 or ½: the ½ of the quadratic cost, whose derivative has no factor 2)"
    return ""


# ---- running a learner's code --------------------------------------------------------------------------------

class Failed(Exception):
    """The learner's code raised: ``row`` says where and what."""

    def __init__(self, row):
        super().__init__(row["hint"])
        self.row = row


def attempt(array, method, function, *arguments):
    """``function(*arguments)``; an exception it raises becomes a ``Failed`` whose row names ``array``."""
    try:
        return function(*arguments)
    except NotImplementedError:
        raise Failed(problem(array, "not-implemented", method=method)) from None
    except Exception as error:  # noqa: BLE001 - the learner's code: any exception is reported, not raised
        message = f"{type(error).__name__}: {error}{where(error)}"
        raise Failed(problem(array, "error", method=method, message=message)) from None


def where(error):
    """`` (file.py, line 12)`` for the last line of the traceback outside NumPy and nnscratch's engine."""
    found, trace = "", error.__traceback__
    while trace is not None:
        filename = trace.tb_frame.f_code.co_filename
        if not filename.startswith(PACKAGE) and f"{os.sep}numpy{os.sep}" not in filename:
            found = f" ({os.path.basename(filename)}, line {trace.tb_lineno})"
        trace = trace.tb_next
    return found


class Probe:
    """A copy of a layer in one dtype, whose random generators replay the same numbers at every forward."""

    def __init__(self, layer, dtype=np.float64):
        self.layer = copy.deepcopy(layer).astype(dtype)
        self.name = type(layer).__name__
        self.generators = [(generator, copy.deepcopy(generator.bit_generator.state))
                           for generator in generators_of(self.layer)]

    def rewind(self):
        """Put every random generator back where it was when the probe was made."""
        for generator, state in self.generators:
            generator.bit_generator.state = copy.deepcopy(state)

    def forward(self, x):
        self.rewind()
        return attempt("output", f"{self.name}.forward", self.layer.forward, x)

    def backward(self, grad_out):
        return attempt("dx", f"{self.name}.backward", self.layer.backward, grad_out)

    def slots(self):
        return self.layer.slots()

    def params(self):
        return {name: owner.params[key] for name, owner, key in self.slots()}

    def grads(self):
        return {name: owner.grads.get(key) for name, owner, key in self.slots()}


def generators_of(layer):
    found = [value for value in vars(layer).values() if isinstance(value, np.random.Generator)]
    for child in getattr(layer, "layers", []):
        found += generators_of(child)
    return found


def example_input(layer, rng, batch_size=None):
    """A random batch that ``layer`` accepts, read from its sizes: (N, in_features), (N, C, H, W), ..."""
    while hasattr(layer, "layers") and layer.layers:
        layer = layer.layers[0]
    if hasattr(layer, "kernel_size"):
        (kh, kw), (sh, sw) = layer.kernel_size, getattr(layer, "stride", (1, 1))
        channels = getattr(layer, "in_channels", 2)
        shape = (batch_size or 3, channels, max(5, kh + 2 * sh), max(5, kw + 2 * sw))
    else:
        features = next((getattr(layer, name) for name in ("in_features", "num_features", "features")
                         if isinstance(getattr(layer, name, None), int)), 5)
        shape = (batch_size or 4, features)
    return rng.standard_normal(shape)


def numerical_gradient(function, array, h=STEP):
    """∂function()/∂array by central differences, perturbing ``array`` in place (and restoring it)."""
    grad = np.zeros_like(array, dtype=np.float64)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)
    for index in range(flat.size):
        saved = flat[index]
        flat[index] = saved + h
        plus = function()
        flat[index] = saved - h
        minus = function()
        flat[index] = saved
        flat_grad[index] = (plus - minus) / (2 * h)
    return grad


# ---- layers --------------------------------------------------------------------------------------------------

def check_layer(layer, x=None, *, rng=0):
    """Check ``layer``'s backward pass against central differences, in float64, on a copy of the layer.

    Every array is reported: the returned dL/dx and each entry of ``grads``, with the contract (shapes, dtypes
    in the layer's own dtype, nothing changed in place, grads replaced rather than added to). ``x`` defaults
    to a random batch of the right shape; ``rng`` seeds it and the upstream gradient. Returns a ``Report``.
    """
    return layer_report(layer, None, x, rng, f"check_layer: {type(layer).__name__} against central differences")


def compare_layers(learner, reference, x=None, *, rng=0):
    """Run ``learner`` beside ``reference`` (its parameters copied from the reference) on the same input and
    upstream gradient, in float64: forward output, dL/dx and every gradient, each diagnosed. Returns a
    ``Report``."""
    title = f"compare_layers: {type(learner).__name__} beside {type(reference).__name__}"
    return layer_report(learner, reference, x, rng, title)


def layer_report(layer, reference, x, rng, title):
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    x = example_input(reference or layer, rng) if x is None else np.asarray(x, np.float64)
    seed = int(rng.integers(2**31))
    rows = contract_rows(layer, reference, x, seed)
    if not any(row["diagnosis"] in ("not-implemented", "error") for row in rows):
        rows += value_rows(layer, reference, x, seed, {row["array"] for row in rows if row["diagnosis"] == "shape"})
    return Report(title, merge(rows))


def merge(rows):
    """One row per array: a problem found by the contract replaces the plain comparison of the same array."""
    kept = {}
    for item in rows:
        if item["array"] not in kept or (kept[item["array"]]["ok"] and not item["ok"]):
            kept[item["array"]] = item
    return list(kept.values())


def paired(layer, reference, dtype):
    """The learner's probe and the reference's, the learner holding the reference's parameters."""
    learner = Probe(layer, dtype)
    if reference is None:
        return learner, None
    expected = Probe(reference, dtype)
    mine, theirs = learner.params(), expected.params()
    for name in mine.keys() & theirs.keys():
        if mine[name].shape == theirs[name].shape:
            mine[name][...] = theirs[name]
    return learner, expected


def contract_rows(layer, reference, x, seed):
    """The rules of the Layer contract, in the layer's own dtype (float32 unless it was made otherwise)."""
    dtype = np.float32 if layer.dtype == np.float32 else layer.dtype
    probe, _ = paired(layer, reference, dtype)
    x = x.astype(dtype)
    given = x.copy()
    rows = []
    try:
        y = probe.forward(x)
        if not isinstance(y, np.ndarray):
            return [problem("output", "shape", got_shape=type(y).__name__, expected_shape="an array")]
        if not np.array_equal(x, given, equal_nan=True):
            rows.append(problem("x", "mutates-input", method=f"{probe.name}.forward"))
            x = given.copy()
        if y.dtype != dtype:
            rows.append(problem("output", "dtype", got_dtype=y.dtype, given_dtype=np.dtype(dtype)))
        grad_out = np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)
        sent, before = grad_out.copy(), {name: array.copy() for name, array in probe.params().items()}
        grad_x = probe.backward(grad_out)
        if not np.array_equal(grad_out, sent, equal_nan=True):
            rows.append(problem("grad_out", "mutates-input", method=f"{probe.name}.backward"))
        rows += [problem(name, "updates-parameters") for name, array in probe.params().items()
                 if not np.array_equal(array, before[name], equal_nan=True)]
        rows += contract_of_results(probe, grad_x, x, dtype)
        first = {name: None if grad is None else np.array(grad) for name, grad in probe.grads().items()}
        probe.forward(x.copy())
        probe.backward(sent.copy())
        for name, grad in probe.grads().items():
            if first[name] is not None and grad is not None and first[name].shape == grad.shape \
                    and not np.allclose(grad, first[name], rtol=1e-4, atol=1e-6):
                rows.append(problem(gradient_name(name), "accumulates", key=name))
    except Failed as failure:
        rows.append(failure.row)
    return rows


def contract_of_results(probe, grad_x, x, dtype):
    """Shapes and dtypes of dL/dx and of each gradient."""
    rows = []
    if probe.layer.needs_input_grad:
        if not isinstance(grad_x, np.ndarray):
            rows.append(problem("dx", "shape", got_shape=type(grad_x).__name__, expected_shape=x.shape))
        elif grad_x.shape != x.shape:
            if not (grad_x.ndim == 2 and grad_x.shape == x.shape[::-1]):
                rows.append(problem("dx", "shape", got_shape=grad_x.shape, expected_shape=x.shape))
        elif grad_x.dtype != dtype:
            rows.append(problem("dx", "dtype", got_dtype=grad_x.dtype, given_dtype=np.dtype(dtype)))
    params = probe.params()
    for name, grad in probe.grads().items():
        if not isinstance(grad, np.ndarray):
            rows.append(problem(gradient_name(name), "shape", expected_shape=params[name].shape,
                                got_shape="nothing" if grad is None else type(grad).__name__))
        elif grad.shape != params[name].shape:
            if not (grad.ndim == 2 and grad.shape == params[name].shape[::-1]):
                rows.append(problem(gradient_name(name), "shape", got_shape=grad.shape,
                                    expected_shape=params[name].shape))
        elif grad.dtype != params[name].dtype:
            rows.append(problem(gradient_name(name), "dtype", got_dtype=grad.dtype, given_dtype=params[name].dtype))
    return rows


def value_rows(layer, reference, x, seed, skip):
    """Forward output (beside a reference), dL/dx and each gradient, in float64, each with its relative error."""
    probe, expected = paired(layer, reference, np.float64)
    try:
        y = probe.forward(x.copy())
        grad_out = np.random.default_rng(seed).standard_normal(y.shape)
        grad_x = probe.backward(grad_out.copy())
        grads = {name: np.array(grad, np.float64) for name, grad in probe.grads().items()}
        rows = []
        if expected is not None:
            reference_y = expected.forward(x.copy())
            rows.append(measure("output", y, reference_y))
            if reference_y.shape != y.shape:
                return rows
            reference_x = expected.backward(grad_out.copy())
            wanted = {name: np.array(grad) for name, grad in expected.grads().items()}
        else:
            reference_x, wanted = numerical_gradients(probe, x, grad_out)
        floor = 0.0 if expected is not None else rounding_floor(np.sum(np.abs(y * grad_out)))
        for name in wanted:
            if gradient_name(name) not in skip:
                rows.append(measure(gradient_name(name), grads[name], wanted[name], {"batch_size": len(x)}, floor))
        if probe.layer.needs_input_grad and "dx" not in skip:
            clues = {"batch_size": len(x), "params_right": bool(wanted) and all(item["ok"] for item in rows
                                                                              if item["array"] != "output"),
                     "alternatives": lambda: transposed_answers(expected or probe, x, grad_out, expected is None),
                     "coupled": lambda: batch_coupled(layer, reference, x, grad_out)}
            rows.append(measure("dx", grad_x, reference_x, clues, floor))
        return rows
    except Failed as failure:
        return [failure.row]


def rounding_floor(size_of_loss, h=STEP):
    """The scale below which central differences cannot tell a gradient from zero, divided by the threshold:
    L is computed with a rounding error of about ε·Σ|terms| (ε = 2.2e-16 in float64), and (L₊ - L₋) / 2h turns
    that into ε·Σ|terms| / h; ten times that, for the rounding of the terms themselves."""
    return float(10 * np.finfo(np.float64).eps * (size_of_loss + 1.0) / h / THRESHOLD)   # 10: a margin


def numerical_gradients(probe, x, grad_out):
    """dL/dx and dL/dθ of L = Σ forward(x) ⊙ grad_out, by central differences."""
    x = x.copy()

    def loss():
        return float(np.vdot(probe.forward(x), grad_out))

    grads = {name: numerical_gradient(loss, param) for name, param in probe.params().items()}
    return numerical_gradient(loss, x), grads


def transposed_answers(probe, x, grad_out, numerical):
    """The right dL/dx for the layer with each square weight matrix transposed: what ``g @ W`` computes where
    ``g @ W.T`` belongs."""
    answers = []
    for name, param in probe.params().items():
        if param.ndim == 2 and param.shape[0] == param.shape[1]:
            twin = copy.deepcopy(probe)
            twin.params()[name][...] = param.T
            if numerical:
                answers.append(numerical_gradients(twin, x, grad_out)[0])
            else:
                twin.forward(x.copy())
                answers.append(twin.backward(grad_out.copy()))
    return answers


def batch_coupled(layer, reference, x, grad_out):
    """Whether the first half of the batch gets a different dL/dx alone than beside the others, in a layer whose
    forward pass keeps examples apart (so that its backward pass must too)."""
    if len(x) < 2:
        return False
    half = len(x) // 2
    whole, alone = paired(layer, reference, np.float64)[0], paired(layer, reference, np.float64)[0]
    try:
        y_whole, y_alone = whole.forward(x.copy()), alone.forward(x[:half].copy())
        if not fits(y_whole[:half], y_alone, THRESHOLD):
            return False
        grad_whole = whole.backward(grad_out.copy())
        grad_alone = alone.backward(grad_out[:half].copy())
    except Failed:
        return False
    return not fits(np.asarray(grad_whole)[:half], np.asarray(grad_alone), THRESHOLD)


# ---- networks, losses, optimizers ----------------------------------------------------------------------------

def check_network(model, x, y, loss, *, reference=None):
    """A table per layer of a ``Sequential``, against central differences in float64: the gradient of the loss
    with respect to that layer's output, and each parameter gradient (and, beside a ``reference`` network with
    the same parameters, each layer's forward output). The first wrong layer is where to look."""
    probe = Probe(model)
    layers = probe.layer.layers
    x = np.asarray(x, np.float64)
    try:
        probe.rewind()
        outputs = outputs_of(probe.layer, x)
        _, grad = attempt("loss", f"{type(loss).__name__}.__call__", loss, outputs[-1], y)
        received = [None] * len(layers)
        for position in reversed(range(len(layers))):
            received[position] = grad
            grad = attempt("dx", f"{type(layers[position]).__name__}.backward", layers[position].backward, grad)
    except Failed as failure:
        return Report(f"check_network: {type(model).__name__}", [failure.row])
    wanted = outputs_of(Probe(reference).layer, x) if reference is not None else None

    def rest(position, after):
        probe.rewind()
        for later in layers[position + 1:]:
            after = later.forward(after)
        return loss(after, y)[0]

    rows, clues = [], {"batch_size": len(x)}
    floor = rounding_floor(abs(float(loss(outputs[-1], y)[0])))
    for position, layer in enumerate(layers):
        name = f"{position} {type(layer).__name__}"
        if wanted is not None:
            rows.append({**measure("output", outputs[position + 1], wanted[position + 1]), "layer": name})
        after = outputs[position + 1].copy()
        numeric = numerical_gradient(lambda: rest(position, after), after)  # noqa: B023 - used at once
        rows.append({**measure("dL/doutput", received[position], numeric, clues, floor), "layer": name})
        for _, owner, key in layer.slots():
            analytic = np.array(owner.grads[key], np.float64)
            numeric = numerical_gradient(lambda: rest(-1, x), owner.params[key])
            rows.append({**measure(f"d{key}", analytic, numeric, clues, floor), "layer": name})
    return Report(f"check_network: {type(model).__name__} against central differences", rows)


def outputs_of(model, x):
    outputs = [x]
    for layer in model.layers:
        outputs.append(layer.forward(outputs[-1]))
    return outputs


def check_loss(loss, output=None, target=None, *, rng=0):
    """Check a loss's gradient with respect to the output against central differences of its value."""
    return loss_report(loss, None, output, target, rng, f"check_loss: {type(loss).__name__} against central "
                                                         "differences")


def compare_losses(learner, reference, output=None, target=None, *, rng=0):
    """A learner's loss beside a reference on the same output and target: the value and dL/doutput."""
    title = f"compare_losses: {type(learner).__name__} beside {type(reference).__name__}"
    return loss_report(learner, reference, output, target, rng, title)


def loss_report(loss, reference, output, target, rng, title):
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    output = 2 * rng.standard_normal((4, 5)) if output is None else np.asarray(output, np.float64)
    target = rng.integers(0, output.shape[1], len(output)) if target is None else np.asarray(target)
    name, rows = type(loss).__name__, []
    try:
        small = output.astype(np.float32)
        given = small.copy()
        value, grad = attempt("doutput", f"{name}.__call__", loss, small, target)
        if not np.array_equal(small, given):
            rows.append(problem("output", "mutates-input", method=f"{name}.__call__"))
        if isinstance(grad, np.ndarray) and grad.dtype != np.float32:
            rows.append(problem("doutput", "dtype", got_dtype=grad.dtype, given_dtype=np.dtype(np.float32)))
        value, grad = attempt("doutput", f"{name}.__call__", loss, output.copy(), target)
        if reference is not None:
            wanted_value, wanted = reference(output.copy(), target)
            rows.append(measure("loss", np.float64(value), np.float64(wanted_value)))
        else:
            probe = output.copy()
            wanted = numerical_gradient(lambda: float(loss(probe, target)[0]), probe)
        floor = 0.0 if reference is not None else rounding_floor(abs(float(value)))
        rows.append(measure("doutput", grad, wanted, {"batch_size": len(output)}, floor))
    except Failed as failure:
        rows.append(failure.row)
    return Report(title, merge(rows))


def compare_optimizers(learner_class, reference_class, *, steps=5, rng=0, **options):
    """Two copies of a small model, one stepped by ``learner_class(model, **options)``, the other by
    ``reference_class``, with the same random gradients: each parameter's update (after - before) at every
    step, and whether a step changed a gradient it was given. Stops at the first step where something is
    wrong."""
    from .layers.linear import Linear
    from .network import Sequential
    generator = np.random.default_rng(rng)
    models = [Sequential(Linear(4, 3, rng=1), Linear(3, 2, rng=2)).astype(np.float64) for _ in range(2)]
    name, rows = learner_class.__name__, []
    try:
        mine = attempt("optimizer", f"{name}.__init__", lambda: learner_class(models[0], **options))
        theirs = reference_class(models[1], **options)
        for step in range(1, steps + 1):
            for (_, owner, key), (_, twin, _) in zip(models[0].slots(), models[1].slots(), strict=True):
                owner.grads[key] = generator.standard_normal(owner.params[key].shape)
                twin.grads[key] = owner.grads[key].copy()
            sent = {name: owner.grads[key].copy() for name, owner, key in models[0].slots()}
            before = {name: param.copy() for name, param in models[0].parameters().items()}
            attempt(f"step {step}", f"{name}.update", mine.step)
            theirs.step()
            rows = [problem(gradient_name(slot), "mutates-input", method=f"{name}.update")
                    for slot, owner, key in models[0].slots() if not np.array_equal(owner.grads[key], sent[slot])]
            rows += [{**measure(f"{slot} update", mine_param - before[slot], their_param - before[slot]),
                      "step": step} for (slot, mine_param), their_param
                     in zip(models[0].parameters().items(), models[1].parameters().values(), strict=True)]
            if not all(item["ok"] for item in rows):
                break
    except Failed as failure:
        rows.append(failure.row)
    return Report(f"compare_optimizers: {name} beside {reference_class.__name__}, {steps} steps", rows)


# ---- the report ----------------------------------------------------------------------------------------------

class Report:
    """The rows of a check, one per array: ``passed``, ``wrong()``, ``to_dict()``, and text or HTML to read."""

    def __init__(self, title, rows):
        self.title, self.rows = title, rows

    @property
    def passed(self):
        return all(item["ok"] for item in self.rows)

    def wrong(self):
        return [item for item in self.rows if not item["ok"]]

    def diagnoses(self):
        """``{array: diagnosis}`` for each wrong array."""
        return {item["array"]: item["diagnosis"] for item in self.wrong()}

    def to_dict(self):
        return {"title": self.title, "passed": self.passed, "threshold": THRESHOLD, "arrays": self.rows}

    def lines(self):
        verdict = "all right" if self.passed else f"{len(self.wrong())} of {len(self.rows)} arrays wrong"
        lines = [f"{self.title}: {verdict} (right: relative error <= {THRESHOLD:g})"]
        for item in self.rows:
            lines.append("  " + describe(item))
            if not item["ok"]:
                lines.append(f"      {item['diagnosis']}: {item['hint']}")
        return lines

    def __str__(self):
        return "\n".join(self.lines())

    def __repr__(self):
        return str(self)

    def _repr_html_(self):
        return html_table(self.title, self.rows, self.passed)


def describe(item):
    """One row as a line: where, whether right, the relative error, and the worst entry."""
    place = f"{item['layer']}: " if "layer" in item else f"step {item['step']}: " if "step" in item else ""
    mark = "ok   " if item["ok"] else "WRONG"
    text = f"{mark} {place}{item['array']}"
    if item["relative_error"] is not None:
        text += f"  relative error {item['relative_error']:.1e}"
        if not item["ok"] and item["got"] is not None:
            text += (f", worst at {tuple(item['worst_index'])}: expected {item['expected']:.6g}, "
                     f"got {item['got']:.6g}")
    return text


def html_table(title, rows, passed):
    """The report as an HTML table, for a notebook."""
    def escape(text):
        return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    cells = []
    for item in rows:
        error = "" if item["relative_error"] is None else f"{item['relative_error']:.1e}"
        worst = "" if item["got"] is None else (f"{tuple(item['worst_index'])}: expected {item['expected']:.6g}, "
                                                f"got {item['got']:.6g}")
        colour = "#2e7d32" if item["ok"] else "#c62828"
        verdict = "ok" if item["ok"] else f"<b>{escape(item['diagnosis'])}</b>: {escape(item['hint'])}"
        place = escape(item.get("layer", item.get("step", "")))
        cells.append(f"<tr><td>{place}</td><td><code>{escape(item['array'])}</code></td><td>{error}</td>"
                     f"<td>{escape(worst)}</td><td style='color:{colour}'>{verdict}</td></tr>")
    head = ("<tr><th></th><th>array</th><th>relative error</th><th>worst entry</th>"
            f"<th>verdict (right: relative error ≤ {THRESHOLD:g})</th></tr>")
    status = "all right" if passed else "something is wrong"
    return f"<p><b>{escape(title)}</b>: {status}</p><table>{head}{''.join(cells)}</table>"


# ---- the test suite's assertions -----------------------------------------------------------------------------

def assert_close(name, analytic, numeric, rtol, atol):
    """Raise ``AssertionError`` unless |analytic - numeric| <= atol + rtol·|numeric| everywhere (for tests)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise AssertionError(f"{name}: gradient shape {analytic.shape}, expected {numeric.shape}")
    error = np.abs(analytic - numeric)
    bound = atol + rtol * np.abs(numeric)
    worst = np.unravel_index(np.argmax(error - bound), error.shape)
    if not np.all(error <= bound):
        raise AssertionError(f"{name}: analytic {analytic[worst]:.8g} vs numerical {numeric[worst]:.8g} at "
                             f"{worst}, max abs error {error.max():.3g}")


def check_layer_gradients(layer, x, rtol=1e-5, atol=1e-7, seed=0, before_forward=None):
    """Compare ``layer.backward`` with central differences for the input and every parameter, converting the
    layer to float64 in place and raising ``AssertionError`` on a mismatch (for tests, where the layer may be
    lent to a fast twin). ``before_forward`` is called before each forward pass (to reset a random generator)."""
    layer.astype(np.float64)
    x = np.array(x, dtype=np.float64)
    reset = before_forward or (lambda: None)
    reset()
    y = layer.forward(x)
    weights = np.random.default_rng(seed).standard_normal(y.shape)

    def loss():
        reset()
        return float(np.sum(layer.forward(x) * weights))

    reset()
    layer.forward(x)
    grad_x = layer.backward(weights.copy())
    analytic_params = {key: grad.copy() for key, grad in layer.grads.items()}
    assert_close(f"{type(layer).__name__} dL/dx", grad_x, numerical_gradient(loss, x), rtol, atol)
    for key, param in layer.params.items():
        assert_close(f"{type(layer).__name__} dL/d{key}", analytic_params[key], numerical_gradient(loss, param),
                     rtol, atol)


def check_loss_gradient(loss, output, target, rtol=1e-5, atol=1e-7):
    """Compare a loss's gradient with central differences of its value, raising ``AssertionError`` (for tests)."""
    output = np.array(output, dtype=np.float64)
    _, grad = loss(output.copy(), target)
    numeric = numerical_gradient(lambda: loss(output, target)[0], output)
    assert_close(f"{type(loss).__name__} dL/doutput", grad, numeric, rtol, atol)


__all__ = ["Report", "THRESHOLD", "check_layer", "check_loss", "check_network", "compare_layers",
           "compare_losses", "compare_optimizers", "example_input", "numerical_gradient", "relative_error"]
