"""The layout is the architecture: the package root and ``layers/`` are the engine, which imports NumPy, a few
standard-library modules and itself, nothing else; the plain layers import NumPy and the engine only, never the
speed room ``fast/``, which reaches the layers and nothing outside the engine; every outer part lives in a named
subpackage; no module imports another that (directly or not, at the top or inside a function) imports it back."""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "src" / "nnscratch"
ENGINE = {"__init__", "errors", "initializers", "layers", "network", "losses", "optimizers", "schedules", "training",
          "callbacks", "metrics", "inspection", "averaging", "evaluation", "fast", "gradcheck"}
OUTER = {"__main__", "app", "cli", "datasets", "doctor", "exercises", "explain", "files", "images", "interop",
         "presets", "runs", "serialization", "sweep", "viz"}
STANDARD_LIBRARY_ALLOWED = {"math", "numbers", "time", "collections", "contextlib", "functools", "itertools",
                            "dataclasses", "typing", "abc", "warnings", "os", "threading", "concurrent", "types",
                            "ctypes", "glob", "copy"}  # ctypes, glob: OpenBLAS's thread setting (fast/products.py);
#                                                         copy: gradcheck checks copies, leaving the layer as it was
LAYER_MAY_REACH = {"layers", "initializers", "errors"}  # a layer imports its base, its siblings, initializers
LAYER_STANDARD_LIBRARY = {"functools", "contextlib"}    # the plain layers: NumPy and these only
FAST_MAY_REACH = {"fast", "layers"}                     # the speed room twins the layers, and nothing above them


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
        if top_name(path) == "fast":
            assert top in FAST_MAY_REACH, f"fast/{path.name} reaches {top!r}"
        assert not (top == "training" and top_name(path) != "training" and top_name(path) != "__init__"), \
            f"{path.name} imports training (for a utility, it belongs in the module it serves)"


@pytest.mark.parametrize("path", [path for path in modules() if top_name(path) == "layers"],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_plain_layers_import_numpy_and_the_engine_only(path):
    for module, level in imports_of(path):
        if level == 0:
            assert module.split(".")[0] in {"numpy"} | LAYER_STANDARD_LIBRARY, f"layers/{path.name} imports {module}"
        else:
            reached = resolve(path, module, level)
            assert reached and reached[0] != "fast", f"layers/{path.name} imports the speed room"


def module_name(parts):
    return ".".join(part for part in parts if part != "__init__")


def dependency_graph():
    """Imports between nnscratch's modules, those inside functions included: a deferred import that closes a
    circle is a circle still, only one that fails later. A module-level import of a.b.c also runs a/__init__
    and a/b/__init__ first; by the time a function runs, those have run already."""
    graph = {}
    for path in modules():
        name = module_name(path.relative_to(PACKAGE).with_suffix("").parts)
        tree = ast.parse(path.read_text())
        edges = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.ImportFrom) and node.level:
                target = module_name(resolve(path, node.module, node.level))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nnscratch."):
                target = node.module.removeprefix("nnscratch.")
            else:
                continue
            names = [f"{target}.{alias.name}".lstrip(".") for alias in node.names]   # from . import fast
            edges.update(names + [target])
            if node in tree.body:
                parts = target.split(".")
                edges.update(".".join(parts[:end]) for end in range(1, len(parts)))
        graph[name] = edges
    return graph


def import_cycles(names):
    """Every circle among the modules ``names`` (each found once, from where the search first closes it)."""
    graph = dependency_graph()

    def package_of(name):  # a module inside a package runs with its package's __init__ begun already
        parts = name.split(".")
        return [".".join(parts[:i]) for i in range(1, len(parts))]

    full = {name: {target for target in graph[name] if target in names} for name in names}
    state, cycles = {}, []

    def visit(node, trail):
        if state.get(node) == "done":
            return
        if state.get(node) == "active":
            cycles.append(" -> ".join(trail[trail.index(node):] + [node]))
            return
        state[node] = "active"
        for target in sorted(full.get(node, ())):
            if target != node and target not in package_of(node):
                visit(target, trail + [target])
        state[node] = "done"

    for name in sorted(full):
        visit(name, [name])
    return cycles


def test_the_engine_and_the_speed_room_import_in_no_circle():
    names = {name for name in dependency_graph() if (name.split(".")[0] or "__init__") in ENGINE}
    assert import_cycles(names) == []


def test_no_import_cycles():
    cycles = import_cycles(set(dependency_graph()))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


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
