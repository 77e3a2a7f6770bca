"""``tfgen serve`` in a subprocess: the TensorFlow Serving REST API, errors, concurrency, clean stop.

One server is started for the whole module (loading TensorFlow takes several
seconds); the last test stops it with SIGINT.
"""

import base64
import concurrent.futures
import http.client
import io
import json
import signal
import socket
import urllib.request

import numpy as np
import pytest
from PIL import Image

import tfgen
from tests.helpers import random_images
from tests.serving.server_process import ServerProcess, port_is_free
from tfgen.serving import Client, ServingError

MAX_BATCH_SIZE = 32
MAX_REQUEST_BYTES = 256 * 1024
LATENT = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
IMAGES = random_images(3, (16, 16, 1), seed=1)


@pytest.fixture(scope="module")
def vae():
    return tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, base_filters=8, hidden_units=32, seed=0)


@pytest.fixture(scope="module")
def server(vae, tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    tfgen.export_saved_model(vae, str(root / "vae"))
    process = ServerProcess(
        root / "vae", root, "--max-batch-size", MAX_BATCH_SIZE, "--max-request-bytes", MAX_REQUEST_BYTES
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def expected(vae):
    """What each signature must answer for LATENT or IMAGES, computed in this process."""
    images = vae.decode(LATENT).numpy()
    z_mean, z_log_var = vae.encode(IMAGES)
    return {
        "generate": (LATENT, {"images": images}),
        "serving_default": (LATENT, {"images": images}),
        "decode": (LATENT, {"images": images}),
        "generate_png": (LATENT, {"images_bytes": np.round((np.clip(images, -1, 1) + 1) * 127.5)}),
        "encode": (IMAGES, {"z_mean": z_mean.numpy(), "z_log_var": z_log_var.numpy()}),
        "reconstruct": (IMAGES, {"images": vae.reconstruct(IMAGES).numpy()}),
    }


def _png_pixels(value):
    """{"b64": ...} PNG -> uint8 pixels [H, W, 1]."""
    image = Image.open(io.BytesIO(base64.b64decode(value["b64"])))
    return np.asarray(image)[..., None]


def _outputs(answer, request_format, names):
    """Answer of either format -> {output_name: list per example}."""
    if request_format.startswith("row"):
        predictions = answer["predictions"]
        return {names[0]: predictions} if len(names) == 1 else {n: [p[n] for p in predictions] for n in names}
    outputs = answer["outputs"]
    return {names[0]: outputs} if len(names) == 1 else outputs


def test_status_and_metadata(server):
    status, answer = server.request("/v1/models/vae")
    assert status == 200
    assert answer == {
        "model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]
    }
    assert server.request("/v1/models/vae/versions/1") == (200, answer)
    status, metadata = server.request("/v1/models/vae/metadata")
    assert status == 200 and metadata["model_spec"] == {"name": "vae", "signature_name": "", "version": "1"}
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert {"generate", "generate_png", "decode", "encode", "reconstruct", "serving_default"} <= set(signatures)
    latent = signatures["generate"]["inputs"]["latent"]
    assert latent["dtype"] == "DT_FLOAT" and [d["size"] for d in latent["tensor_shape"]["dim"]] == ["-1", "4"]
    assert signatures["generate_png"]["outputs"]["images_bytes"]["dtype"] == "DT_STRING"
    assert server.request("/v1/models/vae/versions/1/metadata") == (200, metadata)


@pytest.mark.parametrize("signature", ["generate", "serving_default", "decode", "generate_png", "encode", "reconstruct"])
def test_each_signature_in_row_and_columnar_formats(server, expected, signature):
    inputs, outputs = expected[signature]
    input_name = "latent" if inputs is LATENT else "images"
    names = sorted(outputs)
    requests = {
        "row": {"instances": inputs.tolist()},
        "row_named": {"instances": [{input_name: row} for row in inputs.tolist()]},
        "columnar": {"inputs": inputs.tolist()},
        "columnar_named": {"inputs": {input_name: inputs.tolist()}},
    }
    for request_format, body in requests.items():
        status, answer = server.predict(dict(body, signature_name=signature))
        assert status == 200, (request_format, answer)
        assert list(answer) == (["predictions"] if request_format.startswith("row") else ["outputs"])
        if len(names) > 1 and request_format.startswith("row"):
            assert all(sorted(prediction) == names for prediction in answer["predictions"])
        for name, values in _outputs(answer, request_format, names).items():
            assert len(values) == len(inputs)
            if name == "images_bytes":
                pixels = np.stack([_png_pixels(value) for value in values])
                assert pixels.dtype == np.uint8 and pixels.shape == (3, 16, 16, 1)
                assert np.abs(pixels.astype(int) - outputs[name]).max() <= 1, request_format
            else:
                np.testing.assert_allclose(values, outputs[name], atol=1e-5, err_msg=request_format)
    # The version can be named in the path, as with TensorFlow Serving.
    status, answer = server.predict({"signature_name": signature, "inputs": inputs.tolist()}, "/versions/1")
    assert status == 200 and set(_outputs(answer, "columnar", names)) == set(names)


def test_png_output_is_an_image_of_the_right_size(server, expected):
    pngs = Client(server.url, "vae").generate_png(latent=LATENT)
    assert len(pngs) == 3 and all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in pngs)
    image = Image.open(io.BytesIO(pngs[0]))
    assert image.size == (16, 16) and image.mode == "L"
    assert np.abs(np.asarray(image).astype(int) - expected["generate_png"][1]["images_bytes"][0, ..., 0]).max() <= 1


LATENT_ROWS = [[0.0, 0.0, 0.0, 0.0]]
BAD_PREDICT_REQUESTS = [
    (b"{not json", 400, "JSON Parse error: Expecting property name enclosed in double quotes"),
    (b"[1, 2]", 400, "Expected the body to be a JSON object, got list"),
    ({"signature_name": "sample_labels", "instances": LATENT_ROWS}, 400, "Unknown signature_name 'sample_labels'"),
    ({"signature_name": 3, "instances": LATENT_ROWS}, 400, "'signature_name' to be a string, got 3"),
    ({"instances": [[0.0, 0.0, 0.0]]}, 400, "expects shape [N, 4] (float32), got shape [1, 3]"),
    ({"inputs": [0.0, 0.0, 0.0, 0.0]}, 400, "expects shape [N, 4] (float32), got shape [4]"),
    ({"instances": [["a", "b", "c", "d"]]}, 400, "expects float32 numbers, got strings (first offending value: 'a')"),
    ({"instances": [[True, False, True, False]]}, 400, "expects float32 numbers, got booleans"),
    ({"inputs": {"latent": [[{"b64": "AAAA"}] * 4]}}, 400, "expects float32 numbers, got null, objects"),
    ({"instances": [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0]]}, 400, "is ragged"),
    ({"instances": LATENT_ROWS, "inputs": LATENT_ROWS}, 400, "exactly one of 'instances' (row format) or 'inputs'"),
    ({"signature_name": "generate"}, 400, "exactly one of 'instances' (row format) or 'inputs'"),
    ({"instances": []}, 400, "'instances' to be a non-empty list, got []"),
    ({"inputs": {"z": LATENT_ROWS}}, 400, "must name the inputs ['latent']; missing ['latent']"),
    ({"signature_name": "encode", "instances": [{"latent": [0.0] * 4}]}, 400, "missing ['images'] and unknown ['latent']"),
    ({"inputs": [[1e39, 0.0, 0.0, 0.0]]}, 400, "exceeds the float32 range"),
    ({"instances": [[0.0] * 4] * (MAX_BATCH_SIZE + 1)}, 413, f"has {MAX_BATCH_SIZE + 1} samples; this server accepts at most {MAX_BATCH_SIZE}"),
    ({"signature_name": "sample", "inputs": {"num_samples": MAX_BATCH_SIZE + 1, "seed": 0}}, 413, f"has {MAX_BATCH_SIZE + 1} samples"),
    ({"signature_name": "sample", "inputs": {"num_samples": 0, "seed": 0}}, 400, "num_samples to be a positive int, got 0"),
    ({"signature_name": "sample", "instances": [{"num_samples": 2, "seed": 0}]}, 400, "is a scalar; send it in the columnar format"),
]


