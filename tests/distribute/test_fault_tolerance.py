"""A training process killed with SIGKILL mid-epoch resumes and ends as if never interrupted."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np

import tfgen  # noqa: F401  (registers tfgen's classes for loading)
from tests.helpers import REPO_ROOT

STEPS_PER_EPOCH = 10
EPOCHS = 2


def _command(output):
    return [
        sys.executable, "-m", "tfgen", "train", "vae", "--dataset", "digits",
        "--epochs", str(EPOCHS), "--steps-per-epoch", str(STEPS_PER_EPOCH), "--batch-size", "64",
        "--latent-dim", "4", "--seed", "11", "--backup-freq", "3", "--num-samples", "4",
        "--no-export", "--quiet", "--output", output,
    ]


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO_ROOT)


def _progress(output):
    try:
        with open(os.path.join(output, "backup", "progress.json")) as handle:
            return json.load(handle)["step"]
    except (OSError, ValueError, KeyError):
        return None


def test_sigkill_then_same_command_gives_the_uninterrupted_result(tmp_path):
    reference_dir, resumed_dir = str(tmp_path / "reference"), str(tmp_path / "resumed")
    reference = subprocess.run(_command(reference_dir), capture_output=True, text=True, env=_env(), timeout=600)
    assert reference.returncode == 0, reference.stderr[-3000:]

    process = subprocess.Popen(_command(resumed_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        step = _progress(resumed_dir)
        if step is not None and step >= 3:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = _progress(resumed_dir)
    assert 0 < killed_at < EPOCHS * STEPS_PER_EPOCH
    assert not os.path.exists(os.path.join(resumed_dir, "model.keras"))

    resumed = subprocess.run(_command(resumed_dir), capture_output=True, text=True, env=_env(), timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert not os.path.exists(os.path.join(resumed_dir, "backup"))  # removed after a finished run

    expected = keras.models.load_model(os.path.join(reference_dir, "model.keras"))
    actual = keras.models.load_model(os.path.join(resumed_dir, "model.keras"))
    assert actual.optimizer.iterations.numpy() == expected.optimizer.iterations.numpy() == EPOCHS * STEPS_PER_EPOCH
    for a, b in zip(actual.get_weights(), expected.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
