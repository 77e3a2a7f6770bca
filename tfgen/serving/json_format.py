"""TensorFlow Serving's REST JSON format for tensors, in NumPy.

This mirrors ``tensorflow_serving/util/json_tensor.cc`` so that ``tfgen
serve`` and TensorFlow Serving answer the same request with the same JSON:

- Row format: ``{"instances": [...]}``, one element per example. With one
  input, an element is that input's value; with several, an object
  ``{input_name: value}``. The answer is ``{"predictions": [...]}``, one
  element per example: the bare value when the signature has one output, an
  object ``{output_name: value}`` when it has several.
- Columnar format: ``{"inputs": value}`` (one input) or
  ``{"inputs": {input_name: value}}``, whole tensors including the batch
  dimension. The answer is ``{"outputs": value}`` or
  ``{"outputs": {output_name: value}}``.
- Binary strings travel as ``{"b64": "<base64>"}``: accepted anywhere a
  string input is expected, and written for string outputs whose name ends in
  ``_bytes`` (``generate_png``'s ``images_bytes``). Other string outputs are
  written as text when they are valid UTF-8.

The server side uses :func:`decode_predict_inputs` and
:func:`encode_predict_outputs`; ``tfgen.serving.Client`` uses
:func:`to_json_value` and :func:`from_json_value`.

Example:
```python
specs = {"latent": TensorInfo("latent", np.dtype("float32"), (None, 4))}
request_format, arrays = decode_predict_inputs({"instances": [[0, 0, 0, 0]]}, specs, "generate")
# request_format == "row", arrays["latent"].shape == (1, 4)
```
"""

import base64
import binascii
import collections

import numpy as np

ROW_FORMAT = "row"
COLUMNAR_FORMAT = "columnar"
BASE64_KEY = "b64"
BYTES_SUFFIX = "_bytes"

TensorInfo = collections.namedtuple("TensorInfo", ["name", "dtype", "shape"])
TensorInfo.__doc__ = """One input or output of a signature.

``dtype`` is a NumPy dtype (``np.dtype(object)`` holds ``bytes`` for string
tensors); ``shape`` is a tuple with ``None`` for unknown sizes, or ``None``
when even the rank is unknown."""


class BatchTooLargeError(ValueError):
    """A request with more samples than the server allows (answered with HTTP 413)."""

    def __init__(self, batch_size, max_batch_size):
        super().__init__(
            f"The request has {batch_size} samples; this server accepts at most {max_batch_size} per request "
            "(--max-batch-size). Split the request."
        )
        self.batch_size = batch_size
        self.max_batch_size = max_batch_size


def dtype_name(dtype):
    """``"float32"``, ``"int32"``, ..., ``"string"`` for a TensorInfo dtype."""
    return "string" if dtype == np.dtype(object) else np.dtype(dtype).name


def shape_string(shape):
    """``[N, 4]`` for ``(None, 4)``; ``[?]`` for an unknown rank."""
    if shape is None:
        return "[?]"
    return "[" + ", ".join("N" if i == 0 and d is None else ("?" if d is None else str(d)) for i, d in enumerate(shape)) + "]"


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_base64_object(value):
    """True for ``{"b64": "<str>"}`` (exactly one key), TensorFlow Serving's binary string."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(BASE64_KEY), str)


def _decode_base64(value, where):
    try:
        return base64.b64decode(value[BASE64_KEY], validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"{where}: could not base64-decode {_short(value)}: {error}.") from None


def _strings_to_array(value, where):
    """Nested lists of str / {"b64": ...} -> object array of bytes, refusing ragged lists."""

    def shape_of(item):
        shape = []
        while isinstance(item, list):
            shape.append(len(item))
            if not item:
                break
            item = item[0]
        return tuple(shape)

    shape = shape_of(value)
    flat = []

    def walk(item, depth):
        if isinstance(item, list):
            if depth >= len(shape) or len(item) != shape[depth]:
                raise ValueError(
                    f"{where} is ragged: nested lists at the same depth must have the same length "
                    f"(expected shape {list(shape)})."
                )
            for element in item:
                walk(element, depth + 1)
            return
        if depth != len(shape):
            raise ValueError(f"{where} is ragged: found the value {_short(item)} at depth {depth}, expected depth {len(shape)}.")
        if isinstance(item, str):
            flat.append(item.encode("utf-8"))
        elif is_base64_object(item):
            flat.append(_decode_base64(item, where))
        else:
            raise ValueError(f"{where} expects strings or {{\"b64\": ...}} objects, got {_short(item)}.")

    walk(value, 0)
    array = np.empty(len(flat), dtype=object)
    array[:] = flat
    return array.reshape(shape)


def _describe_kind(array):
    if array.dtype.kind == "b":
        return "booleans"
    if array.dtype.kind in "US":
        return "strings"
    if array.dtype.kind == "f":
        return "non-integer numbers"
    return "null, objects or a mix of types"


_NOTHING = object()


def _first_offending(value):
    """The first leaf of nested lists that is not an int or float (for error messages)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            return item
    return _NOTHING


