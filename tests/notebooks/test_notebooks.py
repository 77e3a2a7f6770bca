"""The walkthrough notebooks run top to bottom (small mode) and are committed with their outputs.

Each notebook in ``notebooks/`` is executed with nbclient in a temporary
working directory with ``TFGEN_NOTEBOOK_MODE=small`` (tiny epochs and sample
counts; see ``tfgen.notebook``), so a change that breaks a notebook fails
here. The committed files themselves must hold their full-mode outputs
(pictures included), stay under 3 MB, and match ``notebooks/build.py``.
"""

import base64
import importlib.util
import os

import pytest

from tests.helpers import REPO_ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS_DIR = os.path.join(REPO_ROOT, "notebooks")
NOTEBOOK_NAMES = ["01_vae", "02_gan", "03_distributed", "04_export_and_serve", "05_evaluate"]
MAX_NOTEBOOK_BYTES = 3 * 1024 * 1024
CELL_TIMEOUT_SECONDS = 300
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _read(name):
    return nbformat.read(os.path.join(NOTEBOOKS_DIR, f"{name}.ipynb"), as_version=4)


def _outputs(notebook):
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


def _png_outputs(notebook):
    return [
        base64.b64decode(output["data"]["image/png"])
        for output in _outputs(notebook)
        if output.get("output_type") in ("display_data", "execute_result") and "image/png" in output.get("data", {})
    ]


def _errors(notebook):
    return [
        f"{output.get('ename')}: {output.get('evalue')}"
        for output in _outputs(notebook)
        if output.get("output_type") == "error"
    ]


def _load_build_script():
    spec = importlib.util.spec_from_file_location("notebooks_build", os.path.join(NOTEBOOKS_DIR, "build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_runs_in_small_mode(name, tmp_path, monkeypatch):
    monkeypatch.setenv("TFGEN_NOTEBOOK_MODE", "small")
    monkeypatch.setenv("TFGEN_NOTEBOOK_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    working_dir = tmp_path / "cwd"
    working_dir.mkdir()
    notebook = _read(name)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(working_dir)}},
        extra_arguments=["--IPKernelApp.capture_fd_output=False"],
    )
    # A failing cell raises CellExecutionError naming the cell and the traceback.
    client.execute()

    assert _errors(notebook) == []
    pngs = _png_outputs(notebook)
    assert pngs, f"{name} displayed no image"
    assert all(png.startswith(PNG_MAGIC) for png in pngs)
    assert os.listdir(working_dir) == [], "notebooks must write into their output_dir, not the working directory"
    written = os.listdir(tmp_path / "outputs")
    assert written and all(entry.startswith(f"{name}-") for entry in written)


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_committed_notebook_has_full_mode_outputs(name):
    path = os.path.join(NOTEBOOKS_DIR, f"{name}.ipynb")
    assert os.path.getsize(path) < MAX_NOTEBOOK_BYTES
    notebook = _read(name)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code_cells), "run notebooks/build.py --execute"
    assert _errors(notebook) == []
    assert _png_outputs(notebook), f"{name} has no picture in its committed outputs"
    text = "".join(
        output.get("text", "") for output in _outputs(notebook) if output.get("output_type") == "stream"
    )
    assert "mode: full" in text, "commit the full-mode execution"


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_committed_notebook_matches_build_script(name):
    built = _load_build_script().build(name)
    committed = _read(name)
    assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in built.cells], (
        f"notebooks/{name}.ipynb differs from notebooks/build.py; run `python notebooks/build.py --execute {name}`"
    )
