"""TensorFlow Serving's JSON tensor format, without a server."""

import base64
import json

import numpy as np
import pytest

from tfgen.serving import json_format
from tfgen.serving.json_format import TensorInfo

STRING = np.dtype(object)
SPECS = {
    "latent": TensorInfo("latent", np.dtype("float32"), (None, 2)),
    "labels": TensorInfo("labels", np.dtype("int32"), (None,)),
}


def test_row_and_columnar_requests_give_the_same_arrays():
    row = {"instances": [{"latent": [0.5, 1], "labels": 3}, {"latent": [2, -1.5], "labels": 0}]}
    columnar = {"inputs": {"latent": [[0.5, 1], [2, -1.5]], "labels": [3, 0]}}
    for request, expected_format in ((row, "row"), (columnar, "columnar")):
        request_format, arrays = json_format.decode_predict_inputs(request, SPECS, "generate")
        assert request_format == expected_format
        assert arrays["latent"].dtype == np.float32 and arrays["labels"].dtype == np.int32
        np.testing.assert_array_equal(arrays["latent"], [[0.5, 1], [2, -1.5]])
        np.testing.assert_array_equal(arrays["labels"], [3, 0])


@pytest.mark.parametrize(
    "request_body, message",
    [
        ({"instances": [[0.5, 1]]}, "has several inputs ['labels', 'latent']: each element of 'instances' must be an object"),
        ({"inputs": [[0.5, 1]]}, "'inputs' must be an object naming them"),
        ({"inputs": {"latent": [[0.5, 1]], "labels": [1.5]}}, "Input 'labels' of signature 'generate' expects int32 numbers, got non-integer numbers"),
        ({"inputs": {"latent": [[0.5, 1]], "labels": [2**40]}}, "outside the int32 range"),
        ({"inputs": {"latent": [[0.5, 1], [0, 0]], "labels": [1]}}, "same batch size, got {'labels': 1, 'latent': 2}"),
        ({"instances": [{"latent": [0.5, 1], "labels": 1}, [0.5, 1]]}, "to be an object like the first, got [0.5, 1] at index 1"),
        ({"inputs": {"latent": [[None, 1]], "labels": [1]}}, "expects float32 numbers, got null, objects or a mix of types (first offending value: None)"),
    ],
)
def test_requests_that_do_not_fit_the_signature(request_body, message):
    with pytest.raises(ValueError) as error:
        json_format.decode_predict_inputs(request_body, SPECS, "generate")
    assert message in str(error.value)


def test_base64_string_inputs_are_decoded():
    specs = {"png": TensorInfo("png", STRING, (None,))}
    payload = b"\x89PNG\x00\xff"
    request = {"instances": [{"b64": base64.b64encode(payload).decode()}, "text"]}
    request_format, arrays = json_format.decode_predict_inputs(request, specs, "s")
    assert request_format == "row" and arrays["png"].tolist() == [payload, b"text"]
    with pytest.raises(ValueError, match="could not base64-decode"):
        json_format.decode_predict_inputs({"inputs": [{"b64": "not base64!"}]}, specs, "s")
    with pytest.raises(ValueError, match="expects strings or"):
        json_format.decode_predict_inputs({"inputs": [3]}, specs, "s")


def test_outputs_follow_tensorflow_servings_layout():
    images = np.arange(4, dtype=np.float32).reshape(2, 2)
    png = np.array([b"\x89PNG\xff", b"\x89PNG\x00"], dtype=object)
    assert json_format.encode_predict_outputs({"images": images}, "row") == {"predictions": [[0.0, 1.0], [2.0, 3.0]]}
    assert json_format.encode_predict_outputs({"images": images}, "columnar") == {"outputs": [[0.0, 1.0], [2.0, 3.0]]}
    both = {"a": images, "b": np.array([7, 8], dtype=np.int32)}
    assert json_format.encode_predict_outputs(both, "row") == {"predictions": [{"a": [0.0, 1.0], "b": 7}, {"a": [2.0, 3.0], "b": 8}]}
    assert json_format.encode_predict_outputs(both, "columnar") == {"outputs": {"a": [[0.0, 1.0], [2.0, 3.0]], "b": [7, 8]}}
    # Strings named *_bytes are base64 objects; other strings are text.
    encoded = json_format.encode_predict_outputs({"images_bytes": png}, "row")["predictions"]
    assert [base64.b64decode(item["b64"]) for item in encoded] == list(png)
    text = np.array([b"cat", b"dog"], dtype=object)
    assert json_format.encode_predict_outputs({"label": text}, "columnar") == {"outputs": ["cat", "dog"]}
    np.testing.assert_array_equal(json_format.from_json_value(encoded), png)


def test_float32_values_are_written_in_their_shortest_form_and_read_back_exactly():
    values = np.array([0.1, 1 / 3, -2.5e-8, 3.4028235e38, 0.0], np.float32)
    text = json.dumps(json_format.to_json_value(values))
    assert text == "[0.1, 0.33333334, -2.5e-08, 3.4028235e+38, 0.0]"
    random = np.random.default_rng(0).standard_normal(10000).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(json.loads(json.dumps(json_format.to_json_value(random))), np.float32), random)