def _first_integer_beyond(value, array, largest):
    """The first JSON integer in ``value`` (``array``: it as NumPy) larger than ``largest`` in magnitude.

    NumPy arrays inside ``value`` come from ``serving.json_arrays``: int64
    only when every number in them was an integer, so only those are checked.
    """
    if array.dtype.kind in "iu":  # every number is an integer
        return _first_beyond(array, largest)
    stack = [value]  # fractions too: only the integers count
    while stack:
        item = stack.pop()
        if isinstance(item, np.ndarray):
            if item.dtype.kind in "iu":
                found = _first_beyond(item, largest)
                if found is not _NOTHING:
                    return found
        elif isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool) and abs(int(item)) > largest:
            return int(item)
    return _NOTHING


def _first_beyond(integers, largest):
    flat = np.asarray(integers).ravel()
    beyond = np.flatnonzero(np.abs(flat) > largest) if flat.size else []
    return int(flat[beyond[0]]) if len(beyond) else _NOTHING


# TensorFlow's own names of these types (DataTypeString), which TensorFlow Serving's messages use.
_TENSORFLOW_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


def _numbers_to_array(value, dtype, where):
    """Nested lists of JSON numbers -> array of ``dtype``, with TensorFlow Serving's checks."""
    if is_base64_object(value) or isinstance(value, dict):
        raise ValueError(f"{where} expects {dtype.name} numbers, got the object {_short(value)}.")
    try:
        array = np.asarray(value)
    except ValueError:
        raise ValueError(f"{where} is ragged: nested lists at the same depth must have the same length.") from None
    if array.dtype.kind not in "iuf" or (dtype.kind in "iu" and array.dtype.kind == "f"):
        offending = _first_offending(value) if array.dtype.kind != "f" else _NOTHING
        detail = f" (first offending value: {_short(offending)})" if offending is not _NOTHING else ""
        raise ValueError(
            f"{where} expects {dtype.name} numbers, got {_describe_kind(array)}{detail} "
            f"(not of expected type: {_TENSORFLOW_TYPE_NAMES.get(dtype.name, dtype.name)})."
        )
    if dtype.kind == "f":
        # As TensorFlow Serving: an integer converts to a float type only if every integer up to it does.
        largest = 2 ** (np.finfo(dtype).nmant + 1) - 1
        inexact = _first_integer_beyond(value, array, largest)
        if inexact is not _NOTHING:
            raise ValueError(
                f"{where}: cannot convert the integer {inexact} to {dtype.name} without loss of precision "
                f"(integers up to {largest} in magnitude)."
            )
    if dtype.kind == "f" and array.size:
        finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
        limit = np.finfo(dtype).max
        if finite.size and np.max(np.abs(finite)) > limit:
            raise ValueError(f"{where}: a value exceeds the {dtype.name} range (|x| <= {limit:.4g}).")
    elif dtype.kind in "iu" and array.size:
        info = np.iinfo(dtype)
        if array.min() < info.min or array.max() > info.max:
            raise ValueError(f"{where}: a value is outside the {dtype.name} range [{info.min}, {info.max}].")
    return array.astype(dtype, copy=False)