def test_the_sample_signature_takes_scalars_in_the_columnar_format(server, vae):
    status, answer = server.predict({"signature_name": "sample", "inputs": {"num_samples": 2, "seed": 3}})
    assert status == 200, answer
    np.testing.assert_allclose(answer["outputs"], vae.generate(2, seed=3), atol=1e-5)


@pytest.mark.parametrize("body, status, message", BAD_PREDICT_REQUESTS)
def test_bad_predict_requests_get_a_clear_4xx(server, body, status, message):
    got_status, answer = server.predict(body)
    assert got_status == status, answer
    assert list(answer) == ["error"] and message in answer["error"], answer["error"]


@pytest.mark.parametrize(
    "path, method, status, message",
    [
        ("/v1/models/gan", "GET", 404, "Servable not found for request: Latest(gan)"),
        ("/v1/models/gan:predict", "POST", 404, "This server serves the model 'vae'"),
        ("/v1/models/vae/versions/7", "GET", 404, "Could not find version 7 of model 'vae'; known versions: [1]"),
        ("/v1/models/vae/versions/7:predict", "POST", 404, "Specific(vae, 7)"),
        ("/v1/models/vae/versions/7/metadata", "GET", 404, "Version 1 is served"),
        ("/v1/models/vae/versions/latest:predict", "POST", 400, "positive integer, got 'latest'"),
        ("/v1/models/vae/versions/" + "1" * 5000, "GET", 400, "positive integer, got '11111111111111111111...(5000 characters)'"),
        ("/v1/models/vae:predict", "GET", 400, "Malformed request: GET /v1/models/vae:predict"),
        ("/v1/models/vae/", "GET", 400, "Malformed request: GET /v1/models/vae/"),
        ("/v1/models/vae?x=1", "GET", 404, "Latest(vae?x=1)"),  # TensorFlow Serving's model-name pattern takes the query too
        ("/v1/models/vae/metadata", "POST", 400, "Malformed request: POST /v1/models/vae/metadata"),
        ("/v1/models/vae/labels/stable:predict", "POST", 400, "Unrecognized servable version label: stable"),
        ("/v1/models/vae:classify", "POST", 400, "classify is not supported"),
        ("/v2/anything", "GET", 400, "Malformed request: GET /v2/anything"),
    ],
)
def test_unknown_model_version_or_path(server, path, method, status, message):
    body = json.dumps({"instances": LATENT_ROWS}).encode() if method == "POST" else None
    got_status, answer = server.request(path, body, method=method)
    assert got_status == status and message in answer["error"], answer


