"""The serving layer in-process: argument checks, start-up errors, fallback past a broken version."""

import os
import shutil
import socket

import pytest

import tfgen
from tfgen.cli.main import main
from tfgen.serving import make_server
from tfgen.serving.server import RequestError, is_address_error


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, base_filters=8, hidden_units=32, seed=0)
    return tfgen.export_saved_model(vae, str(tmp_path_factory.mktemp("service") / "vae"))


def test_cli_reports_a_missing_base_path_in_one_line(tmp_path, capsys):
    assert main(["serve", "--model-base-path", str(tmp_path / "missing")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("tfgen: error: No model base path") and error.count("\n") == 1


def test_start_up_errors_name_what_is_wrong(export, tmp_path):
    with pytest.raises(ValueError, match="is a SavedModel version directory; pass its parent"):
        make_server(export, port=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no numbered version directory with a saved_model.pb"):
        make_server(str(tmp_path / "empty"), port=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="to be a directory, found a file"):
        make_server(str(tmp_path / "file"), port=0)
    base = os.path.dirname(export)
    with pytest.raises(ValueError, match=r"port to be an int in \[0, 65535\], got 70000"):
        make_server(base, port=70000)
    with pytest.raises(ValueError, match="max_batch_size to be a positive int, got 0"):
        make_server(base, port=0, max_batch_size=0)
    with pytest.raises(ValueError, match="max_request_bytes to be a positive int, got -1"):
        make_server(base, port=0, max_request_bytes=-1)
    with pytest.raises(ValueError, match="model name without '/'.*got 'a/b'"):
        make_server(base, model_name="a/b", port=0)


def test_port_in_use_is_a_clear_error(export):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"Cannot listen on 127.0.0.1:{port}") as error:
            make_server(os.path.dirname(export), port=port)
        assert is_address_error(error.value)


def test_highest_loadable_version_is_served_and_failures_reported(export, tmp_path):
    base = tmp_path / "vae"
    shutil.copytree(export, base / "1")
    (base / "2").mkdir()
    (base / "2" / "saved_model.pb").write_bytes(b"broken")
    server = make_server(str(base), model_name="digits", port=0, poll_interval=30)
    try:
        service = server.service
        assert server.url.startswith("http://127.0.0.1:") and service.model_name == "digits"
        status, answer = service.handle("GET", "/v1/models/digits")
        rows = {row["version"]: row for row in answer["model_version_status"]}
        assert status == 200 and rows["1"]["state"] == "AVAILABLE"
        assert rows["2"]["state"] == "END" and "Loading version 2" in rows["2"]["status"]["error_message"]
        status, answer = service.handle("POST", "/v1/models/digits:predict", b'{"inputs": [[0, 0, 0, 0]]}')
        assert status == 200 and len(answer["outputs"]) == 1
        with pytest.raises(RequestError, match="Servable not found for request: Latest\\(vae\\)") as error:
            service.handle("GET", "/v1/models/vae")
        assert error.value.status == 404
    finally:
        server.server_close()
