"""Conformance with TensorFlow Serving's JSON tensor format, case by case from its own tests.

Each case is taken from ``tensorflow_serving/util/json_tensor_test.cc``
(repository tensorflow/serving; the test named in each case's id): the same
request, the same signature input types, and what TensorFlow Serving answers
(the arrays, or that it refuses the request). Every request is decoded the way
``tfgen serve`` decodes a body: ``json_arrays.loads`` (once as is, once with
every numeric array taken by the NumPy path) and then
``json_format.decode_predict_inputs``. Output layout cases follow the
``FromJson*`` tests.
"""

import base64
import json

import numpy as np
import pytest

from tfgen.serving import json_arrays, json_format
from tfgen.serving.json_format import TensorInfo

INT32, FLOAT, DOUBLE, STRING = np.dtype("int32"), np.dtype("float32"), np.dtype("float64"), np.dtype(object)


def _specs(**dtypes):
    return {name: TensorInfo(name, dtype, None) for name, dtype in dtypes.items()}


def _decode(body, specs, min_array_bytes):
    request = json_arrays.loads(body.encode(), min_array_bytes=min_array_bytes)
    return json_format.decode_predict_inputs(request, specs, "serving_default")


PATHS = pytest.mark.parametrize("min_array_bytes", [json_arrays.MIN_ARRAY_BYTES, 1], ids=["json", "numpy"])

ACCEPTED = [
    ("SingleUnnamedTensor", '{"instances": [[1,2],[3,4],[5,6]]}', _specs(default=INT32), "row",
     {"default": np.array([[1, 2], [3, 4], [5, 6]])}),
    ("MixedInputForFloatTensor", '{"instances": [1, 2.0, 3, 4, 5.003, 0.007, 0.0]}', _specs(default=FLOAT), "row",
     {"default": np.array([1, 2, 3, 4, 5.003, 0.007, 0], dtype="float32")}),
    ("MixedInputForDoubleTensor", '{"instances": [1.0, 2, 3, 4, 0.662, 0, 0.0]}', _specs(default=DOUBLE), "row",
     {"default": np.array([1, 2, 3, 4, 0.662, 0, 0])}),
    ("SingleUnnamedTensorWithSignature", '{"signature_name": "predict_images", "instances": [[1,2]]}',
     _specs(default=INT32), "row", {"default": np.array([[1, 2]])}),
    ("SingleUnnamedTensorBase64Scalars", '{"instances": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}]}',
     _specs(default=STRING), "row", {"default": np.array([b"hello", b"world"], dtype=object)}),
    ("SingleUnnamedTensorBase64Lists", '{"instances": [[{"b64": "aGVsbG8="}], [{"b64": "d29ybGQ="}]]}',
     _specs(default=STRING), "row", {"default": np.array([[b"hello"], [b"world"]], dtype=object)}),
    ("SingleNamedTensorBase64", '{"instances": [{"default": [[{"b64": "aGVsbG8="}], [{"b64": "d29ybGQ="}]]}]}',
     _specs(default=STRING), "row", {"default": np.array([[[b"hello"], [b"world"]]], dtype=object)}),
    ("MultipleNamedTensor",
     '{"instances": [{"int_tensor": [[1,2],[3,4],[5,6]], "str_tensor": ["foo", "bar"], "float_tensor": [1.0, NaN],'
     ' "dbl_tensor": [NaN]}, {"int_tensor": [[7,8],[9,0],[1,2]], "str_tensor": ["baz", "bat"],'
     ' "float_tensor": [2.0, Infinity], "dbl_tensor": [2.0]}]}',
     _specs(int_tensor=INT32, str_tensor=STRING, float_tensor=FLOAT, dbl_tensor=DOUBLE), "row",
     {"int_tensor": np.array([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]]),
      "str_tensor": np.array([[b"foo", b"bar"], [b"baz", b"bat"]], dtype=object),
      "float_tensor": np.array([[1.0, np.nan], [2.0, np.inf]], dtype="float32"),
      "dbl_tensor": np.array([[np.nan], [2.0]])}),
    ("SingleUnnamedTensorColumnarFormat", '{"inputs": {"int_tensor": [[[1,2],[3,4],[5,6]]]}}',
     _specs(int_tensor=INT32), "columnar", {"int_tensor": np.array([[[1, 2], [3, 4], [5, 6]]])}),
    ("SingleUnnamedTensorColumnarFormat (unnamed)", '{"inputs": [[[1,2],[3,4],[5,6]]]}',
     _specs(int_tensor=INT32), "columnar", {"int_tensor": np.array([[[1, 2], [3, 4], [5, 6]]])}),
]


