"""The tfgen command line, end to end in subprocesses."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_cli
from tfgen.cli.main import main


def _error_line(result):
    """The CLI's one-line error (TensorFlow's own start-up log lines aside)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("tfgen: error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cli")
    result = run_cli(
        ["train", "vae", "--dataset", "digits", "--epochs", "2", "--steps-per-epoch", "4",
         "--batch-size", "32", "--latent-dim", "4", "--seed", "3", "--num-samples", "16",
         "--output", "run"],
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, result


def test_train_writes_everything(trained_run):
    workdir, result = trained_run
    paths = json.loads(result.stdout[result.stdout.index("{"):])
    run = workdir / "run"
    for name in ("config.json", "model.keras", "history.json", "samples.png", "reconstructions.png", "interpolation.png"):
        assert (run / name).is_file(), name
    assert sorted(os.listdir(run / "samples")) == ["samples_epoch_0001.png", "samples_epoch_0002.png"]
    assert not (run / "backup").exists()  # BackupAndRestore cleans up after a finished run
    config = json.loads((run / "config.json").read_text())
    assert (config["model"], config["dataset"], config["latent_dim"], config["seed"]) == ("vae", "digits", 4, 3)
    assert config["binarize"] is True and config["likelihood"] == "bernoulli"
    assert config["precision"] == "float32"  # the default until mixed precision is validated
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == 2 and "val_loss" in history
    assert paths["export"] == os.path.join("saved_models", "vae_digits", "1")
    export = workdir / paths["export"]
    assert (export / "saved_model.pb").is_file()
    card = json.loads((export / "model_card.json").read_text())
    assert card["dataset"] == "digits" and card["train_steps"] == 8
    grid = tf.io.decode_png(tf.io.read_file(str(run / "samples.png"))).numpy()
    assert grid.shape == (4 * 17 + 1, 4 * 17 + 1, 1)


def test_rerun_refuses_to_overwrite(trained_run):
    workdir, _ = trained_run
    model = workdir / "run" / "model.keras"
    before = model.read_bytes()
    result = run_cli(["train", "vae", "--dataset", "digits", "--epochs", "1", "--output", "run"], cwd=workdir)
    assert result.returncode == 2
    assert "already holds a finished run" in _error_line(result)
    assert model.read_bytes() == before


def test_sample_from_keras_and_export(trained_run):
    workdir, _ = trained_run
    for source, output in (("run/model.keras", "a.png"), ("saved_models/vae_digits", "b.png")):
        result = run_cli(["sample", "--model", source, "--num", "6", "--seed", "1", "--output", output], cwd=workdir)
        assert result.returncode == 0, result.stderr[-2000:]
        image = tf.io.decode_png(tf.io.read_file(str(workdir / output))).numpy()
        assert image.shape == (2 * 17 + 1, 3 * 17 + 1, 1)
        assert np.ptp(image) > 0


def test_export_command_writes_next_version(trained_run):
    workdir, _ = trained_run
    result = run_cli(["export", "--model", "run/model.keras", "--output", "saved_models/vae_digits"], cwd=workdir)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (workdir / "saved_models" / "vae_digits" / "2" / "saved_model.pb").is_file()
    again = run_cli(["export", "--model", "run/model.keras", "--output", "saved_models/vae_digits", "--version", "1"], cwd=workdir)
    assert again.returncode == 2 and "already exists" in _error_line(again)


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "vae", "--dataset", "nope"], "Unknown dataset 'nope'. Valid datasets:"),
        (["train", "vae", "--dataset", "digits", "--epochs", "0"], "epochs to be a positive int, got 0"),
        (["sample", "--model", "missing.keras"], "No model at 'missing.keras'"),
        (["export", "--model", "config.json"], "Expected a .keras model file"),
        (["data", "info", "nope"], "Unknown dataset 'nope'"),
    ],
)
def test_errors_are_one_line(tmp_path, monkeypatch, capsys, args, message):
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("tfgen: error:")
    assert message in captured.err


def test_error_in_a_real_process_is_one_line(tmp_path):
    result = run_cli(["train", "vae", "--dataset", "nope"], cwd=tmp_path)
    assert result.returncode == 2
    assert "Unknown dataset 'nope'" in _error_line(result)


def test_data_commands_and_help(capsys):
    assert main(["data", "list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "available" in rows["digits"] and "16x16x1" in rows["digits"]
    assert main(["data", "info", "digits"]) == 0
    assert json.loads(capsys.readouterr().out)["shape"] == [16, 16, 1]
    for command in (["--help"], ["train", "vae", "--help"], ["sample", "--help"], ["export", "--help"], ["data", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(command)
        assert exit_info.value.code == 0 and "usage: tfgen" in capsys.readouterr().out
    assert main(["--version"]) == 0 and capsys.readouterr().out.startswith("tfgen ")


def test_train_gan_end_to_end(tmp_path):
    result = run_cli(
        ["train", "gan", "--dataset", "digits", "--epochs", "1", "--steps-per-epoch", "3", "--batch-size", "32",
         "--latent-dim", "8", "--base-filters", "8", "--loss", "hinge", "--gradient-penalty", "10",
         "--ema-decay", "0.9", "--conditional", "--update", "simultaneous", "--seed", "2", "--num-samples", "20",
         "--output", "run"],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["model"], config["loss"], config["gradient_penalty"], config["ema_decay"]) == ("gan", "hinge", 10.0, 0.9)
    assert config["learning_rate"] == 2e-4 and config["update"] == "simultaneous"
    export = tmp_path / "saved_models" / "gan_digits" / "1"
    card = json.loads((export / "model_card.json").read_text())
    assert card["model_type"] == "GAN" and card["num_classes"] == 10 and card["ema"] is True
    assert card["train_steps"] == 3
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert {"d_loss", "g_loss", "gradient_penalty", "real_accuracy", "fake_accuracy"} <= set(history)


def test_train_gan_with_bfloat16_precision(tmp_path):
    result = run_cli(
        ["train", "gan", "--dataset", "digits", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "16",
         "--latent-dim", "4", "--base-filters", "4", "--precision", "bfloat16", "--seed", "1",
         "--num-samples", "4", "--no-export", "--output", "run"],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["precision"] == "bfloat16"
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert np.isfinite(history["d_loss"]).all() and np.isfinite(history["g_loss"]).all()
    grid = tf.io.decode_png(tf.io.read_file(str(tmp_path / "run" / "samples.png"))).numpy()
    assert grid.ndim == 3 and np.ptp(grid) > 0
