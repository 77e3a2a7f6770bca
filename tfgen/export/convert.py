"""LiteRT (TFLite) and ONNX exports, checked against the model by their own runtimes.

``export_model(model, format)`` writes one of these formats:

============  ===================================  ===========================================
format        written to (default)                 holds
============  ===================================  ===========================================
saved_model   ``saved_models/<name>/<version>/``   every signature (:mod:`tfgen.export.saved_model`)
tflite        ``saved_models/<name>/tflite/``      ``model.tflite``: one file, one LiteRT
                                                   signature per portable endpoint
onnx          ``saved_models/<name>/onnx/``        ``<signature>.onnx``: one file per portable
                                                   endpoint (an ONNX graph has one entry point)
web           ``saved_models/<name>/web/``         ``index.html``, ``tfgen_generator.mjs`` and
                                                   ``generate.onnx``: a page that generates in
                                                   the browser with onnxruntime-web (WebAssembly)
============  ===================================  ===========================================

``quantize="int8"`` (LiteRT, ONNX and web) stores weights as int8 with dynamic
range quantisation (activations stay float) and writes to ``<format>_int8/``. Every folder holds ``model_card.json``: the signatures with
their inputs and outputs, the signatures left out and why, and the largest
difference from the model measured by the format's own runtime.

The portable endpoints are the SavedModel's, with three changes:

* ``generate_png``, ``sample`` and ``sample_labels`` are left out: PNG
  encoding and TensorFlow's stateless random ops have no LiteRT builtin or
  ONNX operator. Draw the latent vectors on the client (N(0, I)) and call
  ``generate``.
* Label checks survive conversion: converters drop TensorFlow's assertions,
  so a label outside ``[0, num_classes)`` would silently pick another class
  (or read out of bounds). Here every output row of such a label is NaN; the
  other rows are unaffected.
* No output shares a name with an input (tf2onnx cannot convert a graph where
  they do): the VAE's ``reconstruct`` returns ``reconstructions``.

A model trained in mixed precision (bfloat16 or float16) is exported from a
float32 copy with the same weights (:func:`float32_copy`): the runtimes have
no kernels for mixed-precision graphs.

Nothing is written unless the runtime loads the converted model and runs
every signature on batches of 1 and 7: a converter's exit status proves
nothing (tf2onnx writes graphs onnxruntime rejects). Float conversions that
differ from the model by more than :data:`MAX_FLOAT_DIFFERENCE` are refused.

Conversion needs ``pip install "tfgen[deploy]"`` (tf2onnx, onnxruntime,
ai-edge-litert); LiteRT conversion itself is part of TensorFlow.
"""

import logging
import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from tfgen.export.saved_model import (
    DEFAULT_BASE_DIR,
    check_exportable,
    export_saved_model,
    library_versions,
    publish,
    staging_directory,
)
from tfgen.models.base import PNG_CHANNELS, Endpoint
from tfgen.precision import PRECISIONS

FORMATS = ("saved_model", "tflite", "onnx", "web")
QUANTIZATIONS = ("int8",)
TFLITE_FILENAME = "model.tflite"
# The web page: its files (shipped in tfgen/export/web/) and the onnxruntime-web it loads.
WEB_FILES = ("index.html", "tfgen_generator.mjs")
WEB_SOURCE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")
ONNXRUNTIME_WEB_VERSION = "1.31.1"
# The npm registry's tarball of that version and its sha512 (``npm view onnxruntime-web@1.31.1 dist.integrity``).
ONNXRUNTIME_WEB_TARBALL = f"https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-{ONNXRUNTIME_WEB_VERSION}.tgz"
ONNXRUNTIME_WEB_SHA512 = "5GeH+bWQ+HxM10z7erGlsWqryrwMbSvm/1tkIsKTT48g0fI19VXVVC435t4t7VsPdSQeS7NmuZPXrQ73k82URw=="
# What the page needs of it (WebAssembly backend only), copied to <folder>/ort/.
ONNXRUNTIME_WEB_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
WEB_SIGNATURES = ("generate",)
ONNX_OPSET = 17
# A float conversion further than this from the model is a conversion bug, not
# rounding (measured differences are ~1e-7 for tfgen's networks).
MAX_FLOAT_DIFFERENCE = 1e-4
PARITY_BATCH_SIZES = (1, 7)

