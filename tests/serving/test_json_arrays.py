"""``serving.json_arrays``: request JSON with large numeric arrays decoded straight to NumPy, memory bounded."""

import json
import threading
import types
import tracemalloc

import numpy as np
import pytest

from tfgen.serving import json_arrays, server as server_module


def _same_as_json(body, min_array_bytes=1):
    """``loads(body)`` equals ``json.loads(body)`` (numeric arrays compared as NumPy); returns ``loads``'s result."""
    expected, got = json.loads(body), json_arrays.loads(body, min_array_bytes=min_array_bytes)

    def compare(a, b):
        if isinstance(b, np.ndarray):
            reference = np.asarray(a)
            assert b.shape == reference.shape
            assert reference.size == 0 or b.dtype.kind == reference.dtype.kind
            np.testing.assert_array_equal(b, reference)
        elif isinstance(a, dict):
            assert isinstance(b, dict) and a.keys() == b.keys()
            for key in a:
                compare(a[key], b[key])
        elif isinstance(a, list):
            assert isinstance(b, list) and len(a) == len(b)
            for x, y in zip(a, b):
                compare(x, y)
        else:
            assert type(a) is type(b) and a == b

    compare(expected, got)
    return got


def _random_number(rng):
    kind = rng.integers(4)
    if kind == 0:
        return str(int(rng.integers(-10**6, 10**6)))
    if kind == 1:
        return repr(float(rng.normal() * 10.0 ** rng.integers(-8, 8)))
    if kind == 2:
        return f"{rng.normal():.3e}".replace("e", "E" if rng.integers(2) else "e")
    return "-0" if rng.integers(2) else "0"


def _random_array_text(rng, shape, integers):
    spaces = [" ", "", "\n", "\t", "  "]
    if not shape:
        return str(int(rng.integers(-99, 99))) if integers else _random_number(rng)
    inner = [_random_array_text(rng, shape[1:], integers) for _ in range(shape[0])]
    gap = spaces[rng.integers(len(spaces))]
    return "[" + gap + ("," + gap).join(inner) + gap + "]"


@pytest.mark.parametrize("seed", range(40))
def test_regular_arrays_decode_like_json(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in rng.integers(0, 4, size=rng.integers(1, 5)))
    text = _random_array_text(rng, shape, integers=bool(rng.integers(2)))
    body = '{"instances": ' + text + ', "signature_name": "s [1, 2]", "other": [true, ' + text + "]}"
    got = _same_as_json(body.encode())
    # JSON cannot write the dimensions after a 0 one: "[[]]" is shape (1, 0) whatever was meant
    written = shape[: shape.index(0) + 1] if 0 in shape else shape
    assert isinstance(got["instances"], np.ndarray) and got["instances"].shape == written
    assert got["signature_name"] == "s [1, 2]"  # arrays inside strings stay text


@pytest.mark.parametrize(
    "text",
    ["[1, 2,]", "[1 2]", "[,1]", "[1,,2]", "[[1],[2]]]", "[01, 2]", "[-01]", "[1.e5]", "[.5]", "[1.5.2]", "[1e5e2]",
     "[1e5.2]", "[+1]", "[1-2]", "[1e]", "[1.]", "[-]", "[1][2]", "[[1]2]", "[1,[2]", "[--1]", "[1e+-2]"],
)
def test_malformed_arrays_are_refused_like_json(text):
    body = ('{"x": ' + text + "}").encode()
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(ValueError):
        json_arrays.loads(body, min_array_bytes=1)


@pytest.mark.parametrize("text", ["[[1, 2], [3]]", "[[1], 2]", "[1, [2]]", "[[], [[]]]", "[[[1]], [[1, 2]]]"])
def test_ragged_arrays_are_refused(text):
    with pytest.raises(ValueError, match="ragged"):
        json_arrays.loads(('{"x": ' + text + "}").encode(), min_array_bytes=1)


def test_big_integers_and_small_arrays_are_left_to_json():
    body = b'{"a": [' + b"1" * 30 + b', 2], "b": [1, 2, 3]}'
    got = json_arrays.loads(body, min_array_bytes=4)
    assert got["a"] == [int("1" * 30), 2] and isinstance(got["a"], list)
    assert isinstance(json_arrays.loads(body)["b"], list)  # shorter than MIN_ARRAY_BYTES