def to_array(value, dtype, where):
    """Converts a JSON value (nested lists) into a NumPy array of ``dtype``.

    Args:
        value: the decoded JSON: a number, string, ``{"b64": ...}`` object or
            nested lists of them.
        dtype: target NumPy dtype; ``np.dtype(object)`` means a string tensor
            (the array then holds ``bytes``).
        where: how to name the value in error messages (``"Input 'latent'"``).

    Returns:
        A NumPy array of ``dtype``.

    Raises:
        ValueError: ragged lists, or values of the wrong type (strings for a
            float input, a fraction for an int input, out-of-range numbers).
    """
    if dtype == np.dtype(object):
        return _strings_to_array(value, where)
    if dtype.kind == "b":
        array = np.asarray(value)
        if array.dtype.kind != "b":
            raise ValueError(f"{where} expects booleans, got {_describe_kind(array) if array.dtype.kind != 'f' else 'numbers'}.")
        return array
    return _numbers_to_array(value, dtype, where)


def check_shape(array, spec, signature_name):
    """Raises ``ValueError`` unless ``array``'s shape fits the input ``spec`` (``None`` dimensions match any size)."""
    expected = spec.shape
    if expected is None:
        return
    matches = array.ndim == len(expected) and all(e is None or e == a for e, a in zip(expected, array.shape))
    if not matches:
        raise ValueError(
            f"Input {spec.name!r} of signature {signature_name!r} expects shape {shape_string(expected)} "
            f"({dtype_name(spec.dtype)}), got shape {list(array.shape)}."
        )


def _is_named_object(value):
    return isinstance(value, dict) and not is_base64_object(value)


def _check_names(given, specs, signature_name, where):
    given, expected = set(given), set(specs)
    if given != expected:
        missing, unknown = sorted(expected - given), sorted(given - expected)
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if unknown:
            parts.append(f"unknown {unknown}")
        raise ValueError(
            f"{where} of signature {signature_name!r} must name exactly the inputs {sorted(expected)}; "
            f"{' and '.join(parts)}."
        )


def _row_columns(instances, input_specs, signature_name, max_batch_size):
    """The row format's ``instances`` (a JSON list) as ``{input_name: list of values}``."""
    if not isinstance(instances, list) or not instances:
        raise ValueError(f"Expected 'instances' to be a non-empty list, got {_short(instances)}.")
    if max_batch_size is not None and len(instances) > max_batch_size:
        raise BatchTooLargeError(len(instances), max_batch_size)
    if _is_named_object(instances[0]):
        for index, instance in enumerate(instances):
            if not _is_named_object(instance):
                raise ValueError(f"Expected every element of 'instances' to be an object like the first, got {_short(instance)} at index {index}.")
            _check_names(instance, input_specs, signature_name, f"Element {index} of 'instances'")
        return {name: [instance[name] for instance in instances] for name in input_specs}
    _check_one_input(input_specs, signature_name)
    for index, instance in enumerate(instances):
        if _is_named_object(instance):
            raise ValueError(f"Expected every element of 'instances' to be a value or list like the first, got an object at index {index}.")
    return {next(iter(input_specs)): instances}


def _check_one_input(input_specs, signature_name):
    """Unnamed row-format instances need a signature with one input."""
    if len(input_specs) > 1:
        raise ValueError(
            f"Signature {signature_name!r} has several inputs {sorted(input_specs)}: each element of "
            "'instances' must be an object naming them."
        )


def _unnamed_instances(instances, input_specs, signature_name, max_batch_size):
    """The row format's ``instances`` given as one NumPy array (see ``serving.json_arrays``)."""
    if instances.ndim == 0 or not len(instances):
        raise ValueError(f"Expected 'instances' to be a non-empty list, got an array of shape {list(instances.shape)}.")
    if max_batch_size is not None and len(instances) > max_batch_size:
        raise BatchTooLargeError(len(instances), max_batch_size)
    _check_one_input(input_specs, signature_name)
    return {next(iter(input_specs)): instances}


