"""The walkthrough notebooks run top to bottom (small mode) and are committed with their full-mode outputs.

Each walkthrough's source is ``notebooks/NAME.py`` (jupytext percent format),
paired with ``notebooks/NAME.ipynb``, which holds the outputs of a full-mode
run. Its first code cell, tagged ``parameters``, sets ``mode = "full"``; the
tests execute every notebook with papermill and ``mode = "small"`` (tiny
epochs and sample counts) in a temporary working directory, so a change that
breaks a notebook fails here. They also check that each committed ``.ipynb``
has its ``.py``'s cells and a complete full-mode run (pictures included, no
errors, under 3 MB), and that an unknown mode stops a notebook with a
``ValueError``.
"""

import base64
import os

import pytest

from tests.helpers import REPO_ROOT

nbformat = pytest.importorskip("nbformat")
jupytext = pytest.importorskip("jupytext")
papermill = pytest.importorskip("papermill")

NOTEBOOKS_DIR = os.path.join(REPO_ROOT, "notebooks")
NOTEBOOK_NAMES = ["01_vae", "02_gan", "03_distributed", "04_export_and_serve", "05_evaluate", "06_deploy_anywhere",
                  "07_modern_gan", "08_vae_family"]
MAX_NOTEBOOK_BYTES = 3 * 1024 * 1024
CELL_TIMEOUT_SECONDS = 300
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _source(name):
    """The notebook as written in ``notebooks/NAME.py``, without outputs."""
    return jupytext.read(os.path.join(NOTEBOOKS_DIR, f"{name}.py"))


def _committed(name):
    return jupytext.read(os.path.join(NOTEBOOKS_DIR, f"{name}.ipynb"))


def _run(name, tmp_path, mode):
    """Executes ``notebooks/NAME.py`` with papermill and ``mode``; returns the working directory."""
    working_dir = tmp_path / "cwd"
    working_dir.mkdir()
    papermill.execute_notebook(
        _source(name),
        str(tmp_path / f"{name}.ipynb"),
        parameters={"mode": mode},
        kernel_name="python3",
        cwd=str(working_dir),
        execution_timeout=CELL_TIMEOUT_SECONDS,
        progress_bar=False,
    )
    return working_dir


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


def _stdout(notebook):
    return "".join(
        output.get("text", "")
        for output in _outputs(notebook)
        if output.get("output_type") == "stream" and output.get("name") == "stdout"
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_runs_in_small_mode(name, tmp_path, monkeypatch):
    # The kernel inherits TMPDIR, so the notebook's RUN_DIR (tempfile.mkdtemp) lands under tmp_path.
    temp_dir = tmp_path / "tmp"
    temp_dir.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp_dir))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    # A failing cell raises PapermillExecutionError naming the cell and the traceback.
    working_dir = _run(name, tmp_path, mode="small")

    executed = nbformat.read(str(tmp_path / f"{name}.ipynb"), as_version=4)
    assert _errors(executed) == []
    assert "mode: small" in _stdout(executed)
    pngs = _png_outputs(executed)
    assert pngs, f"{name} displayed no image"
    assert all(png.startswith(PNG_MAGIC) for png in pngs)
    assert os.listdir(working_dir) == [], "notebooks must write into their RUN_DIR, not the working directory"
    run_dirs = [entry for entry in os.listdir(temp_dir) if entry.startswith(f"tfgen-notebooks-{name}-")]
    assert len(run_dirs) == 1 and os.listdir(temp_dir / run_dirs[0]), "RUN_DIR missing or empty"


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_unknown_mode_raises_value_error(name, tmp_path):
    with pytest.raises(papermill.PapermillExecutionError) as raised:
        _run(name, tmp_path, mode="tiny")
    assert raised.value.ename == "ValueError"
    assert "mode must be 'full' or 'small'; received 'tiny'" in raised.value.evalue


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_first_code_cell_is_the_mode_parameter(name):
    first_code = next(cell for cell in _source(name).cells if cell.cell_type == "code")
    assert first_code.metadata.get("tags") == ["parameters"]
    assert first_code.source.startswith('mode = "full"')


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_is_paired_with_its_source(name):
    # notebooks/jupytext.toml pairs every notebook there, so `jupytext --sync` updates both files.
    config = jupytext.config.load_jupytext_config(NOTEBOOKS_DIR)
    assert config is not None, "notebooks/jupytext.toml is missing"
    assert config.default_formats(os.path.join(NOTEBOOKS_DIR, f"{name}.ipynb")) == "ipynb,py:percent"


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_committed_notebook_matches_its_source(name):
    committed, source = _committed(name), _source(name)
    assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in source.cells], (
        f"notebooks/{name}.ipynb differs from notebooks/{name}.py; run `jupytext --sync notebooks/{name}.py` "
        f"and `papermill notebooks/{name}.ipynb notebooks/{name}.ipynb`"
    )


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_committed_notebook_has_full_mode_outputs(name):
    path = os.path.join(NOTEBOOKS_DIR, f"{name}.ipynb")
    assert os.path.getsize(path) < MAX_NOTEBOOK_BYTES
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code_cells), (
        f"run `papermill notebooks/{name}.ipynb notebooks/{name}.ipynb` to completion"
    )
    assert _errors(notebook) == []
    assert _png_outputs(notebook), f"{name} has no picture in its committed outputs"
    assert "mode: full" in _stdout(notebook), "commit the full-mode execution"