def test_large_arrays_are_cut_into_pieces_that_agree(monkeypatch):
    monkeypatch.setattr(json_arrays, "_BLOCK", 256)
    rng = np.random.default_rng(0)
    values = rng.normal(size=(300, 3, 2))
    body = json.dumps({"instances": values.tolist()}).encode()
    assert len(body) > 8 * json_arrays._BLOCK
    np.testing.assert_array_equal(json_arrays.loads(body)["instances"], values)
    one_element = json.dumps({"instances": [values.tolist()]}).encode()  # "[[...]]": cut one level down
    np.testing.assert_array_equal(json_arrays.loads(one_element)["instances"], values[None])
    ragged = values.tolist()
    ragged[250] = ragged[250][:2]  # far from the first piece
    with pytest.raises(ValueError, match="ragged"):
        json_arrays.loads(json.dumps({"instances": ragged}).encode())


def _peak_bytes(function, *args):
    tracemalloc.start()
    try:
        result = function(*args)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("element", [b"[0.5]", b"[]", b"[7]", b"0.12345678"])
def test_memory_of_a_large_request_is_a_small_multiple_of_its_body(element):
    body = b'{"instances": [' + b",".join([element] * (8 * 2**20 // (len(element) + 1))) + b"]}"
    result, peak = _peak_bytes(json_arrays.loads, body)
    assert isinstance(result["instances"], np.ndarray)
    assert peak < 6 * len(body), peak / len(body)
    if element.startswith(b"["):  # one list per pixel: json.loads takes 22-26x the body
        eighth = body[: len(body) // 8].rsplit(b",", 1)[0] + b"]}"
        _, json_peak = _peak_bytes(json.loads, eighth)
        assert json_peak / len(eighth) > 3 * peak / len(body)


def test_values_json_must_decode_are_bounded():
    body = b'{"instances": [' + b",".join([b"{}"] * (2**20)) + b"]}"
    with pytest.raises(json_arrays.TooLargeToDecode, match="JSON values outside numeric arrays"):
        json_arrays.loads(body)


# ------------------------------------------------------------------ in the server
LATENT_SPECS = {"latent": types.SimpleNamespace(name="latent", dtype=np.dtype("float32"), shape=(None, 4))}


def test_a_large_row_format_request_decodes_to_the_same_arrays():
    rng = np.random.default_rng(1)
    latent = rng.normal(size=(200, 4)).astype("float32")
    request = json_arrays.loads(json.dumps({"instances": latent.tolist()}).encode())
    _, arrays = server_module.json_format.decode_predict_inputs(request, LATENT_SPECS, "serving_default", 256)
    np.testing.assert_array_equal(arrays["latent"], latent)
    with pytest.raises(server_module.json_format.BatchTooLargeError):
        server_module.json_format.decode_predict_inputs(request, LATENT_SPECS, "serving_default", 100)


def test_a_request_that_waits_too_long_for_a_decoding_slot_gets_a_503(monkeypatch):
    service = object.__new__(server_module.ModelService)
    service.decoding = threading.BoundedSemaphore(1)
    service.decoding.acquire()  # another request is decoding
    monkeypatch.setattr(server_module, "DECODE_WAIT_SECONDS", 0.01)
    service.servable = lambda version: None
    with pytest.raises(server_module.RequestError) as error:
        service.predict(b'{"instances": [[0, 0, 0, 0]]}')
    assert error.value.status == 503 and error.value.headers == {"Retry-After": "1"}


@pytest.mark.parametrize(
    "string",
    ['a\\"[1, 2, 3]', 'a\\\\', '\\\\\\"[4, 5]\\\\', '[1, 2] \\u005b', ''],
)
def test_strings_with_escapes_and_brackets_stay_strings(string):
    array = "[" + ", ".join(str(i) for i in range(10)) + "]"
    body = ('{"s": "' + string + '", "x": ' + array + ', "t": ["' + string + '", ' + array + "]}").encode()
    got = _same_as_json(body)
    assert isinstance(got["x"], np.ndarray) and isinstance(got["s"], str)


def test_long_strings_cost_little_to_skip():
    for content in (b"QUJD" * 2**20, b"\\n" * 2**21):  # base64, or nothing but escapes
        body = b'{"instances": [{"b64": "' + content + b'"}], "x": [' + b"1, " * 400 + b"2]}"
        result, peak = _peak_bytes(json_arrays.loads, body)
        assert isinstance(result["x"], np.ndarray) and len(result["instances"][0]["b64"]) > 0
        assert peak < 5 * len(body), peak / len(body)  # the string itself is decoded: about 4x


def test_an_unclosed_string_is_malformed():
    with pytest.raises(ValueError, match="not closed"):
        json_arrays.loads(b'{"s": "abc\\", "x": [1]}')