@PATHS
@pytest.mark.parametrize("case", ACCEPTED, ids=[case[0] for case in ACCEPTED])
def test_requests_tensorflow_serving_accepts(case, min_array_bytes):
    _, body, specs, expected_format, expected = case
    request_format, arrays = _decode(body, specs, min_array_bytes)
    assert request_format == expected_format
    assert set(arrays) == set(expected)
    for name, array in expected.items():
        assert arrays[name].dtype == specs[name].dtype
        if array.dtype == object:
            assert arrays[name].tolist() == array.tolist()
        else:
            np.testing.assert_array_equal(arrays[name], array.astype(specs[name].dtype))


def test_multiple_named_tensors_in_the_columnar_format():
    # MultipleNamedTensorColumnarFormat: a scalar b64 string and inputs of different batch sizes are
    # accepted by TensorFlow Serving's decoder; tfgen's signatures all share one batch size, which tfgen
    # checks after decoding, so only the decoded values are compared here.
    body = ('{"inputs": {"int_tensor": [[[1,2],[3,4],[5,6]]], "str_tensor": ["foo", "bar"],'
            ' "bin_tensor": {"b64": "aGVsbG8="}}}')
    request = json_arrays.loads(body.encode(), min_array_bytes=1)
    specs = _specs(int_tensor=INT32, str_tensor=STRING, bin_tensor=STRING)
    for name, spec in specs.items():
        array = json_format.to_array(request["inputs"][name], spec.dtype, name)
        expected = {"int_tensor": [[[1, 2], [3, 4], [5, 6]]], "str_tensor": [b"foo", b"bar"], "bin_tensor": b"hello"}
        assert array.tolist() == expected[name]