def decode_predict_inputs(request, input_specs, signature_name, max_batch_size=None):
    """Turns a predict request body into input arrays.

    Args:
        request: the decoded JSON body (a dict) with ``"instances"`` (row
            format) or ``"inputs"`` (columnar format).
        input_specs: ``{input_name: TensorInfo}`` of the chosen signature.
        signature_name: used in error messages.
        max_batch_size: optional bound on the batch dimension (number of
            samples); a larger request raises ``BatchTooLargeError``.

    Returns:
        ``(request_format, arrays)``: ``"row"`` or ``"columnar"``, and
        ``{input_name: np.ndarray}`` whose shapes match ``input_specs`` and
        share one batch size of at least 1.

    Raises:
        ValueError: the request does not fit the signature; the message says
            what was received and what was expected.
        BatchTooLargeError: more than ``max_batch_size`` samples.
    """
    has_instances, has_inputs = "instances" in request, "inputs" in request
    if has_instances == has_inputs:
        raise ValueError(
            "Expected exactly one of 'instances' (row format) or 'inputs' (columnar format) in the "
            f"request, got keys {sorted(request)}."
        )
    if has_instances:
        request_format = ROW_FORMAT
        instances = request["instances"]
        if isinstance(instances, np.ndarray):  # a large numeric array, decoded straight to NumPy
            columns = _unnamed_instances(instances, input_specs, signature_name, max_batch_size)
        else:
            columns = _row_columns(instances, input_specs, signature_name, max_batch_size)
    else:
        request_format = COLUMNAR_FORMAT
        inputs = request["inputs"]
        if _is_named_object(inputs):
            # Names the signature does not take are ignored, as TensorFlow Serving ignores them.
            missing = sorted(set(input_specs) - set(inputs))
            if missing:
                raise ValueError(
                    f"'inputs' of signature {signature_name!r} must name the inputs {sorted(input_specs)}; "
                    f"missing {missing}."
                )
            columns = dict(inputs)
        elif len(input_specs) > 1:
            raise ValueError(
                f"Signature {signature_name!r} has several inputs {sorted(input_specs)}: 'inputs' must be an "
                "object naming them."
            )
        else:
            columns = {next(iter(input_specs)): inputs}

    arrays = {}
    for name, spec in input_specs.items():
        array = to_array(columns[name], spec.dtype, f"Input {name!r} of signature {signature_name!r}")
        scalar_spec = spec.shape is not None and len(spec.shape) == 0
        if scalar_spec and request_format == ROW_FORMAT:
            raise ValueError(
                f"Input {name!r} of signature {signature_name!r} is a scalar; send it in the columnar "
                f"format: {{\"inputs\": {{\"{name}\": ...}}}}."
            )
        check_shape(array, spec, signature_name)
        if array.ndim == 0 and not scalar_spec:
            raise ValueError(f"Input {name!r} of signature {signature_name!r} must have a batch dimension, got a scalar.")
        arrays[name] = array
    check_batch_size(arrays, max_batch_size)
    return request_format, arrays


def check_batch_size(arrays, max_batch_size=None):
    """Checks the batch of a request's input arrays: one size, at least 1, at most ``max_batch_size``.

    Scalar inputs have no batch dimension; a scalar ``num_samples`` (the
    ``sample`` signature) is the batch size it asks for.

    Raises:
        ValueError: different batch sizes, an empty batch, or ``num_samples`` < 1.
        BatchTooLargeError: more than ``max_batch_size`` samples.
    """
    batch_sizes = {name: arrays[name].shape[0] for name in sorted(arrays) if arrays[name].ndim > 0}
    if len(set(batch_sizes.values())) > 1:
        raise ValueError(f"All inputs must have the same batch size, got {batch_sizes}.")
    if batch_sizes:
        batch_size = next(iter(batch_sizes.values()))
        if batch_size == 0:
            raise ValueError("Expected at least one sample, got a batch of 0.")
        if max_batch_size is not None and batch_size > max_batch_size:
            raise BatchTooLargeError(batch_size, max_batch_size)
    # Scalar-only signatures (``sample``): ``num_samples`` is the batch size they produce.
    if "num_samples" in arrays and arrays["num_samples"].ndim == 0:
        num_samples = int(arrays["num_samples"])
        if num_samples < 1:
            raise ValueError(f"Expected num_samples to be a positive int, got {num_samples}.")
        if max_batch_size is not None and num_samples > max_batch_size:
            raise BatchTooLargeError(num_samples, max_batch_size)