# Signatures the converted formats cannot hold, and why (written to the model card).
_RANDOM_REASON = (
    "draws latent vectors with TensorFlow's stateless random ops, which have no LiteRT builtin or ONNX "
    "operator; draw N(0, I) latent vectors on the client and call generate"
)
OMITTED_SIGNATURES = {
    "generate_png": "encodes PNG files (EncodePng), which has no LiteRT builtin or ONNX operator; "
    "encode generate's images on the client (uint8 round((x + 1) * 127.5))",
    "sample": _RANDOM_REASON,
    "sample_labels": _RANDOM_REASON,
}
# Outputs renamed so that no output shares a name with an input.
RENAMED_OUTPUTS = {("reconstruct", "images"): "reconstructions"}

__all__ = [
    "FORMATS",
    "MAX_FLOAT_DIFFERENCE",
    "OMITTED_SIGNATURES",
    "ONNXRUNTIME_WEB_VERSION",
    "QUANTIZATIONS",
    "RENAMED_OUTPUTS",
    "TFLITE_FILENAME",
    "WEB_FILES",
    "export_model",
    "export_onnx",
    "export_tflite",
    "export_web",
    "float32_copy",
    "onnxruntime_web_tarball",
    "parity_inputs",
    "portable_endpoints",
]


# ------------------------------------------------------------------ endpoints
def _guard_labels(endpoint, num_classes):
    """``endpoint`` with out-of-range labels turned into NaN output rows instead of assertions."""
    names = [spec.name for spec in endpoint.input_signature]
    if num_classes is None or "labels" not in names:
        return endpoint
    position = names.index("labels")

    def guarded(*tensors):
        tensors = list(tensors)
        labels = tensors[position]
        valid = tf.logical_and(labels >= 0, labels < num_classes)
        # In range for the lookup (the assertions inside now pass; converters drop them anyway).
        tensors[position] = tf.clip_by_value(labels, 0, num_classes - 1)
        outputs = endpoint.function(*tensors)
        guarded_outputs = {}
        for key, value in outputs.items():
            row_valid = tf.reshape(valid, tf.concat([tf.shape(valid), tf.ones([tf.rank(value) - 1], tf.int32)], 0))
            guarded_outputs[key] = tf.where(row_valid, value, tf.constant(float("nan"), value.dtype))
        return guarded_outputs

    return Endpoint(endpoint.name, guarded, list(endpoint.input_signature))


def _rename_outputs(endpoint):
    renames = {key: new for (name, key), new in RENAMED_OUTPUTS.items() if name == endpoint.name}
    if not renames:
        return endpoint

    def renamed(*tensors):
        return {renames.get(key, key): value for key, value in endpoint.function(*tensors).items()}

    return Endpoint(endpoint.name, renamed, list(endpoint.input_signature))


def portable_endpoints(model):
    """The model's endpoints that LiteRT and ONNX can hold, in the form they hold them.

    Args:
        model: a tfgen model.

    Returns:
        ``(endpoints, omitted)``: a list of :data:`tfgen.models.base.Endpoint`
        (labels guarded, outputs renamed; see the module docstring) and a dict
        of the left-out signature names with the reason for each.
    """
    check_exportable(model)
    endpoints, omitted = [], {}
    for endpoint in model.serving_endpoints():
        if endpoint.name in OMITTED_SIGNATURES:
            omitted[endpoint.name] = OMITTED_SIGNATURES[endpoint.name]
            continue
        endpoints.append(_rename_outputs(_guard_labels(endpoint, model.num_classes)))
    return endpoints, omitted


# Keras' mixed-precision policies, as tfgen.precision names them.
_MIXED_POLICIES = frozenset(policy for policy in PRECISIONS.values() if policy != "float32")