REFUSED = [
    ("SingleUnnamedTensorErrors: empty document", "", _specs(default=INT32)),
    ("SingleUnnamedTensorErrors: signature_name not a string",
     '{"signature_name": 5, "instances": [[1,2],[3,4],[5,6,7]]}', _specs(default=INT32)),
    ("SingleUnnamedTensorErrors: instances and inputs",
     '{"instances": [[1,2],[3,4],[5,6,7]], "inputs": [[1,2],[3,4],[5,6,7]]}', _specs(default=INT32)),
    ("SingleUnnamedTensorErrors: tensor size", '{"instances": [[1,2],[3,4],[5,6,7]]}', _specs(default=INT32)),
    ("SingleUnnamedTensorErrors: shape", '{"instances": [[1,2],[3,4],[[5,6]]]}', _specs(default=INT32)),
    ("SingleUnnamedTensorErrors: list at a scalar's place", '{"instances": [1, [1]]}', _specs(default=INT32)),
    ("SingleUnnamedTensorErrors: strings for int32", '{"instances": [[1,2],["a", "b"]]}', _specs(default=INT32)),
    ("SingleUnnamedTensorErrors: double max for float",
     '{"instances": [%r]}' % np.finfo(np.float64).max, _specs(default=FLOAT)),
    ("SingleUnnamedTensorErrors: 2^24 + 1 for float", '{"instances": [16777217]}', _specs(default=FLOAT)),
    ("SingleUnnamedTensorErrors: 2^53 + 1 for double", '{"instances": [9007199254740993]}', _specs(default=DOUBLE)),
    ("MultipleNamedTensorErrors: shapes differ",
     '{"instances": [{"int_tensor": [[1,2],[3,4],[5,6]], "str_tensor": ["foo", "bar"]},'
     ' {"int_tensor": [[[7,8],[9,0],[1,2]]], "str_tensor": ["baz", "bat"]}]}',
     _specs(int_tensor=INT32, str_tensor=STRING)),
    ("MultipleNamedTensorErrors: sizes differ",
     '{"instances": [{"int_tensor": [[1,2],[3,4],[5,6],[7,8]], "str_tensor": ["foo", "bar"]},'
     ' {"int_tensor": [[7,8],[9,0],[1,2]], "str_tensor": ["baz", "bat"]}]}',
     _specs(int_tensor=INT32, str_tensor=STRING)),
    ("MultipleNamedTensorErrors: a list among objects",
     '{"instances": [{"int_tensor": [[1,2],[3,4],[5,6]], "str_tensor": ["foo", "bar"]}, [1, 20, 30],'
     ' {"int_tensor": [[[7,8],[9,0],[1,2]]], "str_tensor": ["baz", "bat"]}]}',
     _specs(int_tensor=INT32, str_tensor=STRING)),
    ("MultipleNamedTensorErrors: an object among lists",
     '{"instances": [["baz", "bar"], {"str_tensor": ["baz", "bat"]}]}', _specs(str_tensor=STRING)),
]


@PATHS
@pytest.mark.parametrize("case", REFUSED, ids=[case[0] for case in REFUSED])
def test_requests_tensorflow_serving_refuses(case, min_array_bytes):
    _, body, specs = case
    with pytest.raises(ValueError):
        _decode(body, specs, min_array_bytes)


@pytest.mark.parametrize("value, dtype", [(16777215, FLOAT), (-16777215, FLOAT), (9007199254740991, DOUBLE)])
@PATHS
def test_the_largest_integers_tensorflow_serving_takes_for_floats(value, dtype, min_array_bytes):
    _, arrays = _decode('{"instances": [%d, 1]}' % value, _specs(default=dtype), min_array_bytes)
    assert arrays["default"][0] == value


def test_outputs_are_laid_out_as_tensorflow_serving_writes_them():
    # FromJsonSingleTensor, FromJsonSingleScalarTensor, FromJsonSingleBytesTensor, FromJsonMultipleNamedTensors
    ints = np.array([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]], dtype="int32")
    assert json_format.encode_predict_outputs({"int_tensor": ints}, "row") == {"predictions": ints.tolist()}
    assert json_format.encode_predict_outputs({"int_tensor": ints}, "columnar") == {"outputs": ints.tolist()}
    assert json_format.encode_predict_outputs({"t": np.arange(1, 6, dtype="int32")}, "row") == {
        "predictions": [1, 2, 3, 4, 5]}
    words = np.array([[b"hello", b"world"], [b"tf", b"serving"]], dtype=object)
    encoded = json_format.encode_predict_outputs({"str_tensor_bytes": words}, "row")
    assert encoded == {"predictions": [[{"b64": base64.b64encode(w).decode()} for w in row] for row in words]}
    outputs = {"float_tensor": np.array([[1.0], [2.0]], dtype="float32"), "int_tensor": ints}
    row = json.loads(json.dumps(json_format.encode_predict_outputs(outputs, "row")))
    assert row == {"predictions": [{"float_tensor": [1.0], "int_tensor": ints[0].tolist()},
                                   {"float_tensor": [2.0], "int_tensor": ints[1].tolist()}]}
    columnar = json_format.encode_predict_outputs(outputs, "columnar")
    assert json.loads(json.dumps(columnar)) == {"outputs": {"float_tensor": [[1.0], [2.0]], "int_tensor": ints.tolist()}}
