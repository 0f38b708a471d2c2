"""The worked example of docs/math.md, recomputed with nnscratch.

The document's block gives a 2-3-2 network's weights, one input and its label; this test builds that network,
runs one forward pass, the loss, the backward pass and one SGD step, and checks every number the document
prints, to the precision it is printed with. It also checks that every ``path: Name`` reference in the
document names a function or class defined in that file.
"""
import ast
import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.layers import softmax

ROOT = Path(__file__).resolve().parents[2]
MATH = ROOT / "docs" / "math.md"
GIVEN = ["x", "label", "lr", "W1", "b1", "W2", "b2"]
COMPUTED = ["z1", "a1", "z2", "p", "loss", "dL_dz2", "dL_dW2", "dL_db2", "dL_da1", "dL_dz1", "dL_dW1",
            "dL_db1", "dL_dx", "W1_new", "b1_new", "W2_new", "b2_new"]
NUMBER = re.compile(r"-?\d+(?:\.(\d+))?")
REFERENCE = re.compile(r"`((?:src|tests)/[\w/]+\.py): ([A-Za-z_][\w.]*)`")


def worked_block(text):
    match = re.search(r"<!-- worked-example:begin -->\s*```text\n(.*?)```\s*<!-- worked-example:end -->", text,
                      re.S)
    assert match, "docs/math.md has no ```text block between <!-- worked-example:begin/end --> markers"
    entries = {}
    for line in match.group(1).strip().splitlines():
        name, _, value = line.partition("=")
        name = name.strip()
        assert name not in entries, f"worked example: {name!r} appears twice"
        entries[name] = value.strip()
    return entries


def parse(value):
    """The value as an array, and the rounding half-unit of each printed number (same order as ravel)."""
    decimals = [len(match.group(1) or "") for match in NUMBER.finditer(value)]
    array = np.array(ast.literal_eval(value), dtype=np.float64)
    assert array.size == len(decimals), f"could not read the numbers of {value!r}"
    tolerance = 0.5 * 10.0 ** -np.array(decimals, dtype=np.float64) + 1e-12
    return array, tolerance.reshape(array.shape)


def compute(given):
    """Everything the document prints, computed by nnscratch's layers, loss and optimizer in float64."""
    first = nn.Linear(2, 3, dtype=np.float64)
    hidden = nn.Sigmoid()
    second = nn.Linear(3, 2, dtype=np.float64)
    model = nn.Sequential(first, hidden, second)
    model.load_state_dict({"0.W": given["W1"], "0.b": given["b1"], "2.W": given["W2"], "2.b": given["b2"]})
    x, label = given["x"], np.array([int(given["label"])])

    z1 = first.forward(x)
    a1 = hidden.forward(z1)
    z2 = second.forward(a1)
    loss, dL_dz2 = nn.SoftmaxCrossEntropy()(z2, label)
    dL_da1 = second.backward(dL_dz2)
    dL_dz1 = hidden.backward(dL_da1)
    dL_dx = first.backward(dL_dz1)
    values = {"z1": z1, "a1": a1, "z2": z2, "p": softmax(z2), "loss": loss, "dL_dz2": dL_dz2,
              "dL_dW2": second.grads["W"].copy(), "dL_db2": second.grads["b"].copy(), "dL_da1": dL_da1,
              "dL_dz1": dL_dz1, "dL_dW1": first.grads["W"].copy(), "dL_db1": first.grads["b"].copy(),
              "dL_dx": dL_dx}
    # The network as a whole must agree with the layer-by-layer pass above.
    np.testing.assert_allclose(model.forward(x), z2, rtol=0, atol=1e-15)
    nn.SGD(model, lr=float(given["lr"])).step()
    values.update(W1_new=first.params["W"], b1_new=first.params["b"], W2_new=second.params["W"],
                  b2_new=second.params["b"])
    return values


@pytest.fixture(scope="module")
def document():
    entries = worked_block(MATH.read_text(encoding="utf-8"))
    assert set(entries) == set(GIVEN + COMPUTED), (
        f"worked example: expected the names {GIVEN + COMPUTED}, found {list(entries)}"
    )
    given = {name: parse(entries[name])[0] for name in GIVEN}
    return entries, compute(given)


