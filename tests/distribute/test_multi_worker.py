"""Two worker processes on 127.0.0.1 train together; the chief alone writes outputs."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import REPO_ROOT

WORKER = os.path.join(os.path.dirname(__file__), "multi_worker_worker.py")


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_two_workers_end_with_identical_weights(kind, tmp_path):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    output, export_dir = str(tmp_path / "run"), str(tmp_path / "export")
    processes = []
    for index in range(2):
        env = dict(
            os.environ,
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONPATH=REPO_ROOT,
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        weights = str(tmp_path / f"weights_{index}.npz")
        processes.append(
            subprocess.Popen(
                [sys.executable, WORKER, kind, output, export_dir, weights],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT,
            )
        )
    results = []
    for process in processes:
        try:
            stdout, stderr = process.communicate(timeout=600)
        finally:
            for other in processes:
                if other.poll() is None and process.returncode not in (None, 0):
                    other.kill()
        assert process.returncode == 0, stderr[-4000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))

    chief, other = results
    assert chief["chief"] is True and other["chief"] is False
    assert all(value is None for key, value in other.items() if key != "chief")
    assert os.path.isfile(os.path.join(output, "model.keras"))
    assert chief["export"] == os.path.join(export_dir, "1")
    assert os.listdir(export_dir) == ["1"]  # one export, by the chief
    expected = ["config.json", "history.json", "model.keras", "samples", "samples.png"]
    if kind == "vae":
        expected += ["interpolation.png", "reconstructions.png"]
    assert sorted(os.listdir(output)) == sorted(expected)  # no backups left, nothing from the other worker

    weights = [np.load(str(tmp_path / f"weights_{index}.npz")) for index in range(2)]
    assert weights[0].files == weights[1].files
    for key in weights[0].files:
        np.testing.assert_array_equal(weights[0][key], weights[1][key])
