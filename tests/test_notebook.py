"""The notebook in docs/ runs from top to bottom in a real kernel, on the code it ships with,
and its charts are drawn."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).parent.parent
NOTEBOOK = ROOT / "docs" / "workbench.ipynb"


def test_the_notebook_runs_and_draws_its_charts() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    client = NotebookClient(notebook, timeout=300, kernel_name="python3")
    client.execute(cwd=str(ROOT / "docs"))  # raises CellExecutionError on any cell's error
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) == 2
    tables = [out["data"]["text/plain"] for out in outputs if "text/plain" in out.get("data", {})]
    assert any("approval 70%" in text for text in tables)
