"""benchmarks.mixtures: reports written in pieces merge into one table, and bad merges are refused."""

import json

import pytest

from benchmarks import mixtures

CONFIG = {
    "steps": 16000, "batch_size": 512, "latent_dim": 16, "hidden_units": [256, 256, 256, 256],
    "learning_rate": 1e-3, "beta_1": 0.5, "beta_2": 0.999, "r1_penalty": 0.3, "ema_decay": 0.999,
    "num_samples": 2500,
}


def _run(seed, modes, high_quality):
    return {"seed": seed, "modes_captured": modes, "high_quality_fraction": high_quality, "kl_to_uniform": 0.01}


def _report(dataset, loss, runs, **config):
    return {
        "benchmark": "mixtures",
        "config": {**CONFIG, **config},
        "published_best_pacgan": {},
        "results": {dataset: {loss: {"settings": {}, "runs": runs, "summary": {}}}},
    }


def test_merge_pools_seeds_and_recomputes_the_summary():
    first = _report("ring8", "hinge", [_run(0, 8, 0.99)])
    rest = _report("ring8", "hinge", [_run(2, 8, 0.97), _run(1, 7, 0.99)])
    other = _report("grid25", "hinge", [_run(0, 25, 0.96)])
    results = mixtures.merge_reports([first, rest, other], ["a.json", "b.json", "c.json"])

    entry = results["ring8"]["hinge"]
    assert [run["seed"] for run in entry["runs"]] == [0, 1, 2]
    assert entry["sources"] == ["a.json", "b.json"]
    summary = entry["summary"]
    assert summary["modes_captured_mean"] == pytest.approx(23 / 3)
    assert summary["high_quality_fraction_mean"] == pytest.approx((0.99 + 0.99 + 0.97) / 3)
    assert summary["seeds_with_every_mode"] == 2
    assert summary["meets_target"] is False  # seed 1 misses a mode, seed 2 is below 98%
    assert results["grid25"]["hinge"]["summary"]["meets_target"] is True

    table = mixtures.markdown_table(results)
    assert "| ring8 | hinge | 3 | 7.7 ± 0.3 / 8 |" in table
    assert "| 7, 99.0 | no |" in table  # the worst seed: fewest modes first
    assert "| grid25 | hinge | 1 | 25.0 / 25 | 96.0 |" in table


def test_merge_refuses_a_repeated_seed():
    report = _report("ring8", "hinge", [_run(0, 8, 0.99)])
    with pytest.raises(ValueError, match=r"b.json repeats seed 0 of ring8/hinge, already in a.json"):
        mixtures.merge_reports([report, report], ["a.json", "b.json"])


def test_merge_refuses_different_protocols():
    short = _report("ring8", "hinge", [_run(1, 8, 0.99)], steps=500)
    with pytest.raises(ValueError, match=r"steps is 500 there and 16000 here"):
        mixtures.merge_reports([_report("ring8", "hinge", [_run(0, 8, 0.99)]), short], ["a.json", "b.json"])


def test_merge_refuses_other_reports():
    with pytest.raises(ValueError, match=r"not a mixtures report \(benchmark='throughput'\)"):
        mixtures.merge_reports([{"benchmark": "throughput"}], ["t.json"])


def test_merge_command_writes_a_new_file_and_never_overwrites_an_input(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_report("ring8", "hinge", [_run(0, 8, 0.99)])))
    b.write_text(json.dumps(_report("ring8", "hinge", [_run(1, 8, 0.98)])))
    before = a.read_text()
    with pytest.raises(SystemExit, match="is one of the reports being merged"):
        mixtures.main(["--merge", str(a), str(b), "--output", str(a)])
    assert a.read_text() == before

    out = tmp_path / "all.json"
    report = mixtures.main(["--merge", str(a), str(b), "--output", str(out)])
    assert json.loads(out.read_text())["merged_from"] == [str(a), str(b)]
    assert report["results"]["ring8"]["hinge"]["summary"]["meets_target"] is True
    assert "| ring8 | hinge | 2 |" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "0"], "--seeds must be at least 1, got 0"),
    (["--first-seed", "-1"], "--first-seed must be 0 or more, got -1"),
])
def test_bad_seed_options_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        mixtures.main(argv)
    assert message in capsys.readouterr().err