@pytest.mark.parametrize("name", COMPUTED)
def test_document_matches_nnscratch(document, name):
    entries, computed = document
    printed, tolerance = parse(entries[name])
    value = np.asarray(computed[name], dtype=np.float64)
    assert value.shape == printed.shape, f"{name}: document has shape {printed.shape}, nnscratch {value.shape}"
    wrong = np.abs(value - printed) > tolerance
    assert not wrong.any(), (
        f"{name}: document says {entries[name]}, nnscratch computes {np.array2string(value, precision=8)}"
    )


def test_worked_example_is_a_real_step(document):
    """Guard against a block that checks nothing: the step must change every parameter and lower the loss."""
    entries, computed = document
    for name in ("W1", "b1", "W2", "b2"):
        before = parse(entries[name])[0]
        assert np.all(np.abs(computed[f"{name}_new"] - before) > 1e-6), f"{name} did not change in the step"
    model = nn.Sequential(nn.Linear(2, 3, dtype=np.float64), nn.Sigmoid(), nn.Linear(3, 2, dtype=np.float64))
    model.load_state_dict({"0.W": computed["W1_new"], "0.b": computed["b1_new"], "2.W": computed["W2_new"],
                           "2.b": computed["b2_new"]})
    label = np.array([int(entries["label"])])
    after = nn.SoftmaxCrossEntropy().value(model.forward(parse(entries["x"])[0]), label)
    assert after < computed["loss"], f"loss after the step {after:.6f}, before {computed['loss']:.6f}"


def test_parse_reads_precision():
    array, tolerance = parse("[[0.5, -1.25], [3, 0.000001]]")
    assert array.shape == (2, 2) and array[0, 1] == -1.25
    np.testing.assert_allclose(tolerance.ravel(), np.array([0.05, 0.005, 0.5, 0.0000005]) + 1e-12)


def resolve(path, name):
    """The object ``name`` (dotted) defined in the file ``path`` relative to the repository root."""
    file = ROOT / path
    if not file.is_file():
        raise LookupError(f"{path} does not exist")
    if path.startswith("src/"):
        module = importlib.import_module(".".join(Path(path[len("src/"):]).with_suffix("").parts))
    else:
        spec = importlib.util.spec_from_file_location(f"docs_reference_{file.stem}", file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    target = module
    for part in name.split("."):
        if part not in vars(target):
            raise LookupError(f"{path}: {name}: {part!r} is not defined there")
        target = vars(target)[part]
    target = inspect.unwrap(target.fget if isinstance(target, property) else target)
    if not (inspect.isclass(target) or inspect.isroutine(target) or inspect.ismodule(target)):
        # a constant (a threshold, a step size): it must be assigned in that very file
        if not re.search(rf"^{re.escape(name)}\s*[:=]", file.read_text(encoding="utf-8"), re.M):
            raise LookupError(f"{path}: {name} is not assigned there")
        return target
    source = Path(inspect.getsourcefile(target)).resolve()
    if source != file.resolve():
        raise LookupError(f"{path}: {name} is defined in {source}, not in {path}")
    return target


@pytest.mark.parametrize("document_name", ["math.md", "guide.md"])
def test_code_references_resolve(document_name):
    text = (ROOT / "docs" / document_name).read_text(encoding="utf-8")
    references = sorted(set(REFERENCE.findall(text)))
    if document_name == "math.md":
        assert len(references) >= 30, f"math.md names only {len(references)} functions; expected 30 or more"
    problems = []
    for path, name in references:
        try:
            resolve(path, name)
        except LookupError as error:
            problems.append(str(error))
    assert not problems, f"{document_name} refers to code that does not exist: " + "; ".join(problems)


def test_reference_check_catches_a_wrong_name():
    with pytest.raises(LookupError, match="not defined"):
        resolve("src/nnscratch/layers/linear.py", "Linear.backwards")
    with pytest.raises(LookupError, match="does not exist"):
        resolve("src/nnscratch/layers/dense.py", "Linear")
    with pytest.raises(LookupError, match="defined in"):
        resolve("src/nnscratch/layers/linear.py", "Layer")  # imported there, but defined in base.py
