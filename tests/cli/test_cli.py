"""The tfgen command line, end to end in subprocesses."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import REPO_ROOT, run_cli
from tfgen import _cli_logging, validation
from tfgen.cli import main as main_module
from tfgen.cli.main import main

CONSOLE_SCRIPT = os.path.join(os.path.dirname(sys.executable), "tfgen")


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


def test_train_modern_gan_with_bfloat16_precision(tmp_path):
    result = run_cli(
        ["train", "gan", "--dataset", "digits", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "16",
         "--latent-dim", "4", "--architecture", "resnet", "--base-filters", "4", "--loss", "relativistic",
         "--r1-penalty", "0.1", "--r2-penalty", "0.1", "--penalty-interval", "2", "--d-learning-rate", "1e-4", "--ema-decay", "0.99",
         "--ema-rampup", "--augment", "translation,color", "--ada-target", "0.6", "--precision", "bfloat16",
         "--seed", "1", "--num-samples", "4", "--no-export", "--output", "run"],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["precision"] == "bfloat16"
    assert (config["architecture"], config["loss"], config["augment"], config["d_learning_rate"]) == (
        "resnet", "relativistic", "translation,color", 1e-4
    )
    assert config["penalty_interval"] == 2
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert np.isfinite(history["d_loss"]).all() and np.isfinite(history["g_loss"]).all()
    assert {"r1_penalty", "r2_penalty", "augment_probability"} <= set(history)
    grid = tf.io.decode_png(tf.io.read_file(str(tmp_path / "run" / "samples.png"))).numpy()
    assert grid.ndim == 3 and np.ptp(grid) > 0


# ------------------------------------------------------------ a quiet start
def _run_without_log_level(command, cwd):
    """Runs ``command`` as a user would: TF_CPP_MIN_LOG_LEVEL not set."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = REPO_ROOT
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_commands_start_without_tensorflow_logging(tmp_path):
    python_m = [sys.executable, "-m", "tfgen"]
    commands = [python_m + ["--help"], python_m + ["data", "list"]]
    if os.path.exists(CONSOLE_SCRIPT):  # the console script imports the tfgen package before the CLI
        commands.append([CONSOLE_SCRIPT, "--help"])
    for command in commands:
        result = _run_without_log_level(command, tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", command
        assert "usage: tfgen" in result.stdout or "digits" in result.stdout
    error = _run_without_log_level(python_m + ["data", "info", "nope"], tmp_path)
    assert error.returncode == 2
    assert error.stderr.startswith("tfgen: error: Unknown dataset 'nope'") and error.stderr.count("\n") == 1


def test_verbose_is_accepted_before_and_after_the_command(tmp_path, capsys):
    quiet = _run_without_log_level([sys.executable, "-m", "tfgen", "data", "list"], tmp_path)
    for args in (["--verbose", "data", "list"], ["data", "list", "--verbose"]):
        result = _run_without_log_level([sys.executable, "-m", "tfgen", *args], tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == quiet.stdout
    from tfgen.cli.main import main

    with pytest.raises(SystemExit):  # argparse exits after printing the help
        main(["--help"])
    assert "--verbose" in capsys.readouterr().out


def test_importing_tfgen_leaves_logging_alone(tmp_path):
    code = "import os, tfgen; print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'))"
    result = _run_without_log_level([sys.executable, "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "None\n"


@pytest.mark.parametrize(
    "argv, orig_argv, expected",
    [
        (["/usr/bin/tfgen", "data", "list"], None, True),
        (["/opt/venv/Scripts/tfgen.exe", "--help"], None, True),
        (["-m", "data", "list"], ["python", "-m", "tfgen", "data", "list"], True),
        (["-m", "--help"], ["python", "-W", "ignore", "-mtfgen", "--help"], True),
        (["-m", "--help"], ["python", "-m", "tfgen.cli.main", "--help"], True),
        (["-m"], ["python", "-m", "tfgen.metrics.train_fashion_classifier"], False),
        (["train.py", "--epochs", "3"], None, False),
        (["-c"], None, False),
        ([""], None, False),  # the interactive interpreter
        ([], None, False),
    ],
)
def test_running_as_cli(argv, orig_argv, expected):
    assert _cli_logging.running_as_cli(argv, orig_argv) is expected


def test_verbose_flag_is_found_and_removed_before_double_dash():
    assert _cli_logging.verbose_requested(["data", "list", "--verbose"])
    assert not _cli_logging.verbose_requested(["data", "list", "--", "--verbose"])
    assert _cli_logging.remove_verbose_flag(["--verbose", "data", "--", "--verbose"]) == ["data", "--", "--verbose"]


def test_start_up_lines_are_kept_by_their_log_level():
    captured = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796341604.043139    3718 port.cc:153] oneDNN custom operations are on.\n"
        "I0000 00:00:1796341604.154353    3718 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
        "To enable the following instructions: AVX2 FMA, rebuild TensorFlow.\n"
        "E0000 00:00:1796341604.154353    3718 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n"
        "/site-packages/x.py:12: UserWarning: something at import\n"
        "  warnings.warn('something at import')\n"
        "F0000 00:00:1796341604.154353    3718 cpu_feature_guard.cc:10] missing AVX\n"
    )
    lines = captured.splitlines(keepends=True)
    assert _cli_logging.admitted_log_lines(captured, 3) == lines[7]
    assert _cli_logging.admitted_log_lines(captured, 2) == lines[4] + lines[7]
    assert _cli_logging.admitted_log_lines(captured, 0) == "".join(lines[:5] + lines[7:])


# ------------------------------------------------------- user errors and bugs
def _numpy_error(args):
    np.reshape(np.zeros(3), (2, 2))  # a ValueError raised inside NumPy


def _runtime_error(args):
    raise RuntimeError("an internal invariant broke")


def _builtin_error_in_tfgen_code():
    """A function whose code lives in tfgen's package directory, where int() raises a ValueError."""
    namespace = {}
    source = "def command(args):\n    return int('not a number')\n"
    exec(compile(source, os.path.join(main_module.PACKAGE_DIRECTORY, "cli", "generated.py"), "exec"), namespace)
    return namespace["command"]


def _missing_file(args):
    open(os.path.join(os.sep, "no-such-directory-for-tfgen", "config.json"))  # an OSError about a path


@pytest.mark.parametrize(
    "command, message",
    [
        (lambda args: validation.check_positive_int("num_samples", 0), "Expected num_samples to be a positive int"),
        (_missing_file, "No such file or directory"),
    ],
)
def test_user_errors_are_one_line_with_status_2(monkeypatch, capsys, command, message):
    monkeypatch.setitem(main_module.COMMANDS, "data", command)
    assert main(["data", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfgen: error:") and err.count("\n") == 1 and message in err
    # --verbose adds the traceback and keeps the status.
    assert main(["data", "list", "--verbose"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.splitlines()[-1].startswith("tfgen: error:") and message in err.splitlines()[-1]


@pytest.mark.parametrize(
    "command, name",
    [(_numpy_error, "ValueError"), (_runtime_error, "RuntimeError"), (_builtin_error_in_tfgen_code(), "ValueError")],
)
def test_bugs_show_their_traceback_with_status_1(monkeypatch, capsys, command, name):
    monkeypatch.setitem(main_module.COMMANDS, "data", command)
    assert main(["data", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.splitlines()[-1].startswith(f"{name}:")
    assert "tfgen: error:" not in err


def test_argparse_errors_stay_as_argparse_prints_them(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sample"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: tfgen sample") and "the following arguments are required: --model" in err