def test_paths_match_as_tensorflow_serving_matches_them(server):
    """Case-insensitive, URL-decoded; a version label is ignored by status; extra columnar inputs are ignored."""
    assert server.request("/V1/Models/vae/Versions/1/METADATA")[0] == 200
    assert server.request("/v1/models/%76ae")[0] == 200  # %76 is "v"
    status, answer = server.request("/v1/models/vae/labels/stable")
    assert status == 200 and answer["model_version_status"][0]["state"] == "AVAILABLE"
    status, _ = server.request("/v1/MODELS/vae:PREDICT", {"inputs": {"latent": LATENT_ROWS, "extra": [1, 2]}})
    assert status == 200


def test_a_non_ascii_digit_in_the_version_is_a_400(server):
    # "\xb2" is "2" superscript in the Latin-1 request line: str.isdigit() accepts it, int() does not.
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
        connection.sendall(b"GET /v1/models/vae/versions/\xb2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"positive integer" in answer


def test_an_integer_beyond_pythons_digit_limit_is_a_400(server):
    status, answer = server.request("/v1/models/vae:predict", b'{"instances": [[' + b"1" * 5000 + b', 0, 0, 0]]}')
    assert status == 400 and answer["error"].startswith("JSON Parse error:"), answer


def test_keep_alive_answers_every_request_on_one_connection(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        for _ in range(5):
            connection.request("GET", "/v1/models/vae")
            response = connection.getresponse()
            assert response.status == 200 and json.loads(response.read())["model_version_status"]
            assert response.getheader("Connection") != "close"
    finally:
        connection.close()


def test_too_large_a_body_is_refused_and_the_server_keeps_serving(server):
    body = json.dumps({"instances": [[0.123456789] * 4] * 8000}).encode()
    assert len(body) > MAX_REQUEST_BYTES
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request("POST", "/v1/models/vae:predict", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert response.status == 413
    assert f"has {len(body)} bytes; this server accepts at most {MAX_REQUEST_BYTES}" in answer["error"]
    assert server.request("/v1/models/vae")[0] == 200
    assert server.predict({"instances": LATENT_ROWS})[0] == 200


def test_client_methods_return_numpy(server, vae, expected):
    client = Client(server.url, "vae")
    assert client.status()["model_version_status"][0]["state"] == "AVAILABLE"
    assert "generate_png" in client.metadata()["metadata"]["signature_def"]["signature_def"]
    generated = client.generate(3, seed=5)
    assert isinstance(generated, np.ndarray) and generated.dtype == np.float32 and generated.shape == (3, 16, 16, 1)
    # The export's own sampler: the same images as the Python model's generate for that seed.
    np.testing.assert_allclose(generated, vae.generate(3, seed=5), atol=1e-5)
    latent = np.random.default_rng(5).standard_normal((3, 4)).astype("float32")
    np.testing.assert_allclose(client.generate(latent=latent), vae.decode(latent), atol=1e-5)
    np.testing.assert_allclose(client.decode(LATENT), expected["decode"][1]["images"], atol=1e-5)
    z_mean, z_log_var = client.encode(IMAGES)
    np.testing.assert_allclose(z_mean, expected["encode"][1]["z_mean"], atol=1e-5)
    np.testing.assert_allclose(z_log_var, expected["encode"][1]["z_log_var"], atol=1e-5)
    np.testing.assert_allclose(client.reconstruct(IMAGES), expected["reconstruct"][1]["images"], atol=1e-5)
    with pytest.raises(ServingError, match="expects shape") as error:
        client.decode(np.zeros((2, 5), "float32"))
    assert error.value.status == 400
    with pytest.raises(ServingError) as error:
        Client(server.url, "gan").status()
    assert error.value.status == 404 and "Latest(gan)" in error.value.message
    with pytest.raises(ValueError, match="has no signature 'sample_labels'"):
        client.predict(LATENT, "sample_labels")
    with pytest.raises(ValueError, match="takes no labels"):
        client.generate(labels=[0, 1])
    with pytest.raises(ValueError, match="positive int"):
        client.generate()
    with pytest.raises(ValueError, match="Expected an http"):
        Client("127.0.0.1:8501", "vae")


def test_the_client_keeps_its_connection_alive(server, monkeypatch):
    connects = []
    original = http.client.HTTPConnection.connect
    monkeypatch.setattr(http.client.HTTPConnection, "connect", lambda self: connects.append(1) or original(self))
    client = Client(server.url, "vae")
    for _ in range(3):
        client.status()
    client.decode(LATENT)
    with pytest.raises(ServingError):
        client.decode(np.zeros((2, 5), "float32"))  # an error answer keeps the connection too
    client.status()
    assert len(connects) == 1
    client.close()
    client.status()
    assert len(connects) == 2


def test_200_requests_from_8_threads(server, vae):
    latents = np.random.default_rng(7).normal(size=(200, 2, 4)).astype("float32")
    expected = vae.decode(latents.reshape(400, 4)).numpy().reshape(200, 2, 16, 16, 1)
    z_mean, _ = vae.encode(expected.reshape(400, 16, 16, 1))
    z_mean = z_mean.numpy().reshape(200, 2, 4)
    client = Client(server.url, "vae")

    def call(index):
        if index % 2:  # alternate signatures and formats
            status, answer = server.predict({"signature_name": "generate", "instances": latents[index].tolist()})
            return index, status, np.asarray(answer.get("predictions"))
        return index, 200, client.encode(expected[index])[0]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(200)))
    assert len(results) == 200
    for index, status, value in results:
        assert status == 200
        np.testing.assert_allclose(value, expected[index] if index % 2 else z_mean[index], atol=1e-5)


def _threads(pid):
    """The number of threads of process ``pid`` (Linux), or None."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith("Threads:"))
    except OSError:
        return None


def test_a_thousand_idle_connections_hold_no_threads_and_do_not_shut_out_other_clients(server, expected):
    before = _threads(server.process.pid)
    idle = []
    try:
        for _ in range(1000):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=30))
        # Half of them have sent a request and stay open (keep-alive), waiting for the next.
        request = b"GET /v1/models/vae HTTP/1.1\r\nHost: x\r\n\r\n"
        for connection in idle[::2]:
            connection.sendall(request)
        for connection in idle[::2]:
            assert connection.recv(12) == b"HTTP/1.1 200"
        latent, outputs = expected["generate"]
        for _ in range(20):
            status, answer = server.predict({"signature_name": "generate", "instances": latent.tolist()})
            assert status == 200
            np.testing.assert_allclose(answer["predictions"], outputs["images"], atol=1e-5)
        assert server.request("/v1/models/vae")[0] == 200
        if before is not None:  # idle connections wait in one selector thread, not a thread each (1,000 before)
            assert _threads(server.process.pid) - before < 200  # workers of the 500-request burst, spare for 30 s
    finally:
        for connection in idle:
            connection.close()

# Cases of TensorFlow Serving's own http_rest_api_handler_test.cc (repository
# tensorflow/serving, tensorflow_serving/model_servers/; test named in each id):
# the same method and path, the status class TensorFlow Serving answers
# (InvalidArgument is 400, NotFound 404) and the words its message holds.
HANDLER_CASES = [
    ("UnsupportedApiCalls GET /v1/foo", "GET", "/v1/foo", None, 400, "Malformed request"),
    ("UnsupportedApiCalls POST /v1/foo", "POST", "/v1/foo", b"", 400, "Malformed request"),
    ("UnsupportedApiCalls GET /v1/models", "GET", "/v1/models", None, 400, "Missing model name"),
    ("UnsupportedApiCalls POST /v1/models", "POST", "/v1/models", b"", 400, "Malformed request"),
    ("UnsupportedApiCalls GET :predict", "GET", "/v1/models/foo:predict", None, 400, "Malformed request"),
    ("UnsupportedApiCalls GET version/50", "GET", "/v1/models/foo/version/50:predict", None, 400, "Malformed request"),
    ("UnsupportedApiCalls POST version/50", "POST", "/v1/models/foo/version/50:regress", b"", 400, "Malformed request"),
    ("UnsupportedApiCalls versions/HELLO", "POST", "/v1/models/foo/versions/HELLO:regress", b"", 400, "Malformed request"),
    ("UnsupportedApiCalls uint64 max", "POST", f"/v1/models/foo/versions/{2 ** 64 - 1}:regress", b"", 400,
     "Failed to convert version"),
    ("PredictModelNameVersionErrors foo", "POST", "/v1/models/foo:predict", b'{ "instances": [1] }', 404, ""),
    ("PredictModelNameVersionErrors foo/50", "POST", "/v1/models/foo/versions/50:predict", b'{ "instances": [1] }',
     404, ""),
    ("PredictModelNameVersionErrors version 99", "POST", "/v1/models/vae/versions/99:predict",
     b'{ "instances": [1] }', 404, ""),
    ("PredictRequestErrors empty", "POST", "/v1/models/vae:predict", b"", 400, "JSON Parse error: The document is empty"),
    ("PredictRequestErrors bad JSON", "POST", "/v1/models/vae:predict", b"instances = [1, 2]", 400,
     "JSON Parse error: Invalid value"),
    ("PredictRequestErrors type", "POST", "/v1/models/vae:predict", b'{ "instances": ["a", "b"] }', 400,
     "not of expected type: float"),
]


@pytest.mark.parametrize("case", HANDLER_CASES, ids=[case[0] for case in HANDLER_CASES])
def test_tensorflow_serving_handler_cases(server, case):
    _, method, path, body, status, message = case
    got_status, answer = server.request(path, body, method=method)
    assert got_status == status and list(answer) == ["error"], (got_status, answer)
    assert message in answer["error"], answer["error"]


def test_answers_are_json_with_tensorflow_servings_status_layout(server):
    request = urllib.request.Request(server.url + "/v1/models/vae/versions/1")
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers["Content-Type"] == "application/json"
        answer = json.loads(response.read())
    assert answer == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    ]}
    status, answer = server.request("/v1/models/vae/versions/1:predict",
                                    {"signature_name": "serving_default", "inputs": LATENT_ROWS})
    assert status == 200 and list(answer) == ["outputs"]



def test_sigint_stops_cleanly_and_frees_the_port(server):
    assert not port_is_free(server.port)
    assert server.signal_and_wait(signal.SIGINT) == 0, server.logs()
    assert "tfgen serve: stopped" in server.output()
    assert port_is_free(server.port)

