"""The engine imports NumPy and itself, nothing else; the outer parts are never reached from it."""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "src" / "nnscratch"
OUTER = {"cli", "datasets", "serialization", "presets", "plots", "ascii", "preprocess", "app", "__main__", "files",
         "export", "seed_formats"}
STANDARD_LIBRARY_ALLOWED = {"math", "numbers", "time", "collections", "functools", "itertools", "dataclasses",
                            "typing", "abc"}


def core_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if top not in OUTER:
            yield path


def imports_of(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level


def resolve(path, module, level):
    """The top-level name inside nnscratch that a relative import reaches."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    base = parts[:len(parts) - level]
    target = base + (module.split(".") if module else [])
    return target[0] if target else "__init__"


@pytest.mark.parametrize("path", list(core_modules()), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_imports_only_numpy_and_itself(path):
    for module, level in imports_of(path):
        if level == 0:
            top = module.split(".")[0]
            assert top == "numpy" or top in STANDARD_LIBRARY_ALLOWED, f"{path.name} imports {module}"
        else:
            reached = resolve(path, module, level)
            assert reached not in OUTER, f"{path.name} reaches the outer part {reached!r}"


def test_the_check_sees_the_core():
    names = {path.name for path in core_modules()}
    assert {"training.py", "losses.py", "linear.py", "base.py", "network.py"} <= names
