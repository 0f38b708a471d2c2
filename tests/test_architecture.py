"""The layout is the architecture: the package root and ``layers/`` are the engine, which imports NumPy, a few
standard-library modules and itself, nothing else; every outer part lives in a named subpackage; no module
imports another that (directly or not) imports it back."""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "src" / "nnscratch"
ENGINE = {"__init__", "errors", "initializers", "layers", "network", "losses", "optimizers", "schedules", "training",
          "callbacks", "metrics", "inspection", "averaging"}
OUTER = {"__main__", "app", "cli", "datasets", "explain", "images", "interop", "presets", "runs", "serialization", "sweep",
         "viz"}
STANDARD_LIBRARY_ALLOWED = {"math", "numbers", "time", "collections", "contextlib", "functools", "itertools",
                            "dataclasses", "typing", "abc", "warnings", "os", "threading", "concurrent",
                            "ctypes", "glob"}  # ctypes and glob: to find OpenBLAS's thread setting (windows.py)
LAYER_MAY_REACH = {"layers", "initializers"}  # a layer imports its base, its siblings' helpers, initializers


def top_name(path):
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def modules():
    return sorted(PACKAGE.rglob("*.py"))


def engine_modules():
    return [path for path in modules() if top_name(path) in ENGINE]


def imports_of(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level


def resolve(path, module, level):
    """The dotted module inside nnscratch that a relative import reaches, as a list of parts."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1] + ["__init__"]
    base = parts[:len(parts) - level]
    return base + (module.split(".") if module else [])


def test_every_top_level_name_is_engine_or_a_named_outer_room():
    names = {top_name(path) for path in modules()}
    assert names <= ENGINE | OUTER, f"unplaced modules: {sorted(names - ENGINE - OUTER)}"


@pytest.mark.parametrize("path", engine_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_engine_imports_only_numpy_and_itself(path):
    for module, level in imports_of(path):
        if level == 0:
            top = module.split(".")[0]
            assert top == "numpy" or top in STANDARD_LIBRARY_ALLOWED, f"{path.name} imports {module}"
            continue
        reached = resolve(path, module, level)
        top = reached[0] if reached else "__init__"
        assert top in ENGINE, f"{path.name} reaches the outer part {top!r}"
        if top_name(path) == "layers":
            assert top in LAYER_MAY_REACH, f"layers/{path.name} reaches {top!r}"
        assert not (top == "training" and top_name(path) != "training" and top_name(path) != "__init__"), \
            f"{path.name} imports training (for a utility, it belongs in the module it serves)"


def dependency_graph():
    """Module-level imports between nnscratch's modules (imports inside functions are deliberate deferrals)."""
    graph = {}
    for path in modules():
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        edges = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.level:
                target = resolve(path, node.module, node.level)
                for alias in node.names:
                    edges.add(".".join(p for p in target if p != "__init__"))
        graph[name.removesuffix(".__init__")] = edges
    return graph


def test_no_import_cycles():
    graph = dependency_graph()

    def package_of(name):  # importing a.b runs a/__init__ first
        parts = name.split(".")
        return [".".join(parts[:i]) for i in range(1, len(parts))]

    full = {name: {target for target in edges if target in graph or target.split(".")[0] in graph}
            for name, edges in graph.items()}
    state = {}

    def visit(node, trail):
        if state.get(node) == "done":
            return
        if state.get(node) == "active":
            cycle = trail[trail.index(node):] + [node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        state[node] = "active"
        for target in sorted(full.get(node, ())):
            if target != node and target not in package_of(node):
                visit(target, trail + [target])
        state[node] = "done"

    for name in sorted(full):
        visit(name, [name])


def test_the_check_sees_the_engine():
    names = {str(path.relative_to(PACKAGE)) for path in engine_modules()}
    assert {"training.py", "losses.py", "layers/linear.py", "layers/base.py", "network.py"} <= names


def test_the_readme_tree_lists_every_module_and_only_those():
    readme = (PACKAGE.parents[1] / "README.md").read_text()
    section = readme[readme.index("## The project"):]
    block = section[section.index("```\n") + 4:]
    block = block[:block.index("```")]
    listed = {line.split()[0] for line in block.splitlines() if line.startswith("  ") and ".py" in line.split()[0]}
    actual = {str(path.relative_to(PACKAGE)) for path in modules()}
    assert listed == actual, f"missing from the README: {sorted(actual - listed)}; gone: {sorted(listed - actual)}"
