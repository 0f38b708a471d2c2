"""Every notebook in docs/notebooks runs from top to bottom (in its fast mode) and is committed without outputs."""
import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "docs" / "notebooks").glob("*.ipynb"))
KERNEL = "nnscratch-tests"


def test_there_are_notebooks():
    assert NOTEBOOKS, "docs/notebooks holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: cell {number} has outputs"


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """A kernelspec for this Python (the one with nnscratch installed), in a temporary folder."""
    folder = tmp_path / "jupyter" / "kernels" / KERNEL
    folder.mkdir(parents=True)
    (folder / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nnscratch tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("NNSCRATCH_NOTEBOOK_FAST", "1")
    return KERNEL


@pytest.fixture(scope="module")
def mnist_available():
    from nnscratch.datasets import DataError, load_mnist
    try:
        load_mnist()
    except DataError as error:
        pytest.skip(f"the notebooks train on MNIST, which is not available here ({str(error).splitlines()[0]})")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_in_fast_mode(path, kernel, tmp_path, mnist_available):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, kernel_name=kernel, timeout=300,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()                    # a cell that raises fails the test (CellExecutionError)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    texts = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert "fast mode" in texts and "test accuracy" in texts, texts[-2000:]
    assert any("image/png" in output.get("data", {}) for output in outputs), "no inline figure"
    assert not [output for output in outputs if output.output_type == "error"]
