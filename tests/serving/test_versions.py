"""``tfgen serve`` follows new versions without a restart, skips broken ones, and stops on SIGTERM.

One server is started for the module; the last test stops it with SIGTERM.
"""

import os
import shutil
import signal
import threading
import time

import numpy as np
import pytest

import tfgen
from tests.serving.server_process import ServerProcess, port_is_free

LATENT = np.random.default_rng(3).normal(size=(2, 4)).astype("float32")


def _vae(seed):
    return tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, base_filters=8, hidden_units=32, seed=seed)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("versions")
    first = _vae(seed=0)
    tfgen.export_saved_model(first, str(root / "vae"))
    process = ServerProcess(root / "vae", root, "--poll-interval", "0.2").start()
    yield process, first, str(root / "vae")
    process.stop()


def _wait_for(condition, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout} s")


def _states(process):
    status, answer = process.request("/v1/models/vae")
    assert status == 200
    return {int(row["version"]): (row["state"], row["status"]["error_code"]) for row in answer["model_version_status"]}


def test_new_version_is_served_without_restart(served):
    process, first, base = served
    before = first.decode(LATENT).numpy()
    # A staging directory of the exporter (even a complete-looking one) is ignored.
    staging = os.path.join(base, ".tmp-9-abcdef")
    os.makedirs(staging)
    open(os.path.join(staging, "saved_model.pb"), "wb").close()

    answers, stop = [], threading.Event()

    def keep_asking():  # requests in flight during the switch must all be answered
        while not stop.is_set():
            answers.append(process.predict({"signature_name": "generate", "instances": LATENT.tolist()}))

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        second = _vae(seed=1)
        after = second.decode(LATENT).numpy()
        assert not np.allclose(before, after, atol=1e-3)
        tfgen.export_saved_model(second, base)  # version 2
        _wait_for(lambda: _states(process).get(2) == ("AVAILABLE", "OK"))
        time.sleep(0.5)
    finally:
        stop.set()
        asker.join()

    assert _states(process) == {2: ("AVAILABLE", "OK"), 1: ("END", "OK")}
    assert answers and all(status == 200 for status, _ in answers)
    for _, answer in answers:
        got = np.asarray(answer["predictions"])
        assert np.allclose(got, before, atol=1e-5) or np.allclose(got, after, atol=1e-5)
    np.testing.assert_allclose(answers[-1][1]["predictions"], after, atol=1e-5)
    status, answer = process.predict({"inputs": LATENT.tolist()}, "/versions/2")
    assert status == 200
    np.testing.assert_allclose(answer["outputs"], after, atol=1e-5)
    status, answer = process.predict({"inputs": LATENT.tolist()}, "/versions/1")
    assert status == 404 and "Version 2 is served" in answer["error"]


def test_a_broken_new_version_is_reported_and_the_old_one_kept(served):
    process, _, base = served
    os.makedirs(os.path.join(base, "3"))
    with open(os.path.join(base, "3", "saved_model.pb"), "wb") as handle:
        handle.write(b"not a SavedModel")

    def failed_row():
        status, answer = process.request("/v1/models/vae/versions/3")
        row = answer["model_version_status"][0] if status == 200 else {}
        return row if row.get("state") == "END" and row["status"]["error_code"] == "UNKNOWN" else None

    row = _wait_for(failed_row)
    assert "Loading version 3" in row["status"]["error_message"]
    assert _states(process)[2] == ("AVAILABLE", "OK")
    assert process.predict({"inputs": LATENT.tolist()})[0] == 200


def test_a_version_copied_in_slowly_is_served_once_complete(served):
    process, _, base = served
    fourth = _vae(seed=4)
    staging = os.path.join(os.path.dirname(base), "staging")
    tfgen.export_saved_model(fourth, staging, version=1)
    os.makedirs(os.path.join(base, "4"))
    # saved_model.pb arrives first, as with a non-atomic copy; loads fail for seconds.
    shutil.copy(os.path.join(staging, "1", "saved_model.pb"), os.path.join(base, "4", "saved_model.pb"))
    _wait_for(lambda: _states(process).get(4) == ("END", "UNKNOWN"))
    time.sleep(3)  # several failed attempts (the old watcher gave up after three)
    assert _states(process)[2] == ("AVAILABLE", "OK")
    for entry in os.listdir(os.path.join(staging, "1")):
        source = os.path.join(staging, "1", entry)
        if entry != "saved_model.pb":
            copy = shutil.copytree if os.path.isdir(source) else shutil.copy
            copy(source, os.path.join(base, "4", entry))
    _wait_for(lambda: _states(process).get(4) == ("AVAILABLE", "OK"), timeout=60)
    status, answer = process.predict({"inputs": LATENT.tolist()})
    assert status == 200
    np.testing.assert_allclose(answer["outputs"], fourth.decode(LATENT), atol=1e-5)


def test_a_removed_version_is_reported_and_the_next_one_served(served):
    process, _, base = served
    shutil.rmtree(os.path.join(base, "4"))
    _wait_for(lambda: _states(process).get(4) == ("END", "NOT_FOUND"))
    _wait_for(lambda: _states(process).get(2) == ("AVAILABLE", "OK"))  # 3 is broken: 2 is the highest that loads
    status, answer = process.request("/v1/models/vae/versions/4")
    assert "was removed" in answer["model_version_status"][0]["status"]["error_message"]
    assert process.predict({"inputs": LATENT.tolist()})[0] == 200
    assert "was removed" in process.logs()


def test_sigterm_stops_cleanly_and_frees_the_port(served):
    process, _, _ = served
    assert process.signal_and_wait(signal.SIGTERM) == 0, process.logs()
    assert "tfgen serve: stopped" in process.output()
    assert port_is_free(process.port)
