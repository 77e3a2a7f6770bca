"""Training on 2 and 4 replicas equals training on one device with the same global batches."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import REPO_ROOT

WORKER = os.path.join(os.path.dirname(__file__), "equivalence_worker.py")
REPLICA_COUNTS = (1, 2, 4)


def _run_workers(kind, tmp_path):
    """Runs the worker for every replica count at once (each spends most of its time importing TensorFlow)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO_ROOT)
    outputs = {count: str(tmp_path / f"{kind}_{count}.npz") for count in REPLICA_COUNTS}
    processes = {
        count: subprocess.Popen(
            [sys.executable, WORKER, kind, str(count), outputs[count]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT,
        )
        for count in REPLICA_COUNTS
    }
    runs = {}
    for count, process in processes.items():
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-4000:]
        report = json.loads(stdout.strip().splitlines()[-1])
        weights = np.load(outputs[count])
        runs[count] = (report, [weights[key] for key in weights.files])
    return runs


@pytest.fixture(scope="module", params=["vae", "gan"])
def runs(request, tmp_path_factory):
    return _run_workers(request.param, tmp_path_factory.mktemp(request.param))


def test_same_weights_on_any_number_of_replicas(runs):
    reference_report, reference = runs[1]
    assert reference_report["weights_changed"]
    for count in REPLICA_COUNTS[1:]:
        report, weights = runs[count]
        assert report["num_replicas"] == count
        assert len(weights) == len(reference)
        for expected, actual in zip(reference, weights):
            np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=2e-6)


def test_reported_metrics_are_global(runs):
    reference_logs = runs[1][0]["logs"]
    for count in REPLICA_COUNTS[1:]:
        logs = runs[count][0]["logs"]
        assert logs.keys() == reference_logs.keys()
        for key in logs:
            np.testing.assert_allclose(logs[key], reference_logs[key], rtol=1e-5)


def test_replicas_draw_different_rows_of_the_same_global_noise(runs):
    single = np.asarray(runs[1][0]["replica_noise"][0])
    for count in REPLICA_COUNTS[1:]:
        per_replica = [np.asarray(rows) for rows in runs[count][0]["replica_noise"]]
        assert len(per_replica) == count
        for i in range(count):
            for j in range(i + 1, count):
                assert not np.allclose(per_replica[i], per_replica[j])
        np.testing.assert_allclose(np.concatenate(per_replica), single, rtol=0, atol=0)
