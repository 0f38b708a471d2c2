"""docs/math.md's code runs and prints what the page says: the worked example as code, the 30-line NumPy loop
and its comparison with nnscratch, and the learning-rate sweep. (Blocks marked ``python no-run`` need MNIST.)"""
import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

MATH = Path(__file__).resolve().parents[2] / "docs" / "math.md"
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)


@pytest.fixture(scope="module")
def runs():
    """Each runnable block with what it printed, and the text block that follows it (if any)."""
    found = [(match.group(1).strip(), match.group(2)) for match in FENCE.finditer(MATH.read_text(encoding="utf-8"))]
    namespace, results = {"__name__": "math_doc"}, []
    for index, (info, code) in enumerate(found):
        if info != "python":
            continue
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(code, f"docs/math.md block {index}", "exec"), namespace)
        following = found[index + 1][1] if index + 1 < len(found) and found[index + 1][0] == "text" else None
        results.append((code, output.getvalue(), following))
    return results


def test_math_has_the_runnable_blocks(runs):
    assert len(runs) >= 4, f"expected the worked example, the NumPy loop, its comparison and the sweep; got {len(runs)}"


def test_worked_example_code_prints_the_numbers_of_the_page(runs):
    text = MATH.read_text(encoding="utf-8")
    block = re.search(r"<!-- worked-example:begin -->\s*```text\n(.*?)```", text, re.S).group(1)
    page = {name.strip(): value for name, value in (line.split(" = ", 1) for line in block.splitlines())}
    code, printed, _ = next(run for run in runs if "load_state_dict" in run[0] and "first.forward" in run[0])
    lines = printed.splitlines()
    assert len(lines) == 10, printed
    for line in lines:
        name, value = (part.strip() for part in line.split(" = ", 1))
        expected = np.array(eval(page[name]), dtype=float)
        np.testing.assert_allclose(np.array(eval(value), dtype=float).reshape(expected.shape), expected, atol=1.5e-6,
                                   err_msg=f"{name}: the code prints {value}, the page says {page[name]}")


def test_numpy_loop_learns_and_nnscratch_computes_the_same(runs):
    _, printed, _ = next(run for run in runs if "def lines(" in run[0])
    last = printed.strip().splitlines()[-1]
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", last).group(1))
    assert accuracy >= 85, f"the NumPy loop should learn the lines: {last}"
    assert len(next(run for run in runs if "def lines(" in run[0])[0].strip().splitlines()) <= 32
    _, printed, _ = next(run for run in runs if "the same batches" in run[0])
    differences = [float(value) for value in re.findall(r"largest difference: (\S+)", printed)]
    assert len(differences) == 4 and max(differences) < 1e-12, printed


def test_learning_rate_sweep_prints_what_the_page_shows(runs):
    _, printed, shown = next(run for run in runs if "DivergenceError" in run[0])
    assert shown is not None, "the sweep should be followed by its output"
    assert printed.strip().splitlines() == shown.strip().splitlines()
