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
