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


def _run_worker(kind, num_replicas, tmp_path):
    output = str(tmp_path / f"{kind}_{num_replicas}.npz")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO_ROOT)
    result = subprocess.run(
        [sys.executable, WORKER, kind, str(num_replicas), output],
        capture_output=True, text=True, timeout=600, env=env, cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    weights = np.load(output)
    return report, [weights[key] for key in weights.files]


@pytest.fixture(scope="module", params=["vae", "gan"])
def runs(request, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp(request.param)
    return {count: _run_worker(request.param, count, tmp_path) for count in REPLICA_COUNTS}


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
