"""``tfgen tune``: the search's settings, a tiny search end to end, pruning, failures, resume after a kill,
parallel processes."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from tests.helpers import REPO_ROOT, run_cli  # noqa: E402
from tfgen.cli import main as cli_main  # noqa: E402
from tfgen.cli import train_lib, tune_lib  # noqa: E402

# A VAE small enough that a trial takes a second: 8x8 digits, MLP networks.
TINY_VAE = {"model": "vae", "dataset": "digits", "architecture": "mlp", "hidden_units": 16, "batch_size": 32,
            "steps_per_epoch": 4, "num_samples": 16, "precision": "float32"}
TINY_SPACE = {"learning_rate": {"low": 1e-3, "high": 1e-2, "log": True}, "latent_dim": {"choices": [2, 4]}}


def _study(output, name):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(os.path.join(output, tune_lib.JOURNAL_FILENAME)))
    return optuna.load_study(storage=storage, study_name=name)


def _table_rows(path):
    with open(path) as handle:
        lines = handle.read().strip().splitlines()[2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


@pytest.mark.parametrize("text, expected", [("12x3", (12, 3)), ("1X1", (1, 1)), (" 4x 2", (4, 2))])
def test_the_budget_is_trials_x_epochs(text, expected):
    assert tune_lib.parse_budget(text) == expected


@pytest.mark.parametrize("text", ["12", "0x3", "3x0", "x3", "ax2", "2x3x4", "-1x2"])
def test_a_malformed_budget_is_refused(text):
    with pytest.raises(ValueError, match=r"Expected the budget as TRIALSxEPOCHS .*got"):
        tune_lib.parse_budget(text)


def test_resolve_fills_in_the_defaults_of_each_model(tmp_path):
    gan = tune_lib.resolve_search({"model": "gan", "seed": 3})
    assert (gan["objective"], gan["trials"], gan["epochs"], gan["name"]) == ("fashion_fd", 12, 3, "gan_fashion_mnist_tuned")
    assert gan["output"] == os.path.join("runs", "gan_fashion_mnist_tuned")
    assert gan["export_dir"] == os.path.join("saved_models", "gan_fashion_mnist_tuned")
    assert gan["space"] == tune_lib.SPACES["gan"]
    assert gan["fixed"] == {"dataset": "fashion_mnist", "precision": "float32"}  # conftest pins float32
    vae = tune_lib.resolve_search({"model": "vae", "dataset": "digits", "budget": "5x2", "seed": 0})
    assert (vae["objective"], vae["trials"], vae["epochs"]) == ("val_elbo", 5, 2)
    assert OBJECTIVE_DIRECTIONS == {name: spec.direction for name, spec in tune_lib.OBJECTIVES.items()}


OBJECTIVE_DIRECTIONS = {"fashion_fd": "minimize", "fid": "minimize", "val_elbo": "maximize"}


def test_a_setting_passed_on_its_own_is_fixed_and_leaves_the_space():
    search = tune_lib.resolve_search({"model": "gan", "seed": 0, "learning_rate": 1e-4, "loss": "hinge"})
    assert "learning_rate" not in search["space"] and "loss" not in search["space"]
    assert search["fixed"]["learning_rate"] == 1e-4 and search["fixed"]["loss"] == "hinge"
    assert "d_learning_rate" in search["space"]


def test_an_unset_seed_is_drawn_and_recorded():
    assert isinstance(tune_lib.resolve_search({"model": "vae", "dataset": "digits"})["seed"], int)


@pytest.mark.parametrize("config, message", [
    ({"model": "gan", "epochs": 3}, r"The search sets \['epochs'\] itself"),
    ({"model": "gan", "backup_freq": 5}, r"The search sets \['backup_freq'\] itself"),
    ({"model": "gan", "widht": 3}, r"Unknown settings \['widht'\] for model 'gan'"),
    ({"model": "diffusion"}, r"Unknown model 'diffusion'"),
    ({"model": "gan", "objective": "val_elbo"}, r"Objective 'val_elbo' does not apply to a gan. Valid objectives: "
                                                r"\['fashion_fd', 'fid'\]"),
    ({"model": "gan", "objective": "inception_score"}, r"Unknown objective 'inception_score'"),
    ({"model": "gan", "dataset": "digits"}, r"Objective 'fashion_fd' compares with Fashion-MNIST, but the dataset "
                                            r"is 'digits'; choose --objective fid"),
    ({"model": "gan", "space": {"loss": {"choices": ["hinge", "wgan"]}}}, r"Unknown loss 'wgan'"),
    ({"model": "gan", "space": {"latent": {"choices": [2]}}}, r"Unknown setting 'latent' in the search space"),
    ({"model": "gan", "space": {"epochs": {"choices": [2]}}}, r"Unknown setting 'epochs' in the search space"),
    ({"model": "gan", "space": {"learning_rate": {"low": 1e-3, "high": 1e-4}}}, r"low < high"),
    ({"model": "gan", "space": {"learning_rate": {"low": 0.0, "high": 1e-4, "log": True}}}, r"low > 0 with log"),
    ({"model": "gan", "space": {"learning_rate": {"min": 0.0, "max": 1.0}}}, r"Expected the spec of 'learning_rate'"),
    ({"model": "gan", "space": {"base_filters": {"choices": []}}}, r"non-empty list"),
    ({"model": "gan", "space": {"hidden_units": {"choices": [[64, 64]]}}}, r"number, string, bool or null"),
    ({"model": "gan", "space": {}}, r"at least one setting"),
    ({"model": "vae", "dataset": "digits", "space": {"likelihood": {"choices": ["bernoulli", "gaussian"]}}},
     r"ELBOs of different likelihoods or data are not comparable"),
    ({"model": "gan", "jobs": 0}, r"jobs"),
    ({"model": "gan", "pruner": "asha"}, r"Unknown pruner 'asha'"),
    ({"model": "gan", "batch_size": 0}, r"batch_size"),
])
def test_bad_settings_are_refused_before_anything_runs(config, message):
    with pytest.raises(ValueError, match=message):
        tune_lib.resolve_search(config)


def test_the_space_can_be_json_text_or_a_file(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(TINY_SPACE))
    assert tune_lib.load_space(str(path)) == TINY_SPACE
    assert tune_lib.load_space(json.dumps(TINY_SPACE)) == TINY_SPACE
    with pytest.raises(ValueError, match=r"no such file"):
        tune_lib.load_space(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match=r"Expected the search space to be JSON"):
        tune_lib.load_space("{learning_rate: 1}")
    with pytest.raises(ValueError, match=r"no such file"):
        tune_lib.load_space(str(tmp_path))  # a directory
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"a JSON object \{setting: spec\}, got \[1, 2\]"):
        tune_lib.load_space(str(path))


def test_every_default_space_is_valid_for_its_model():
    for kind, space in tune_lib.SPACES.items():
        assert tune_lib.check_space(kind, space).keys() == space.keys()


def test_a_tiny_search_end_to_end(tmp_path):
    output, export_dir = str(tmp_path / "search"), str(tmp_path / "saved_models" / "tuned")
    config = {**TINY_VAE, "budget": "3x2", "seed": 5, "space": TINY_SPACE, "output": output,
              "export_dir": export_dir}
    result = tune_lib.tune(config)

    assert result["trials"] == {"complete": 3, "pruned": 0, "fail": 0, "running": 0}
    rows = _table_rows(result["table"])
    values = [float(row[3]) for row in rows]
    assert values == sorted(values, reverse=True)  # the ELBO is maximised: best first
    assert [row[0] for row in rows] == ["1", "2", "3"] and sorted(row[1] for row in rows) == ["0", "1", "2"]
    for trial in range(3):  # each trial: its own run, seeded seed + trial, with its full resolved config
        with open(os.path.join(output, "trials", f"{trial:04d}", "config.json")) as handle:
            trial_config = json.load(handle)
        assert trial_config["seed"] == 5 + trial and trial_config["epochs"] == 2
        assert 1e-3 <= trial_config["learning_rate"] <= 1e-2 and trial_config["latent_dim"] in (2, 4)
        assert trial_config["architecture"] == "mlp" and trial_config["hidden_units"] == 16
    best = result["best"]
    assert best["value"] == pytest.approx(max(values), rel=1e-3)
    with open(result["best_config"]) as handle:
        assert json.load(handle)["seed"] == 5 + best["trial"]
    for key in ("best_samples", "plot", "csv", "model"):
        assert os.path.getsize(result[key]) > 0
    assert os.path.exists(os.path.join(result["export"], "saved_model.pb"))
    assert result["export"] == os.path.join(export_dir, "1")
    with open(os.path.join(result["export"], "model_card.json")) as handle:
        card = json.load(handle)
    assert card["tuned"]["trial"] == best["trial"] and card["tuned"]["objective"] == "val_elbo"

    # The printed command repeats the best trial with tfgen train.
    args = cli_main.build_parser().parse_args(best["command"].split()[1:])
    repeated = train_lib.resolve_config({k: v for k, v in vars(args).items()
                                         if k not in ("command", "show_version") and v is not None})
    resolved = train_lib.resolve_config(best["config"])
    for key in ("learning_rate", "latent_dim", "seed", "epochs", "architecture", "hidden_units", "dataset"):
        assert repeated[key] == resolved[key], key

    # The same command again: nothing is rerun, nothing exported again.
    model_time = os.path.getmtime(os.path.join(output, "trials", "0000", "model.keras"))
    again = tune_lib.tune(dict(config))
    assert again["best"]["trial"] == best["trial"] and again["export"] == result["export"]
    assert os.path.getmtime(os.path.join(output, "trials", "0000", "model.keras")) == model_time
    assert len(_study(output, "vae_digits_tuned").trials) == 3
    # A larger budget continues the same search (its seed recorded: not given again).
    more = tune_lib.tune({**config, "budget": "4x2", "seed": None})
    assert sum(more["trials"].values()) == 4 and len(_study(output, "vae_digits_tuned").trials) == 4

    # Another search in the same folder is refused, or replaces it when asked.
    other = {**config, "space": {"learning_rate": TINY_SPACE["learning_rate"]}}
    with pytest.raises(ValueError, match=r"holds another search \(different \['space'\]\)"):
        tune_lib.tune(other)
    replaced = tune_lib.tune({**other, "budget": "1x1", "overwrite": True})
    assert sum(replaced["trials"].values()) == 1 and not os.path.exists(os.path.join(output, "trials", "0001"))


def test_pruned_trials_stop_early_and_rank_after_complete_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(optuna.trial.Trial, "should_prune", lambda trial: trial.number == 1)
    output = str(tmp_path / "search")
    result = tune_lib.tune({**TINY_VAE, "budget": "3x3", "seed": 0, "space": TINY_SPACE, "output": output,
                            "export": False})
    assert result["trials"] == {"complete": 2, "pruned": 1, "fail": 0, "running": 0}
    assert result["export"] is None and result["best"]["trial"] != 1
    rows = _table_rows(result["table"])
    assert [row[2] for row in rows] == ["complete", "complete", "pruned"]
    assert rows[2][1] == "1" and rows[2][4] == "1"  # trial 1 trained one epoch of three
    with open(os.path.join(output, "trials", "0001", "history.json")) as handle:
        assert len(json.load(handle)["loss"]) == 1


def test_failed_trials_are_recorded_and_a_search_that_only_fails_stops(tmp_path, monkeypatch):
    def failing_train(config, callbacks=(), return_model=False):
        raise RuntimeError(f"out of memory in trial with seed {config['seed']}")

    monkeypatch.setattr(train_lib, "train", failing_train)
    output = str(tmp_path / "search")
    with pytest.raises(ValueError, match=r"The first 3 trials of this search all failed; the last one with: "
                                         r"RuntimeError: out of memory in trial with seed 2"):
        tune_lib.tune({**TINY_VAE, "budget": "5x1", "seed": 0, "space": TINY_SPACE, "output": output})
    trials = _study(output, "vae_digits_tuned").trials
    assert [trial.state.name for trial in trials] == ["FAIL"] * 3
    assert "out of memory" in trials[0].user_attrs["error"]


def test_the_objective_plot_shows_each_setting(tmp_path):
    from tfgen import plotting

    trials = [{"params": {"learning_rate": 2e-3, "latent_dim": 4}, "value": -30.0, "state": "complete"},
              {"params": {"learning_rate": 5e-3, "latent_dim": 2}, "value": -35.0, "state": "pruned"}]
    path = plotting.save_objective_plot(trials, TINY_SPACE, "val_elbo", str(tmp_path / "plot.png"), title="t")
    assert os.path.getsize(path) > 1000
    with pytest.raises(ValueError, match=r"non-empty search space"):
        plotting.save_objective_plot(trials, {}, "val_elbo", str(tmp_path / "empty.png"))


def test_without_optuna_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r'pip install "tfgen\[tune\]"'):
        tune_lib.tune({**TINY_VAE, "budget": "1x1"})


def test_the_command_line(tmp_path):
    printed = run_cli(["tune", "gan", "--print-space"], cwd=tmp_path)
    assert printed.returncode == 0 and json.loads(printed.stdout) == tune_lib.SPACES["gan"]
    bad = run_cli(["tune", "gan", "--budget", "12"], cwd=tmp_path)
    assert bad.returncode == 2
    assert ("error: argument --budget: Expected the budget as TRIALSxEPOCHS with positive ints (e.g. '12x3'), "
            "got '12'.") in bad.stderr
    assert "Traceback" not in bad.stderr


def _cli_args(output, budget):
    return ["tune", "vae", "--dataset", "digits", "--architecture", "mlp", "--hidden-units", "16",
            "--batch-size", "32", "--steps-per-epoch", "40", "--num-samples", "16", "--precision", "float32",
            "--budget", budget, "--seed", "0", "--pruner", "none", "--space", json.dumps(TINY_SPACE),
            "--output", output, "--no-export"]


def _values(output, trial):
    with open(os.path.join(output, "trials", f"{trial:04d}", tune_lib.OBJECTIVE_FILENAME)) as handle:
        return json.load(handle)


@pytest.mark.slow
def test_a_killed_search_continues_where_it_stopped(tmp_path):
    killed, whole = str(tmp_path / "killed"), str(tmp_path / "whole")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO_ROOT)
    process = subprocess.Popen([sys.executable, "-m", "tfgen", *_cli_args(killed, "3x3")], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = os.path.join(killed, "trials", "0001", tune_lib.OBJECTIVE_FILENAME)
    deadline = time.time() + 300
    while not os.path.exists(progress) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # in trial 1, after its first epoch
    process.wait()
    assert os.path.exists(progress) and not os.path.exists(os.path.join(killed, "trials", "0001", "model.keras"))
    finished = os.path.join(killed, "trials", "0000", "model.keras")
    finished_time = os.path.getmtime(finished)

    resumed = run_cli(_cli_args(killed, "3x3"), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "trial 0 starts" not in resumed.stdout and "trial 1 starts" in resumed.stdout
    assert os.path.getmtime(finished) == finished_time  # the finished trial was not trained again
    trials = _study(killed, "vae_digits_tuned").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert trials[1].user_attrs["interrupted"] and trials[2].user_attrs["trial"] == 1
    assert trials[2].params == trials[1].params  # the interrupted trial ran again with its parameters ...
    assert run_cli(_cli_args(whole, "2x3"), cwd=tmp_path).returncode == 0
    # ... and resumed from its backup with the result of a run that never stopped.
    assert _values(killed, 1) == _values(whole, 1) and _values(killed, 0) == _values(whole, 0)
    rows = _table_rows(os.path.join(killed, "trials.md"))
    assert sorted(row[1] for row in rows) == ["0", "1", "2"] and {row[2] for row in rows} == {"complete"}


@pytest.mark.slow
def test_parallel_jobs_share_one_search(tmp_path):
    output = str(tmp_path / "search")
    result = run_cli([*_cli_args(output, "3x1"), "--jobs", "2"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    trials = _study(output, "vae_digits_tuned").trials
    assert sorted(t.user_attrs["trial"] for t in trials) == [0, 1, 2]
    assert {t.state.name for t in trials} == {"COMPLETE"}
    assert len({t.user_attrs["pid"] for t in trials}) == 2  # two worker processes ran them
    assert "tfgen tune[0]" in result.stdout and "tfgen tune[1]" in result.stdout
    assert np.isfinite([t.value for t in trials]).all()
