"""The networks that ship with nnscratch step: Mazur's 2-2-2 network reproduces the numbers of his page, and
math.md's worked example reproduces the numbers of its block; both print their whole table."""
import json
from pathlib import Path

import numpy as np
import pytest

import nnscratch.cli as cli
from tests.docs.test_worked_example import COMPUTED, GIVEN, compute, parse, worked_block

MATH = Path(__file__).resolve().parents[2] / "docs" / "math.md"
# Matt Mazur, "A Step by Step Backpropagation Example" (2015), as his page prints them. His w1..w4 feed the
# hidden units (h1 = w1 i1 + w2 i2 + b1, h2 = w3 i1 + w4 i2 + b1), so with one example per row w1, w2 are the
# first column of W⁽¹⁾ and w3, w4 the second; w5..w8 fill W⁽²⁾ alike.
MAZUR_OUTPUTS = {"out_h1": ("1", 0, "0.593269992"), "out_h2": ("1", 1, "0.596884378"),
                 "out_o1": ("3", 0, "0.75136507"), "out_o2": ("3", 1, "0.772928465")}
MAZUR_WEIGHTS = {"w1": ("0", (0, 0), "0.149780716"), "w2": ("0", (1, 0), "0.19956143"),
                 "w3": ("0", (0, 1), "0.24975114"), "w4": ("0", (1, 1), "0.29950229"),
                 "w5": ("2", (0, 0), "0.35891648"), "w6": ("2", (1, 0), "0.408666186"),
                 "w7": ("2", (0, 1), "0.511301270"), "w8": ("2", (1, 1), "0.561370121")}
MAZUR_TOTAL_ERROR = "0.298371109"


@pytest.fixture
def main():
    return cli.main


def example(main, capsys, name):
    assert main(["step", "--example", name, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    return answer, {layer["name"]: layer for layer in answer["layers"]}


def agrees(value, printed):
    """Within 1e-9 of the printed number, or, for one printed to fewer than nine decimals, within half a unit of
    its last digit (Mazur prints w2 as 0.19956143: the exact value rounds to it)."""
    decimals = len(printed.partition(".")[2])
    return abs(value - float(printed)) <= max(1e-9, 0.5 * 10.0 ** -decimals)


def test_mazur_total_error_outputs_and_new_weights(main, capsys):
    answer, layers = example(main, capsys, "mazur")
    assert answer["example"] == {"name": "mazur"} and answer["lr"] == 0.5 and answer["loss_name"] == "Quadratic"
    assert answer["target"] == [[0.01, 0.99]] and answer["input"] == [[0.05, 0.10]]
    assert agrees(answer["loss"], MAZUR_TOTAL_ERROR), answer["loss"]
    assert abs(answer["loss"] - 0.298371109) <= 1e-9
    for name, (layer, unit, printed) in MAZUR_OUTPUTS.items():
        value = layers[layer]["output"][0][unit]
        assert agrees(value, printed), f"{name}: Mazur {printed}, nnscratch {value!r}"
    for name, (layer, index, printed) in MAZUR_WEIGHTS.items():
        value = np.array(layers[layer]["new_params"]["W"])[index]
        assert agrees(value, printed), f"{name}: Mazur {printed}, nnscratch {value!r}"
    assert answer["loss_after"] < answer["loss"]


def test_mazur_biases_are_frozen_but_their_gradients_shown(main, capsys):
    answer, layers = example(main, capsys, "mazur")
    assert answer["frozen"] == ["0.b", "2.b"]
    for name, bias in (("0", 0.35), ("2", 0.60)):
        assert layers[name]["new_params"]["b"] == [bias, bias] and layers[name]["update"]["b"] == [0.0, 0.0]
        assert all(abs(value) > 1e-3 for value in layers[name]["grads"]["b"])
    # ∂E/∂w5 = δ_o1 · out_h1 = 0.082167041 on his page
    assert agrees(layers["2"]["grads"]["W"][0][0], "0.082167041")


def test_the_worked_example_reproduces_math_md(main, capsys):
    answer, layers = example(main, capsys, "worked")
    entries = worked_block(MATH.read_text(encoding="utf-8"))
    given = {name: parse(entries[name])[0] for name in GIVEN}
    assert answer["input"] == given["x"].tolist() and answer["target"] == int(given["label"])
    assert answer["lr"] == float(given["lr"]) and answer["frozen"] == []
    for stage, layer in (("1", "0"), ("2", "2")):
        assert layers[layer]["params"] == {"W": given[f"W{stage}"].tolist(), "b": given[f"b{stage}"].tolist()}
    values = {"z1": layers["0"]["output"], "a1": layers["1"]["output"], "z2": layers["2"]["output"],
              "loss": answer["loss"], "dL_dz2": layers["2"]["grad_output"], "dL_da1": layers["2"]["grad_input"],
              "dL_dz1": layers["1"]["grad_input"], "dL_dx": layers["0"]["grad_input"]}
    for stage, layer in (("1", "0"), ("2", "2")):
        values.update({f"dL_dW{stage}": layers[layer]["grads"]["W"], f"dL_db{stage}": layers[layer]["grads"]["b"],
                       f"W{stage}_new": layers[layer]["new_params"]["W"],
                       f"b{stage}_new": layers[layer]["new_params"]["b"]})
    engine = compute(given)  # the same step by the layers called one by one (tests/docs/test_worked_example.py)
    for name in COMPUTED:
        if name == "p":
            continue  # inside the fused loss; the table shows it, the JSON does not carry it
        printed, tolerance = parse(entries[name])
        value = np.asarray(values[name], dtype=np.float64)
        assert value.shape == printed.shape, f"{name}: shape {value.shape}, math.md {printed.shape}"
        assert np.all(np.abs(value - printed) <= tolerance), f"{name}: math.md {entries[name]}, step {value}"
        np.testing.assert_allclose(value, engine[name], rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name, shown", [
    ("mazur", ["W⁽²⁾ after = W⁽²⁾ + ΔW⁽²⁾", "[[0.35891648, 0.51130127], [0.408666186, 0.561370121]]",
               "0.298371109", "Δb⁽¹⁾ = 0: frozen", "what SGD would have added", "Quadratic.__call__"]),
    ("worked", ["P = softmax(Z⁽²⁾)", "[0.555830923, 0.444169077]", "∂L/∂Z⁽²⁾ = (P − Y)/N",
                "[[0.832959273, -0.932959273], [0.313817748, 0.186182252], [-0.394505222, 0.494505222]]"]),
])
def test_the_examples_print_the_whole_table(main, capsys, name, shown):
    assert main(["step", "--example", name]) == 0
    text = capsys.readouterr().out
    for expected in shown:
        assert expected in text, f"{expected!r} not in the table:\n{text}"
    assert "shape" not in text and "on the path" not in text, "a small example is shown whole"