def _float32_policies(config):
    """``config`` with every mixed dtype policy (``mixed_bfloat16``, ``mixed_float16``) made ``float32``.

    Returns:
        ``(new_config, names)``: the rewritten config and the set of policy names replaced.
    """
    replaced = set()

    def rewrite(value):
        if isinstance(value, dict):
            name = value.get("config", {}).get("name") if value.get("class_name") == "DTypePolicy" else None
            if name in _MIXED_POLICIES:
                replaced.add(name)
                return {**value, "config": {**value["config"], "name": "float32"}}
            return {key: rewrite(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rewrite(item) for item in value]
        return value

    return rewrite(config), replaced


def float32_copy(model):
    """``model`` itself when it computes in float32, else a float32 copy holding its weights.

    LiteRT and ONNX runtimes lack kernels for mixed-precision graphs (a
    bfloat16 MatMul fed float32, bfloat16 convolutions), so a model trained
    with ``--precision bfloat16`` or ``float16`` is exported from a copy whose
    layers compute in float32. Its variables are float32 already, so the
    copy's outputs differ from the model's only by the model's own rounding.

    Returns:
        ``(model_or_copy, replaced)``: the model to export and the set of
        mixed policies the copy replaced (empty when ``model`` is returned).
    """
    config, replaced = _float32_policies(model.get_config())
    if not replaced:
        return model, replaced
    copy = type(model).from_config(config)
    compile_config = model.get_compile_config()
    if compile_config is not None:  # compiling creates the EMA generator and other variables
        copy.compile_from_config(compile_config)
    copy.set_weights(model.get_weights())
    return copy, replaced


def parity_inputs(input_signature, batch_size, num_classes=None, seed=0):
    """Fixed NumPy inputs for named ``tf.TensorSpec``\ s: N(0, 1) ``latent``, uniform [-1, 1] images, ``labels`` in range."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for spec in input_signature:
        shape = (batch_size,) + tuple(spec.shape[1:])
        if spec.name == "labels":
            inputs[spec.name] = rng.integers(0, num_classes, size=shape).astype("int32")
        elif spec.name == "latent":
            inputs[spec.name] = rng.normal(size=shape).astype("float32")
        else:
            inputs[spec.name] = rng.uniform(-1.0, 1.0, size=shape).astype("float32")
    return inputs


# ------------------------------------------------------------------ runtimes
def _tflite_interpreter(path):
    try:
        from ai_edge_litert.interpreter import Interpreter

        runtime = "ai-edge-litert"
    except ImportError:  # TensorFlow's own interpreter (deprecated, still shipped)
        Interpreter = tf.lite.Interpreter
        runtime = "tf.lite.Interpreter"
    return Interpreter(model_path=path), runtime


def _run_tflite(directory):
    interpreter, runtime = _tflite_interpreter(os.path.join(directory, TFLITE_FILENAME))

    def run(name, inputs):
        return interpreter.get_signature_runner(name)(**inputs)

    return run, runtime


def _run_onnx(directory):
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(
            'Checking an ONNX export needs onnxruntime: pip install "tfgen[deploy]" (or pip install onnxruntime).'
        ) from error
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    sessions = {}

    def run(name, inputs):
        if name not in sessions:
            sessions[name] = onnxruntime.InferenceSession(
                os.path.join(directory, f"{name}.onnx"), options, providers=["CPUExecutionProvider"]
            )
        session = sessions[name]
        values = session.run(None, inputs)
        return {output.name: value for output, value in zip(session.get_outputs(), values)}

    return run, f"onnxruntime {onnxruntime.__version__}"


def _check_parity(run, endpoints, num_classes, limit):
    """Largest absolute difference per signature between ``run`` and the endpoints (batch 1 and 7)."""
    differences = {}
    for endpoint in endpoints:
        worst = 0.0
        for batch_size in PARITY_BATCH_SIZES:
            inputs = parity_inputs(endpoint.input_signature, batch_size, num_classes)
            # Eagerly: tracing each endpoint again would only add time (and retracing warnings).
            outputs = endpoint.function(*[tf.constant(inputs[spec.name]) for spec in endpoint.input_signature])
            expected = {key: value.numpy() for key, value in outputs.items()}
            try:
                actual = run(endpoint.name, inputs)
            except Exception as error:  # the runtime's own error types vary
                raise RuntimeError(
                    f"The converted signature {endpoint.name!r} does not run in its runtime "
                    f"(batch {batch_size}): {type(error).__name__}: {error}"
                ) from error
            if sorted(actual) != sorted(expected):
                raise RuntimeError(
                    f"The converted signature {endpoint.name!r} returns {sorted(actual)}, expected {sorted(expected)}."
                )
            for key, value in expected.items():
                got = np.asarray(actual[key])
                finite = np.isfinite(value)
                if got.shape != value.shape or not np.array_equal(np.isfinite(got), finite):
                    raise RuntimeError(
                        f"The converted signature {endpoint.name!r} returned {key} of shape {got.shape} with "
                        f"{int(np.sum(~np.isfinite(got)))} non-finite values; the model gives shape {value.shape} "
                        f"with {int(np.sum(~finite))}."
                    )
                if finite.any():
                    worst = max(worst, float(np.max(np.abs(got[finite] - value[finite]))))
        if limit is not None and worst > limit:
            raise RuntimeError(
                f"The converted signature {endpoint.name!r} differs from the model by {worst:.3g}, "
                f"more than the {limit:g} a float conversion allows."
            )
        differences[endpoint.name] = worst
    return differences


# ----------------------------------------------------------------- converting
def _convert_tflite(endpoints, staging, quantize):
    # Convert from a SavedModel of the portable endpoints: the converter then
    # freezes the weights as constants (converting tf.functions directly can
    # leave them as resource variables that LiteRT never initialises).
    saved = os.path.join(staging, "saved_model")
    archive = keras.export.ExportArchive()
    for endpoint in endpoints:
        archive.add_endpoint(endpoint.name, endpoint.function, input_signature=endpoint.input_signature)
    archive.write_out(saved, verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=[e.name for e in endpoints])
    if quantize == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic range: int8 weights
    flatbuffer = converter.convert()
    shutil.rmtree(saved)
    path = os.path.join(staging, TFLITE_FILENAME)
    with open(path, "wb") as handle:
        handle.write(flatbuffer)
    return [TFLITE_FILENAME]


def _convert_onnx(endpoints, staging, quantize):
    try:
        import tf2onnx
    except ImportError as error:
        raise ImportError(
            'ONNX export needs tf2onnx: pip install "tfgen[deploy]" (or pip install tf2onnx onnxruntime).'
        ) from error
    files = []
    for endpoint in endpoints:
        function = tf.function(endpoint.function, input_signature=endpoint.input_signature)
        path = os.path.join(staging, f"{endpoint.name}.onnx")
        tf2onnx.convert.from_function(function, input_signature=endpoint.input_signature, opset=ONNX_OPSET,
                                      output_path=path)
        if quantize == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            float_path = path + ".float"
            os.rename(path, float_path)
            # quantize_dynamic logs a hint about shape pre-processing at WARNING on the root logger.
            root = logging.getLogger()
            level = root.level
            root.setLevel(logging.ERROR)
            try:
                quantize_dynamic(float_path, path, weight_type=QuantType.QInt8)
            finally:
                root.setLevel(level)
            os.remove(float_path)
        files.append(os.path.basename(path))
    return files


def onnxruntime_web_tarball(cache=None):
    """The npm tarball of onnxruntime-web :data:`ONNXRUNTIME_WEB_VERSION`, checked against its sha512.

    Looked for at ``$TFGEN_ONNXRUNTIME_WEB`` (a ``.tgz`` you downloaded),
    then in tfgen's cache folder (:func:`tfgen.metrics.cache.cache_dir`), else
    downloaded once from the npm registry into that cache.

    Returns:
        The tarball's path.

    Raises:
        ValueError: a tarball whose sha512 is not the pinned one.
        OSError: no copy and no way to download one (the message says what to do).
    """
    from tfgen.metrics.cache import cache_dir

    name = os.path.basename(ONNXRUNTIME_WEB_TARBALL)
    path = os.environ.get("TFGEN_ONNXRUNTIME_WEB") or os.path.join(cache_dir(cache), name)
    if not os.path.exists(path):
        import urllib.request

        partial = path + ".part"
        try:
            with urllib.request.urlopen(ONNXRUNTIME_WEB_TARBALL, timeout=60) as response, open(partial, "wb") as handle:
                shutil.copyfileobj(response, handle)
        except OSError as error:
            if os.path.exists(partial):
                os.remove(partial)
            raise OSError(
                f"Could not download onnxruntime-web {ONNXRUNTIME_WEB_VERSION} from {ONNXRUNTIME_WEB_TARBALL} "
                f"({error}); download it elsewhere and set TFGEN_ONNXRUNTIME_WEB to the .tgz file."
            ) from error
        _check_sha512(partial)
        os.replace(partial, path)
    _check_sha512(path)
    return path


def _check_sha512(path):
    import base64
    import hashlib

    digest = hashlib.sha512()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    got = base64.b64encode(digest.digest()).decode()
    if got != ONNXRUNTIME_WEB_SHA512:
        raise ValueError(
            f"{path!r} is not onnxruntime-web {ONNXRUNTIME_WEB_VERSION}'s npm tarball: expected sha512 "
            f"{ONNXRUNTIME_WEB_SHA512}, got {got}."
        )


def _convert_web(endpoints, staging, quantize):
    import tarfile

    files = _convert_onnx(endpoints, staging, quantize)
    for name in WEB_FILES:
        shutil.copyfile(os.path.join(WEB_SOURCE_DIR, name), os.path.join(staging, name))
    runtime_dir = os.path.join(staging, "ort")
    os.makedirs(runtime_dir)
    with tarfile.open(onnxruntime_web_tarball()) as archive:
        for name in ONNXRUNTIME_WEB_FILES:
            source = archive.extractfile(f"package/dist/{name}")
            with source, open(os.path.join(runtime_dir, name), "wb") as handle:
                shutil.copyfileobj(source, handle)
    return files + list(WEB_FILES) + [f"ort/{name}" for name in ONNXRUNTIME_WEB_FILES]


_CONVERTERS = {
    "tflite": (_convert_tflite, _run_tflite),
    "onnx": (_convert_onnx, _run_onnx),
    "web": (_convert_web, _run_onnx),  # the page runs the ONNX file in onnxruntime-web
}


def _check_quantize(format, quantize):
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ValueError(f"Expected quantize to be one of {list(QUANTIZATIONS)} or None, got {quantize!r}.")
    if quantize is not None and format == "saved_model":
        raise ValueError(
            f"quantize={quantize!r} applies to the tflite, onnx and web formats; the saved_model format is float only."
        )


def _signature_table(endpoints, run, num_classes):
    """Inputs and outputs of each converted signature, as the runtime reports them (from one batch)."""
    table = {}
    for endpoint in endpoints:
        outputs = run(endpoint.name, parity_inputs(endpoint.input_signature, 1, num_classes))
        table[endpoint.name] = {
            "inputs": {spec.name: {"dtype": spec.dtype.name, "shape": [None, *spec.shape[1:]]}
                       for spec in endpoint.input_signature},
            "outputs": {key: {"dtype": str(np.asarray(value).dtype), "shape": [None, *np.shape(value)[1:]]}
                        for key, value in sorted(outputs.items())},
        }
    return table


def _export_converted(model, format, path, quantize, overwrite, metadata):
    check_exportable(model)
    folder = format if quantize is None else f"{format}_{quantize}"
    target = os.fspath(path) if path is not None else os.path.join(DEFAULT_BASE_DIR, model.name, folder)
    if os.path.exists(target) and not os.path.isdir(target):
        raise ValueError(f"Expected the export path {target!r} to be a directory, found a file.")
    if os.path.exists(target) and not overwrite:
        raise ValueError(f"The export {target!r} already exists; pass overwrite=True to replace it.")
    source, mixed_policies = float32_copy(model)
    endpoints, omitted = portable_endpoints(source)
    if format == "web":
        if model.output_key != "images" or model.data_shape[-1] not in PNG_CHANNELS:
            raise ValueError(
                f"The web format draws images with {', '.join(map(str, PNG_CHANNELS[:-1]))} or {PNG_CHANNELS[-1]} channels; "
                f"this model generates {model.output_key} of shape {list(model.data_shape)}. Use format='onnx'."
            )
        for endpoint in endpoints:
            if endpoint.name not in WEB_SIGNATURES:
                omitted[endpoint.name] = "the web page calls generate only; format='onnx' holds the others"
        endpoints = [endpoint for endpoint in endpoints if endpoint.name in WEB_SIGNATURES]
    convert, runtime_for = _CONVERTERS[format]
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    # Write beside the target and rename: an existing export is replaced only
    # once the new one has been converted and checked.
    with staging_directory(parent, f".tmp-{os.path.basename(target)}-") as staging:
        files = convert(endpoints, staging, quantize)
        run, runtime = runtime_for(staging)
        limit = MAX_FLOAT_DIFFERENCE if quantize is None else None
        differences = _check_parity(run, endpoints, model.num_classes, limit)
        card = {"dataset": None}
        card.update(model.model_card())
        card.update(
            {
                "name": model.name,
                "format": format,
                "quantize": quantize,
                "files": files,
                "signatures": _signature_table(endpoints, run, model.num_classes),
                "omitted_signatures": omitted,
                "max_abs_difference": differences,
                "checked_with": runtime,
                "checked_batch_sizes": list(PARITY_BATCH_SIZES),
                **library_versions(),
            }
        )
        if mixed_policies:
            card["computed_in"] = (
                f"float32: the model computes in {', '.join(sorted(mixed_policies))}, which LiteRT and ONNX "
                "runtimes cannot run; its float32 weights are exported as they are"
            )
        if format == "web":
            card["onnxruntime_web_version"] = ONNXRUNTIME_WEB_VERSION
            card["serve"] = f"python -m http.server --directory {target} (then open http://localhost:8000)"
        if model.num_classes is not None:
            card["labels"] = (
                f"labels outside [0, {model.num_classes}) give NaN in every output of their row "
                "(converted formats drop TensorFlow's assertions)"
            )
        card.update(metadata or {})
        publish(staging, target, card)
    return target


def export_tflite(model, path=None, quantize=None, overwrite=False, metadata=None):
    """Exports ``model`` as one multi-signature LiteRT (TFLite) file, checked by LiteRT.

    Args:
        model: a tfgen model.
        path: the folder to write (``model.tflite`` and ``model_card.json``);
            default ``saved_models/<name>/tflite`` (``tflite_int8`` when quantised).
        quantize: ``None`` (float32) or ``"int8"`` (dynamic range: int8 weights).
        overwrite: replace an existing folder; without it an existing folder
            raises ``ValueError`` and is left as it was.
        metadata: optional dict merged into the model card.

    Returns:
        The folder written (str).

    Raises:
        ValueError: not a tfgen model, unknown ``quantize``, existing folder.
        RuntimeError: the converted model does not run in LiteRT, or (float)
            differs from the model by more than :data:`MAX_FLOAT_DIFFERENCE`.
    """
    _check_quantize("tflite", quantize)
    return _export_converted(model, "tflite", path, quantize, overwrite, metadata)


def export_onnx(model, path=None, quantize=None, overwrite=False, metadata=None):
    """Exports ``model`` as ONNX files (one per signature), checked by onnxruntime.

    Arguments, returns and errors as :func:`export_tflite`; the folder holds
    ``<signature>.onnx`` (opset :data:`ONNX_OPSET`) and ``model_card.json``,
    default ``saved_models/<name>/onnx`` (``onnx_int8`` when quantised).
    ImportError without tf2onnx or onnxruntime (``pip install "tfgen[deploy]"``).
    """
    _check_quantize("onnx", quantize)
    return _export_converted(model, "onnx", path, quantize, overwrite, metadata)


def export_web(model, path=None, quantize=None, overwrite=False, metadata=None):
    """Exports an image model as a self-contained web page that generates in the browser.

    The folder (default ``saved_models/<name>/web``) holds ``index.html``,
    ``tfgen_generator.mjs``, ``generate.onnx`` (checked by onnxruntime like
    :func:`export_onnx`'s), ``ort/`` (onnxruntime-web
    :data:`ONNXRUNTIME_WEB_VERSION`'s WebAssembly runtime, from the npm
    registry's tarball: :func:`onnxruntime_web_tarball`) and
    ``model_card.json``. Any static file server shows it (``python -m
    http.server --directory FOLDER``); nothing else is fetched. The page
    draws its own N(0, I) latent vectors: its seeds do not reproduce
    ``model.generate(seed=...)``. Arguments and errors as :func:`export_tflite`;
    ``ValueError`` for models that do not generate images with 1, 3 or 4
    channels; ``OSError`` when onnxruntime-web can be neither found nor downloaded.
    """
    _check_quantize("web", quantize)
    return _export_converted(model, "web", path, quantize, overwrite, metadata)


def export_model(model, format="saved_model", path=None, quantize=None, overwrite=False, metadata=None, version=None):
    """Exports ``model`` in ``format`` (one of :data:`FORMATS`); what ``tfgen export --format`` runs.

    ``saved_model`` goes to :func:`tfgen.export.export_saved_model` (``path``
    is then the base folder of the versions and ``version`` applies);
    ``tflite``, ``onnx`` and ``web`` to :func:`export_tflite`, :func:`export_onnx`
    and :func:`export_web`.

    Returns:
        The folder written (str).
    """
    if format not in FORMATS:
        raise ValueError(f"Expected format to be one of {list(FORMATS)}, got {format!r}.")
    _check_quantize(format, quantize)
    if format == "saved_model":
        return export_saved_model(model, path, version=version, overwrite=overwrite, metadata=metadata)
    if version is not None:
        raise ValueError(f"version applies to the saved_model format only, got version={version!r} for {format!r}.")
    return _export_converted(model, format, path, quantize, overwrite, metadata)
