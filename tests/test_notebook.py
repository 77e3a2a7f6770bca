"""``tfgen.notebook``: the full/small switch and fresh output directories of the walkthroughs."""

import os

import pytest

from tfgen import notebook


def test_mode_defaults_to_full(monkeypatch):
    monkeypatch.delenv(notebook.MODE_VARIABLE, raising=False)
    assert notebook.mode() == "full"
    assert not notebook.is_small()
    assert notebook.setting(full=10, small=1) == 10


def test_small_mode_from_environment(monkeypatch):
    monkeypatch.setenv(notebook.MODE_VARIABLE, " Small ")
    assert notebook.mode() == "small"
    assert notebook.is_small()
    assert notebook.setting(full=10, small=1) == 1


def test_unknown_mode_raises_with_the_value(monkeypatch):
    monkeypatch.setenv(notebook.MODE_VARIABLE, "tiny")
    with pytest.raises(ValueError, match=r"TFGEN_NOTEBOOK_MODE.*'tiny'"):
        notebook.mode()


def test_output_dir_is_new_and_empty_every_time(monkeypatch, tmp_path):
    monkeypatch.setenv(notebook.OUTPUT_VARIABLE, str(tmp_path / "runs"))
    first = notebook.output_dir("01_vae")
    second = notebook.output_dir("01_vae")
    assert first != second
    for path in (first, second):
        assert os.path.isdir(path) and not os.listdir(path)
        assert os.path.dirname(path) == str(tmp_path / "runs")
        assert os.path.basename(path).startswith("01_vae-")
    with pytest.raises(ValueError, match="path separators"):
        notebook.output_dir("a/b")