def to_json_value(array, name=""):
    """A NumPy array (or scalar) as JSON-ready nested lists.

    Args:
        array: the tensor value. ``bytes`` elements become ``{"b64": ...}``
            when ``name`` ends in ``_bytes`` or when they are not valid UTF-8,
            and text otherwise (as TensorFlow Serving does).
        name: the tensor's name in the signature.

    Returns:
        Nested lists of numbers, strings or ``{"b64": ...}`` objects.
    """
    array = np.asarray(array)
    if array.dtype in (np.float16, np.float32):
        # The shortest decimal that reads back as the same float32 (as TensorFlow
        # Serving writes it): NumPy's str() of a float32, carried as the float64
        # of that decimal, which json writes with the same digits. 0.1f is "0.1",
        # not "0.10000000149011612"; answers are about 38% smaller.
        return array.astype(str).astype(np.float64).tolist()
    if array.dtype.kind not in "OSU":
        return array.tolist()
    as_bytes = name.endswith(BYTES_SUFFIX)

    def encode(item):
        if isinstance(item, str):
            item = item.encode("utf-8")
        if not as_bytes:
            try:
                return item.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return {BASE64_KEY: base64.b64encode(item).decode("ascii")}

    encoded = np.empty(array.size, dtype=object)
    encoded[:] = [encode(item) for item in array.reshape(-1)]
    return encoded.reshape(array.shape).tolist()


def from_json_value(value, dtype=None):
    """Nested JSON lists (as answered by a server) -> NumPy array.

    Args:
        value: numbers, strings or ``{"b64": ...}`` objects in nested lists.
        dtype: optional NumPy dtype of the result (``np.dtype(object)`` for
            strings); inferred when ``None``.

    Returns:
        A NumPy array; ``{"b64": ...}`` and text become ``bytes``.
    """
    if dtype == np.dtype(object) or _contains_strings(value):
        return _strings_to_array(value, "Response value")
    array = np.asarray(value)
    return array.astype(dtype) if dtype is not None else array


def _contains_strings(value):
    while isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, str) or is_base64_object(value)


def encode_predict_outputs(outputs, request_format, output_order=None):
    """Builds the JSON answer of a predict request.

    Args:
        outputs: ``{output_name: np.ndarray}`` from the signature.
        request_format: ``"row"`` or ``"columnar"`` (as returned by
            :func:`decode_predict_inputs`).
        output_order: optional list of output names fixing the key order.

    Returns:
        ``{"predictions": [...]}`` (row) or ``{"outputs": ...}`` (columnar);
        a bare value per example / tensor when there is a single output.

    Raises:
        ValueError: row format with outputs of different batch sizes.
    """
    names = list(output_order) if output_order is not None else sorted(outputs)
    values = {name: to_json_value(outputs[name], name) for name in names}
    if request_format == COLUMNAR_FORMAT:
        return {"outputs": values[names[0]] if len(names) == 1 else values}
    batch_sizes = {name: (np.shape(outputs[name])[0] if np.ndim(outputs[name]) else None) for name in names}
    if None in batch_sizes.values() or len(set(batch_sizes.values())) > 1:
        raise ValueError(f"The row format needs outputs with one batch size, got {batch_sizes}; use 'inputs' (columnar format).")
    if len(names) == 1:
        return {"predictions": values[names[0]]}
    return {"predictions": [dict(zip(names, row)) for row in zip(*(values[name] for name in names))]}
