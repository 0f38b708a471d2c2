"""The figures the guide quotes are the ones its code gives: the printed output of the lines example, and the
MNIST accuracies (run when MNIST is in the cache; a fresh clone without it skips that part)."""
import contextlib
import io
import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide.md"
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
TOLERANCE = 0.1  # percentage points: the runs are bit-reproducible, this allows a BLAS's rounding


def blocks():
    return [(match.group(1).strip(), match.group(2)) for match in FENCE.finditer(GUIDE.read_text(encoding="utf-8"))]


def test_the_lines_example_prints_what_the_guide_shows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = blocks()
    index = next(number for number, (info, code) in enumerate(found) if info == "python" and "make_lines" in code)
    assert found[index + 1][0] == "text", "the lines example should be followed by its output"
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(found[index][1], "guide: the lines example", "exec"), {"__name__": "guide"})
    printed = output.getvalue().splitlines()
    for line in found[index + 1][1].splitlines():
        if line != "...":
            assert line in printed, f"the guide shows {line!r}, the code prints:\n" + "\n".join(printed)


def test_the_mnist_figures_are_what_the_code_gives(tmp_path, monkeypatch):
    from nnscratch.datasets import DataError, load_mnist
    try:
        load_mnist(download=False)
    except DataError:
        pytest.skip("MNIST is not cached (run: nnscratch data fetch)")
    text = GUIDE.read_text(encoding="utf-8")
    quoted = re.search(r"This reaches ([\d.]+) % validation accuracy after the first epoch, ([\d.]+) % after the "
                       r"fifth, and ([\d.]+) % on the\s+test set", text)
    assert quoted, "the guide's sentence with the MNIST figures was not found"
    code = next(code for info, code in blocks() if info == "python no-run" and "load_mnist()" in code)
    namespace = {"__name__": "guide"}
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile("import nnscratch as nn\n" + code, "guide: the MNIST example", "exec"), namespace)
    history, nn = namespace["history"], namespace["nn"]
    test = nn.evaluate(namespace["model"], namespace["x_test"], namespace["y_test"]).accuracy
    measured = [100 * history.epochs[0]["val_accuracy"], 100 * history.epochs[4]["val_accuracy"], 100 * test]
    for what, figure, value in zip(("epoch 1 validation", "epoch 5 validation", "test"), quoted.groups(), measured,
                                   strict=True):
        assert abs(float(figure) - value) <= TOLERANCE, \
            f"{what}: the guide says {figure} %, the code gives {value:.2f} %"
