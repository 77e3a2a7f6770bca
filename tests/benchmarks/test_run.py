"""benchmarks.run: every benchmark script is registered, and quick runs never touch full results."""

import os

import pytest

from benchmarks import run
from tests.helpers import REPO_ROOT

BENCHMARKS_DIR = os.path.join(REPO_ROOT, "benchmarks")
NOT_BENCHMARKS = {"__init__", "common", "run"}


def _benchmark_modules():
    return {
        name[:-3]
        for name in os.listdir(BENCHMARKS_DIR)
        if name.endswith(".py") and name[:-3] not in NOT_BENCHMARKS
    }


def test_every_benchmark_module_is_registered():
    assert set(run.BENCHMARKS) == _benchmark_modules()


@pytest.mark.parametrize("name", sorted(run.BENCHMARKS))
def test_quick_outputs_stay_out_of_the_results_directory(name):
    command, output = run.command_for(name, quick=True)
    assert command[1:3] == ["-m", f"benchmarks.{name}"]
    assert os.path.commonpath([output, run.QUICK_DIR]) == run.QUICK_DIR
    for argument in command[3:]:
        assert not argument.startswith(run.RESULTS_DIR), argument


@pytest.mark.parametrize("name", sorted(run.BENCHMARKS))
def test_every_flag_passed_is_one_the_script_defines(name):
    with open(os.path.join(BENCHMARKS_DIR, f"{name}.py")) as handle:
        source = handle.read()
    for quick in (False, True):
        command, _ = run.command_for(name, quick)
        for flag in (argument for argument in command[3:] if argument.startswith("--")):
            assert f'"{flag}"' in source, f"benchmarks/{name}.py has no {flag} option"


def test_only_and_list_parse(capsys):
    run.main(["--quick", "--list", "--only", "throughput", "pipeline"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("python -m benchmarks.throughput --quick")


def test_a_quick_run_starts_from_an_empty_folder_and_a_full_run_touches_nothing(tmp_path, monkeypatch):
    # benchmarks.quality_fashion_mnist refuses to overwrite a saved model, so a
    # second quick run would fail if the first one's models were still there.
    monkeypatch.chdir(tmp_path)
    stale = tmp_path / run._quick("quality_fashion_mnist", "models", "gan_hinge.keras")
    full = tmp_path / run.RESULTS_DIR / "quality_fashion_mnist.json"
    for path in (stale, full):
        path.parent.mkdir(parents=True)
        path.write_text('{"from": "an earlier run"}')
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return run.subprocess.CompletedProcess(command, 0, stdout="", stderr="")

    monkeypatch.setattr(run.subprocess, "run", fake_run)
    assert run.run_one("quality_fashion_mnist", quick=True, timeout=10)["returncode"] == 0
    assert not stale.exists()
    assert full.read_text() == '{"from": "an earlier run"}'
    assert calls and calls[0][2] == "benchmarks.quality_fashion_mnist"
    stale.parent.mkdir(parents=True)
    stale.write_text("kept")
    run.run_one("quality_fashion_mnist", quick=False, timeout=10)
    assert stale.read_text() == "kept" and full.read_text() == '{"from": "an earlier run"}'


def test_a_benchmark_whose_library_is_missing_is_skipped_and_reported(monkeypatch):
    monkeypatch.setattr(run.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(run.subprocess, "run", lambda *args, **kwargs: pytest.fail("nothing should run"))
    row = run.run_one("gpu_networks_jax", quick=True, timeout=10)
    assert row["skipped"] == "needs jax, not installed"
    table = run.markdown({"date": "d", "quick": True, "machine": {}, "benchmarks": {"gpu_networks_jax": row}})
    assert "| gpu_networks_jax | skipped | | | needs jax, not installed |" in table
