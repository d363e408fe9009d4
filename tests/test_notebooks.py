"""Teaching notebooks: stored without outputs, and they execute top to bottom.

In ``make test`` they run on the ``tiny`` preset (seconds); ``-m slow`` runs them
on the ``demo`` preset a teacher would use.
"""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name} holds outputs"


def _execute(path, preset, tmp_path, monkeypatch):
    monkeypatch.setenv("PHYSAI_NOTEBOOK_PRESET", preset)
    monkeypatch.setenv("PHYSAI_NOTEBOOK_OUT", str(tmp_path / "results"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    tables = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "text/html" in o.get("data", {}) and "status" in o["data"]["text/html"]
    ]
    assert images, "the notebook should show the experiment's figures"
    assert tables, "the notebook should show the verdict table"
    for cell in nb.cells:  # figures show once (from the display cell), not again where they were drawn
        if cell.cell_type == "code" and "run_experiment(" in cell.source:
            assert not [o for o in cell.outputs if "image/png" in o.get("data", {})], cell.source
    streams = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "ipywidgets" not in streams and "Warning" not in streams, streams[-2000:]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path, monkeypatch):
    _execute(path, "tiny", tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_on_demo(path, tmp_path, monkeypatch):
    _execute(path, "demo", tmp_path, monkeypatch)
