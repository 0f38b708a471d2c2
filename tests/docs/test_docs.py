"""The code in the README and the guide runs.

Each file's ```python blocks run in order, in one namespace per file, in an empty temporary folder. Blocks
fenced as ```python no-run (they need the MNIST download) and shell blocks are skipped.
"""
import re
from pathlib import Path

import pytest

import nnscratch

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ["README.md", "docs/guide.md"]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
MINIMUM_BLOCKS = {"docs/guide.md": 8}


def code_blocks(text):
    """Every fenced block as ``(info string, first line number of the code, code)``."""
    return [(match.group(1).strip(), text.count("\n", 0, match.start(2)) + 1, match.group(2))
            for match in FENCE.finditer(text)]


def runnable(text):
    return [(line, code) for info, line, code in code_blocks(text) if info == "python"]


def test_code_blocks_finds_fences():
    text = "intro\n```python\na = 1\n```\n\n```python no-run\nb = 2\n```\n```sh\nls\n```\n"
    blocks = code_blocks(text)
    assert [(info, line) for info, line, _ in blocks] == [("python", 3), ("python no-run", 7), ("sh", 10)]
    assert runnable(text) == [(3, "a = 1\n")]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_python_blocks_run(document, tmp_path, monkeypatch):
    text = (ROOT / document).read_text(encoding="utf-8")
    blocks = runnable(text)
    assert len(blocks) >= MINIMUM_BLOCKS.get(document, 1), (
        f"{document}: expected at least {MINIMUM_BLOCKS.get(document, 1)} runnable python blocks, found {len(blocks)}"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # Blocks may register layers of their own; leave the registry as it was for the other tests.
    registered = dict(nnscratch.LAYERS)
    namespace = {"__name__": f"docs_{Path(document).stem}"}
    try:
        for line, code in blocks:
            compiled = compile(code, f"{document}, block at line {line}", "exec")
            try:
                exec(compiled, namespace)
            except Exception as error:
                pytest.fail(f"{document}: the python block at line {line} failed: {type(error).__name__}: {error}")
    finally:
        nnscratch.LAYERS.clear()
        nnscratch.LAYERS.update(registered)


def test_every_block_says_what_it_is():
    """An unlabelled fence would silently not run; each block in the guide names its language."""
    text = (ROOT / "docs/guide.md").read_text(encoding="utf-8")
    labels = {info for info, _, _ in code_blocks(text)}
    assert labels <= {"python", "python no-run", "sh", "text"}, f"unexpected code fences in the guide: {labels}"
