"""The notebook runs, top to bottom, against the ingested demo database."""

import os

import pytest

from .conftest import ROOT


def test_explore_notebook_runs_against_the_demo(demo_db, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / "notebooks" / "explore.ipynb", as_version=4)
    monkeypatch.setenv("PODINSIGHTS_DB", str(demo_db))
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "#t=" in text  # the search cell printed links to moments
    assert "identity-entrepreneurship" in text or "followership" in text
    assert "'host'" in text and "'guest'" in text  # who raised each theme, by role
    # The report's own charts (pipeline.report.charts), drawn inline as SVG with their marks.
    svgs = [o["data"]["image/svg+xml"] for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) == 3 and all('-mark-1"' in svg for svg in svgs)
