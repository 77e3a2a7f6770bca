"""``tfgen serve``: TensorFlow Serving's REST API for exported models.

TensorFlow Serving is what production deployments run; this module gives the
same REST API on any machine where TensorFlow is installed, for development,
demos and small deployments. It serves the ``<base>/<version>/`` layout that
``tfgen.export_saved_model`` writes:

- ``GET  /v1/models/NAME[/versions/V]``: version status.
- ``GET  /v1/models/NAME[/versions/V]/metadata``: signatures.
- ``POST /v1/models/NAME[/versions/V]:predict``: run a signature, with the
  request body ``{"signature_name": ..., "instances": [...]}`` (row format)
  or ``{"signature_name": ..., "inputs": ...}`` (columnar format); see
  ``tfgen.serving.json_format``.

Like TensorFlow Serving it serves the highest version under the base path and
switches to a newly written version without a restart: a background thread
lists the base directory every ``poll_interval`` seconds, loads a new version
completely (and runs each signature once on a batch of one) before switching
to it, and ignores the exporter's ``.tmp-*`` staging directories. Errors are
answered with ``{"error": "..."}`` and a 4xx status for bad requests.

The HTTP layer is the standard library's ``http.server`` (its request
parsing and ``BaseHTTPRequestHandler``), with the connections handled by
:mod:`tfgen.serving.connections`: a connection holds a thread only while it
has a request to answer, and waits between requests in one selector thread,
so idle keep-alive clients cost no threads. No new dependency; TensorFlow
releases the GIL while it computes, so concurrent requests run in parallel.

Example:
```python
server = make_server("saved_models/vae", port=0)          # port 0: any free port
threading.Thread(target=server.serve_forever, daemon=True).start()
print(server.url)                                          # http://127.0.0.1:PORT
...
server.shutdown(); server.server_close()
```
"""

import errno
import gc
import http
import http.server
import json
import logging
import os
import re
import signal
import socket
import socketserver
import threading
import time
import urllib.parse

import numpy as np
import tensorflow as tf
from google.protobuf import json_format as protobuf_json
from tensorflow.core.protobuf import saved_model_pb2

from tfgen import validation
from tfgen.export.saved_model import existing_versions
from tfgen.serving import connections, json_arrays, json_format
from tfgen.version import __version__

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8501
DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_BATCH_SIZE = 256
DEFAULT_POLL_INTERVAL = 1.0
# Request bodies decoded at once (each holds about 4-5x its body while it
# decodes; see serving.json_arrays); a request that waits DECODE_WAIT_SECONDS
# for a turn is answered 503 with Retry-After.
MAX_CONCURRENT_DECODES = 4
DECODE_WAIT_SECONDS = 30.0
# TensorFlow Serving's gRPC port.
DEFAULT_GRPC_PORT = 8500
# A version whose load failed is tried again after a delay that doubles from
# the poll interval up to this many seconds, and at once when its files change
# (a version copied in slowly loads as soon as it is complete).
MAX_RETRY_INTERVAL = 60.0
DEFAULT_SIGNATURE = "serving_default"
# Seconds server_close() waits for requests in flight before returning.
SHUTDOWN_GRACE_SECONDS = 10.0

logger = logging.getLogger("tfgen.serving")

# TensorFlow Serving's paths, matched as it does: case-insensitively, on the
# URL-decoded path, whole (a trailing slash or a query string does not match).
_PATH_PATTERN = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/(?P<selector>versions|labels)/(?P<version>[^/:]+))?"
    r"(?P<action>/metadata|:[A-Za-z_]+)?$",
    re.IGNORECASE,
)
_MODEL_NAME_PATTERN = re.compile(r"^[^/:?#\s]+$")
# How TensorFlow Serving begins the message of a body that is not JSON.
_JSON_ERROR = "JSON Parse error:"


class RequestError(Exception):
    """A request the server refuses: an HTTP status (4xx) and a message for ``{"error": ...}``."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = int(status)
        self.message = message
        self.headers = headers or {}


# --------------------------------------------------------------------- versions
def _freeze_long_lived_objects():
    """Takes the objects alive now (TensorFlow's, the model's) out of the cyclic GC's scans.

    A process with TensorFlow and a loaded model tracks about half a million
    objects. A JSON answer creates tens of thousands of small lists, which
    triggers full collections that scan all of them: without this, answering
    64 images of 28x28 took three times as long. Unfreezing first lets a
    collection free the version just replaced.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _tensor_info(name, proto):
    dtype = tf.dtypes.as_dtype(proto.dtype)
    numpy_dtype = np.dtype(object) if dtype == tf.string else np.dtype(dtype.as_numpy_dtype)
    if proto.tensor_shape.unknown_rank:
        shape = None
    else:
        shape = tuple(None if dim.size < 0 else int(dim.size) for dim in proto.tensor_shape.dim)
    return json_format.TensorInfo(name, numpy_dtype, shape)


class _Signature:
    """A callable signature with its input and output TensorInfos."""

    def __init__(self, name, function, proto):
        self.name = name
        self.function = function
        self.inputs = {key: _tensor_info(key, value) for key, value in sorted(proto.inputs.items())}
        self.outputs = {key: _tensor_info(key, value) for key, value in sorted(proto.outputs.items())}
        self._tf_dtypes = {key: tf.dtypes.as_dtype(value.dtype) for key, value in proto.inputs.items()}

    def __call__(self, arrays):
        """Runs the signature on ``{input_name: np.ndarray}``; returns ``{output_name: np.ndarray}``."""
        feeds = {key: tf.constant(value, dtype=self._tf_dtypes[key]) for key, value in arrays.items()}
        return {key: value.numpy() for key, value in self.function(**feeds).items()}

    def warm_up(self):
        """Runs once on a batch of one zero example when every input shape is known."""
        arrays = {}
        for key, info in self.inputs.items():
            if info.shape is None or not info.shape or any(d is None for d in info.shape[1:]):
                return
            if info.dtype == np.dtype(object):
                return
            arrays[key] = np.zeros((1,) + tuple(info.shape[1:]), dtype=info.dtype)
        self(arrays)


class LoadedVersion:
    """One SavedModel version loaded in memory, with its signatures and metadata.

    Args:
        version: the version number (int).
        path: the version directory.

    Raises:
        Exception: whatever ``tf.saved_model.load`` or the warm-up call of a
            signature raises for a broken export.
    """

    def __init__(self, version, path):
        self.version = int(version)
        self.path = path
        self.model = tf.saved_model.load(path)
        saved_model = saved_model_pb2.SavedModel()
        with open(os.path.join(path, "saved_model.pb"), "rb") as handle:
            saved_model.ParseFromString(handle.read())
        signature_defs = saved_model.meta_graphs[0].signature_def
        # The JSON of TensorFlow Serving's SignatureDefMap proto, field names
        # and default values included, as its metadata endpoint answers.
        self.metadata = {
            "signature_def": {
                name: protobuf_json.MessageToDict(
                    signature_defs[name], preserving_proto_field_name=True, always_print_fields_with_no_presence=True
                )
                for name in sorted(signature_defs)
            }
        }
        self.signatures = {
            name: _Signature(name, self.model.signatures[name], signature_defs[name])
            for name in sorted(self.model.signatures.keys())
            if name in signature_defs
        }
        for signature in self.signatures.values():
            signature.warm_up()


class VersionWatcher:
    """Serves the highest loadable version under ``base_path`` and follows new ones.

    ``poll()`` lists ``base_path``; when the highest ready version (a numbered
    directory holding ``saved_model.pb``) differs from the served one, it is
    loaded completely and only then swapped in. A version that fails to load
    is reported in ``status()`` and tried again with back-off (the delay
    doubles from ``poll_interval`` up to ``MAX_RETRY_INTERVAL``), and at the
    next poll once its files change, so a version copied in slowly is served
    as soon as it is complete; meanwhile the current one keeps serving (before
    anything is served, the next lower version is tried). A served version
    whose directory is removed is reported (``END``, ``NOT_FOUND``, and a log
    line) and replaced by the highest remaining one. ``start()`` runs
    ``poll()`` every ``poll_interval`` seconds in a daemon thread.

    Args:
        base_path: directory of numbered version directories.
        poll_interval: seconds between polls of the background thread.
        loader: ``loader(version, path)`` returning a loaded version
            (default ``LoadedVersion``).
    """

    def __init__(self, base_path, poll_interval=DEFAULT_POLL_INTERVAL, loader=LoadedVersion):
        self.base_path = base_path
        self.poll_interval = float(poll_interval)
        self._loader = loader
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._current = None
        self._states = {}  # version -> (state, error_code, error_message)
        self._attempts = {}
        self._retry = {}  # failed version -> (monotonic time of the next try, files fingerprint then)
        self._stop = threading.Event()
        self._thread = None

    @property
    def current(self):
        """The ``LoadedVersion`` being served, or ``None`` before the first successful load."""
        with self._lock:
            return self._current

    def ready_versions(self):
        """Sorted versions under ``base_path`` whose ``saved_model.pb`` is written."""
        return [
            version
            for version in existing_versions(self.base_path)
            if os.path.isfile(os.path.join(self.base_path, str(version), "saved_model.pb"))
        ]

    def status(self):
        """``[(version, state, error_code, error_message)]``, newest first (TensorFlow Serving's states)."""
        with self._lock:
            return [(version,) + self._states[version] for version in sorted(self._states, reverse=True)]

    def last_error(self):
        """The error message of the most recent failed load, or ``None``."""
        failed = [(v, s) for v, s in self._states.items() if s[1] != "OK"]
        return failed[-1][1][2] if failed else None

    def poll(self):
        """Loads and switches to the highest loadable version if it is not served yet.

        Versions above the served one are tried from the highest down; a
        failed load leaves the served version in place (or, before anything
        is served, falls back to the next lower version).

        Returns:
            True when the served version changed.
        """
        with self._poll_lock:
            self._drop_removed_version()
            current = self.current
            now = time.monotonic()
            candidates = [v for v in self.ready_versions() if self._may_try(v, now)]
            for version in reversed(candidates):
                if current is not None and version == current.version:
                    return False
                loaded = self._load(version)
                if loaded is not None:
                    self._retry.pop(version, None)
                    with self._lock:
                        previous, self._current = self._current, loaded
                        self._states[version] = ("AVAILABLE", "OK", "")
                        if previous is not None:
                            self._states[previous.version] = ("END", "OK", "")
                    logger.info(
                        "serving version %d from %s%s", version, loaded.path,
                        f" (was version {previous.version})" if previous is not None else "",
                    )
                    del previous
                    _freeze_long_lived_objects()
                    return True
            return False

    def _fingerprint(self, version):
        """``(relative path, size, mtime)`` of every file of a version: changes while files arrive."""
        root = os.path.join(self.base_path, str(version))
        files = []
        for directory, _, names in os.walk(root):
            for name in names:
                path = os.path.join(directory, name)
                try:
                    stat = os.stat(path)
                except OSError:  # removed while we looked
                    continue
                files.append((os.path.relpath(path, root), stat.st_size, stat.st_mtime_ns))
        return tuple(sorted(files))

    def _may_try(self, version, now):
        """Whether a version may be (re)loaded now: never failed, back-off elapsed, or its files changed."""
        if version not in self._retry:
            return True
        retry_at, fingerprint = self._retry[version]
        return now >= retry_at or self._fingerprint(version) != fingerprint

    def _drop_removed_version(self):
        """Stops serving the current version if its directory is gone, and says so."""
        current = self.current
        if current is None or os.path.isdir(current.path):
            return
        message = f"Version {current.version} was removed from {current.path!r}; it is no longer served."
        logger.warning(message)
        with self._lock:
            self._current = None
            self._states[current.version] = ("END", "NOT_FOUND", message)

    def _load(self, version):
        """The loaded ``version``, or ``None`` (state and error recorded) when loading fails."""
        path = os.path.join(self.base_path, str(version))
        with self._lock:
            self._states[version] = ("LOADING", "OK", "")
        try:
            return self._loader(version, path)
        except Exception as error:  # a broken export must not stop the server
            attempts = self._attempts[version] = self._attempts.get(version, 0) + 1
            delay = min(MAX_RETRY_INTERVAL, self.poll_interval * 2 ** (attempts - 1))
            self._retry[version] = (time.monotonic() + delay, self._fingerprint(version))
            message = f"Loading version {version} from {path!r} failed: {type(error).__name__}: {error}"
            with self._lock:
                self._states[version] = ("END", "UNKNOWN", message)
            logger.error("%s (attempt %d; next in %.1f s, or when its files change)", message, attempts, delay)
            return None

    def start(self):
        """Starts the polling thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tfgen-version-watcher", daemon=True)
            self._thread.start()

    def stop(self):
        """Stops the polling thread and waits for it."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=60)

    def _run(self):
        while not self._stop.wait(self.poll_interval):
            try:
                self.poll()
            except Exception:  # keep watching whatever happens (e.g. the directory vanished)
                logger.exception("polling %s failed", self.base_path)


# ---------------------------------------------------------------------- service
class ModelService:
    """The REST API without the HTTP transport: routes ``(method, path, body)`` to answers.

    Args:
        model_base_path: directory of numbered SavedModel versions.
        model_name: the ``NAME`` in ``/v1/models/NAME``; default the base
            directory's name.
        max_batch_size: most samples accepted in one predict request.
        poll_interval: seconds between looks for a new version.

    Raises:
        FileNotFoundError: ``model_base_path`` does not exist.
        NotADirectoryError: ``model_base_path`` is a file.
        ValueError: no loadable version, a version directory given instead
            of its parent, or a bad argument.
    """

    def __init__(self, model_base_path, model_name=None, max_batch_size=DEFAULT_MAX_BATCH_SIZE, poll_interval=DEFAULT_POLL_INTERVAL):
        base = os.path.abspath(os.fspath(model_base_path))
        if not os.path.exists(base):
            raise FileNotFoundError(f"No model base path {os.fspath(model_base_path)!r}.")
        if not os.path.isdir(base):
            raise NotADirectoryError(f"Expected the model base path {os.fspath(model_base_path)!r} to be a directory, found a file.")
        if os.path.exists(os.path.join(base, "saved_model.pb")):
            raise ValueError(
                f"{os.fspath(model_base_path)!r} is a SavedModel version directory; pass its parent "
                f"{os.path.dirname(base)!r}, which holds the numbered versions."
            )
        name = model_name if model_name is not None else os.path.basename(base)
        if not isinstance(name, str) or not _MODEL_NAME_PATTERN.match(name):
            raise ValueError(f"Expected a model name without '/', ':', '?', '#' or spaces, got {name!r}.")
        max_batch_size = validation.check_positive_int("max_batch_size", max_batch_size)
        poll_interval = validation.check_number("poll_interval", poll_interval, minimum=0, exclusive_minimum=True)
        self.base_path = base
        self.model_name = name
        self.max_batch_size = max_batch_size
        self.decoding = threading.BoundedSemaphore(MAX_CONCURRENT_DECODES)
        self.watcher = VersionWatcher(base, poll_interval)
        self.watcher.poll()
        if self.watcher.current is None:
            reason = self.watcher.last_error() or (
                f"no numbered version directory with a saved_model.pb under {base!r} "
                "(export one with tfgen.export_saved_model or `tfgen export`)"
            )
            raise ValueError(f"Cannot serve {name!r}: {reason}.")
        self.watcher.start()

    def close(self):
        """Stops watching for new versions."""
        self.watcher.stop()

    # ------------------------------------------------------------- routing
    def handle(self, method, path, body=b""):
        """Answers one request.

        Paths and methods TensorFlow Serving does not accept are a 400
        ``Malformed request: METHOD PATH``, as it answers them.

        Args:
            method: ``"GET"`` or ``"POST"``.
            path: the request path as sent (URL-encoded).
            body: the request body (bytes).

        Returns:
            ``(status, payload)``: an HTTP status and a JSON-ready dict.

        Raises:
            RequestError: a bad request, with its 4xx status.
        """
        malformed = RequestError(
            400,
            f"Malformed request: {method} {path}. Expected GET /v1/models/{self.model_name}[/versions/N][/metadata] "
            f"or POST /v1/models/{self.model_name}[/versions/N]:predict.",
        )
        decoded = urllib.parse.unquote(path)
        if method == "GET" and decoded.lower() == "/v1/models":
            raise RequestError(400, f"Missing model name in request: GET {path}. Expected GET /v1/models/{self.model_name}.")
        route = _PATH_PATTERN.match(decoded)
        if route is None:
            raise malformed
        name, selector, version, action = route.group("name", "selector", "version", "action")
        action = (action or "").lower()
        if (method, action) not in (("GET", ""), ("GET", "/metadata"), ("POST", ":predict"), ("POST", ":classify"),
                                    ("POST", ":regress")):
            raise malformed
        # The path's form is checked before its model name, as TensorFlow Serving does.
        if version is not None and selector.lower() == "versions":  # the pattern sets both or neither
            version = _path_version(method, path, version)
        if name != self.model_name:
            raise RequestError(404, f"Servable not found for request: Latest({name}). This server serves the model {self.model_name!r}.")
        if selector is not None and selector.lower() == "labels":
            # This server has no version labels: status and metadata ignore one, as
            # TensorFlow Serving's do; a predict request naming one cannot be served.
            if action == ":predict":
                raise RequestError(400, f"Unrecognized servable version label: {version}")
            version = None
        if action in ("", "/metadata"):
            return 200, self.status(version) if action == "" else self.metadata(version)
        if action == ":predict":
            return 200, self.predict(body, version)
        raise RequestError(400, f"{action[1:]} is not supported: tfgen exports have predict signatures only; use :predict.")

    # ------------------------------------------------------------- endpoints
    def status(self, version=None):
        """``{"model_version_status": [...]}`` for every known version, or only ``version``."""
        rows = self.watcher.status()
        if version is not None:
            rows = [row for row in rows if row[0] == version]
            if not rows:
                known = [row[0] for row in self.watcher.status()]
                raise RequestError(404, f"Could not find version {version} of model {self.model_name!r}; known versions: {known}.")
        return {
            "model_version_status": [
                {"version": str(v), "state": state, "status": {"error_code": code, "error_message": message}}
                for v, state, code, message in rows
            ]
        }

    def servable(self, version=None):
        """The served ``LoadedVersion`` (``version``: must be the served one), or ``RequestError`` 404."""
        current = self.watcher.current
        if current is None:  # every version failed to load or was removed
            raise RequestError(
                404,
                f"Servable not found for request: Latest({self.model_name}). No version under the base path "
                f"loads; see /v1/models/{self.model_name} for each version's state.",
            )
        if version is not None and version != current.version:
            raise RequestError(
                404,
                f"Servable not found for request: Specific({self.model_name}, {version}). "
                f"Version {current.version} is served (the highest version under the base path).",
            )
        return current

    def metadata(self, version=None):
        """TensorFlow Serving's GetModelMetadata answer: every signature's inputs and outputs."""
        servable = self.servable(version)
        return {
            "model_spec": {"name": self.model_name, "signature_name": "", "version": str(servable.version)},
            "metadata": {"signature_def": servable.metadata},
        }

    def signature(self, servable, signature_name):
        """The servable's signature ``signature_name`` (empty: ``serving_default``), or ``RequestError`` 400."""
        signature_name = signature_name or DEFAULT_SIGNATURE
        signature = servable.signatures.get(signature_name)
        if signature is None:
            raise RequestError(
                400,
                f"Unknown signature_name {signature_name!r} for model {self.model_name!r} version "
                f"{servable.version}. Valid signatures: {sorted(servable.signatures)}.",
            )
        return signature

    def run(self, signature, arrays):
        """Runs a signature on checked input arrays; an input TensorFlow rejects is a ``RequestError`` 400."""
        try:
            return signature(arrays)
        except tf.errors.InvalidArgumentError as error:
            raise RequestError(400, f"Signature {signature.name!r} rejected the input: {error.message}") from None

    def predict(self, body, version=None):
        """Runs a signature on a row- or columnar-format request body; returns the JSON answer."""
        servable = self.servable(version)
        if not self.decoding.acquire(timeout=DECODE_WAIT_SECONDS):
            raise RequestError(
                503, f"The server is decoding {MAX_CONCURRENT_DECODES} other requests; try again.", {"Retry-After": "1"}
            )
        try:
            signature, request_format, arrays = _decode_predict(self, servable, body)
        finally:
            self.decoding.release()
        outputs = self.run(signature, arrays)
        try:
            return json_format.encode_predict_outputs(outputs, request_format, list(signature.outputs))
        except ValueError as error:  # row format asked of outputs with different batch sizes
            raise RequestError(400, str(error)) from None


def _decode_predict(service, servable, body):
    """``(signature, request_format, input arrays)`` of a predict body (one decoding slot held)."""
    request = _parse_json(body)
    signature_name = request.get("signature_name", DEFAULT_SIGNATURE)
    if not isinstance(signature_name, str):
        raise RequestError(400, f"Expected 'signature_name' to be a string, got {signature_name!r}.")
    signature = service.signature(servable, signature_name)
    try:
        request_format, arrays = json_format.decode_predict_inputs(
            request, signature.inputs, signature.name, service.max_batch_size
        )
    except json_format.BatchTooLargeError as error:
        raise RequestError(413, str(error)) from None
    except ValueError as error:
        raise RequestError(400, str(error)) from None
    return signature, request_format, arrays


_INT64_MAX = 2**63 - 1


def _path_version(method, path, version):
    """The version of a ``/versions/N`` path as an int; a 400 as TensorFlow Serving answers otherwise.

    Only ASCII digits match its path pattern (``str.isdigit`` also accepts
    other scripts' digits, which ``int()`` may reject): anything else is a
    malformed request. Digits beyond an int64 fail to convert.
    """
    shown = version if len(version) <= 40 else f"{version[:20]}...({len(version)} characters)"
    expected = f"expected the version in the path to be a positive integer, got {shown!r}"
    if not (version.isascii() and version.isdigit()):
        raise RequestError(400, f"Malformed request: {method} {path}: {expected}.")
    if len(version) > 19 or int(version) > _INT64_MAX:
        raise RequestError(400, f"Failed to convert version: {expected} of at most {_INT64_MAX}.")
    return int(version)


def _parse_json(body):
    """The request body as JSON, large numeric arrays as NumPy arrays (:func:`json_arrays.loads`)."""
    try:
        request = json_arrays.loads(body)
    except json_arrays.TooLargeToDecode as error:
        raise RequestError(413, str(error)) from None
    except UnicodeDecodeError as error:
        raise RequestError(400, f"{_JSON_ERROR} the body is not UTF-8 ({error}).") from None
    except json.JSONDecodeError as error:
        if not body.strip():
            raise RequestError(400, f"{_JSON_ERROR} The document is empty.") from None
        # Python's "Expecting value" is what rapidjson (TensorFlow Serving's parser) calls "Invalid value".
        message = "Invalid value" if error.msg == "Expecting value" else error.msg
        raise RequestError(400, f"{_JSON_ERROR} {message} at line {error.lineno} column {error.colno}.") from None
    except RecursionError:
        raise RequestError(400, f"{_JSON_ERROR} nested too deeply.") from None
    except ValueError as error:  # e.g. an integer beyond Python's digit limit for int(), a ragged array
        message = str(error)
        if message.startswith("Malformed JSON: "):  # json_arrays' own messages
            message = message[len("Malformed JSON: "):]
        raise RequestError(400, message if message.startswith("The array") else f"{_JSON_ERROR} {message}") from None
    if not isinstance(request, dict):
        raise RequestError(400, f"Expected the body to be a JSON object, got {type(request).__name__}.")
    return request


# ------------------------------------------------------------------------ HTTP
class _RequestHandler(http.server.BaseHTTPRequestHandler):
    server_version = f"tfgen-serve/{__version__}"
    protocol_version = "HTTP/1.1"
    # Socket timeout (s): bounds how long a slow client, in the middle of a request, holds a thread.
    timeout = 60
    # Buffered writes: a response's headers and body leave in one send.
    wbufsize = 1 << 16

    def setup(self):
        super().setup()
        # Without TCP_NODELAY, a reused (keep-alive) connection waits for the
        # client's delayed ACK (about 40 ms) before each small response.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not a TCP socket
            pass

    def do_GET(self):
        self._answer("GET")

    def do_POST(self):
        self._answer("POST")

    def _answer(self, method):
        server = self.server
        server.request_started()
        try:
            try:
                body = self._read_body() if method == "POST" or self.headers.get("Content-Length") else b""
                status, payload = server.service.handle(method, self.path, body)
                headers = {}
            except RequestError as error:
                status, payload, headers = error.status, {"error": error.message}, error.headers
            except Exception as error:  # answer, log, and keep serving
                logger.exception("%s %s failed", method, self.path)
                status, payload, headers = 500, {"error": f"Internal error: {type(error).__name__}: {error}"}, {}
            self._send_json(status, payload, headers)
        finally:
            server.request_finished()

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise RequestError(411, "Send the request body with a Content-Length header; chunked bodies are not supported.")
        header = self.headers.get("Content-Length")
        if header is None:
            raise RequestError(411, "A POST request needs a Content-Length header.")
        try:
            length = int(header)
        except ValueError:
            self.close_connection = True
            raise RequestError(400, f"Expected Content-Length to be an integer, got {header!r}.") from None
        if length < 0:
            self.close_connection = True
            raise RequestError(400, f"Expected a non-negative Content-Length, got {length}.")
        limit = self.server.max_request_bytes
        if length > limit:
            self._discard(length, limit)
            raise RequestError(
                413, f"The request body has {length} bytes; this server accepts at most {limit} (--max-request-bytes)."
            )
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            raise RequestError(400, f"The request body ended after {len(body)} of {length} bytes.")
        return body

    def _discard(self, length, limit):
        """Reads and drops an oversized body so the client can read the 413 answer.

        Gives up (and closes the connection) past four times the limit; the
        memory used stays one chunk.
        """
        self.close_connection = True
        remaining = min(length, 4 * limit)
        try:
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            pass

    def _send_json(self, status, payload, headers=None):
        data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client went away; nothing left to tell it
            self.close_connection = True

    def send_error(self, code, message=None, explain=None):
        """JSON errors (instead of HTML) for what ``http.server`` rejects itself: bad request lines, unsupported methods."""
        self.close_connection = True
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        detail = message or explain
        self._send_json(code, {"error": f"{phrase}: {detail}" if detail else phrase})

    def log_message(self, format, *args):
        logger.debug("%s %s", self.address_string(), format % args)


class ModelServer(http.server.HTTPServer):
    """An HTTP server answering the REST API of one ``ModelService``.

    Build it with :func:`make_server`. ``serve_forever()`` accepts
    connections; each waits in :class:`tfgen.serving.connections.Parking`
    until it sends a request, which a worker thread answers. ``shutdown()``
    (from another thread) stops accepting; ``server_close()`` closes the
    socket, waits up to ``SHUTDOWN_GRACE_SECONDS`` for requests in flight,
    closes the idle connections and stops the version watcher.
    """

    allow_reuse_address = True
    request_queue_size = 128
    # Seconds a connection may wait for its next request before it is closed.
    idle_timeout = 60.0
    # Seconds a worker waits for a connection's next request before parking it.
    linger = 0.01

    def __init__(self, service, host, port, max_request_bytes):
        self.service = service
        self.max_request_bytes = int(max_request_bytes)
        self._in_flight = 0
        self._idle = threading.Condition()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _RequestHandler)
        self._workers = connections.Workers("tfgen-serve")
        self._parking = connections.Parking(self._dispatch, self.idle_timeout)

    def process_request(self, request, client_address):
        """A new connection whose request has arrived goes to a worker; one that sent nothing yet is parked."""
        try:
            connection = connections.Connection(self.RequestHandlerClass, request, client_address, self)
        except OSError:  # gone already
            self.shutdown_request(request)
            return
        if connection.wait_readable(0):
            self._dispatch(connection)
        else:
            self._parking.park(connection)

    def _dispatch(self, connection):
        self._workers.submit(lambda: self._serve(connection))

    def _serve(self, connection):
        """Answers the connection's requests while they come within ``linger``; then parks or closes it."""
        while connection.wait_readable(self.linger):
            try:
                keep_open = connection.serve_ready_requests()
            except Exception:  # noqa: BLE001  (one connection's failure; the server keeps serving)
                logger.exception("connection from %s failed", connection.handler.client_address)
                keep_open = False
            if not keep_open:
                connection.close()
                return
        self._parking.park(connection)

    def server_bind(self):
        # HTTPServer.server_bind() resolves the host name (getfqdn), which can
        # stall for seconds without DNS; nothing here needs it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def url(self):
        """``http://HOST:PORT`` of the listening socket (the real port when built with port 0)."""
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def request_started(self):
        with self._idle:
            self._in_flight += 1

    def request_finished(self):
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def server_close(self):
        super().server_close()
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=SHUTDOWN_GRACE_SECONDS)
        if getattr(self, "_parking", None) is not None:  # None when binding failed
            self._parking.close()
        self.service.close()


def make_server(
    model_base_path,
    model_name=None,
    host=DEFAULT_HOST,
    port=DEFAULT_PORT,
    max_request_bytes=DEFAULT_MAX_REQUEST_BYTES,
    max_batch_size=DEFAULT_MAX_BATCH_SIZE,
    poll_interval=DEFAULT_POLL_INTERVAL,
):
    """Loads the highest version under ``model_base_path`` and binds a server to it.

    Args:
        model_base_path: directory of numbered SavedModel versions
            (``saved_models/NAME``).
        model_name: ``NAME`` in the URLs; default the base directory's name.
        host: address to listen on; ``"127.0.0.1"`` (this machine only) by
            default, ``"0.0.0.0"`` for every interface.
        port: TCP port; 0 picks a free one (read it from ``server.url``).
        max_request_bytes: largest request body accepted (413 beyond).
        max_batch_size: most samples in one predict request (413 beyond).
        poll_interval: seconds between looks for a new version.

    Returns:
        A bound ``ModelServer``; call ``serve_forever()`` on it.

    Raises:
        FileNotFoundError, NotADirectoryError, ValueError: bad base path, no
            loadable version or a bad argument.
        OSError: the address cannot be bound (e.g. port in use).

    Example:
    ```python
    server = make_server("saved_models/vae", port=8501)
    server.serve_forever()
    ```
    """
    if not validation.is_int(port) or not 0 <= port <= 65535:
        raise ValueError(f"Expected port to be an int in [0, 65535], got {port!r}.")
    if not isinstance(host, str) or not host:
        raise ValueError(f"Expected host to be a non-empty string, got {host!r}.")
    max_request_bytes = validation.check_positive_int("max_request_bytes", max_request_bytes)
    service = ModelService(model_base_path, model_name, max_batch_size, poll_interval)
    try:
        return ModelServer(service, host, int(port), max_request_bytes)
    except OSError as error:
        service.close()
        reason = error.strerror or str(error)
        raise OSError(error.errno, f"Cannot listen on {host}:{port}: {reason}") from error


def serve(
    model_base_path,
    model_name=None,
    host=DEFAULT_HOST,
    port=DEFAULT_PORT,
    max_request_bytes=DEFAULT_MAX_REQUEST_BYTES,
    max_batch_size=DEFAULT_MAX_BATCH_SIZE,
    poll_interval=DEFAULT_POLL_INTERVAL,
    grpc_port=DEFAULT_GRPC_PORT,
):
    """Serves a model until SIGINT or SIGTERM, then returns (what ``tfgen serve`` runs).

    Arguments are those of :func:`make_server`, plus ``grpc_port``: the port
    of TensorFlow Serving's gRPC API on the same host (8500 by default, 0 for
    a free one, ``None`` for none; :mod:`tfgen.serving.grpc_service`, which
    needs ``pip install "tfgen[grpc]"``). A line with the model's URL (and
    the gRPC address) is printed once the server accepts requests. On
    SIGINT/SIGTERM the server stops accepting connections, finishes the
    requests in flight (up to ``SHUTDOWN_GRACE_SECONDS``), closes its sockets
    and returns normally.

    Example:
    ```python
    serve("saved_models/vae", port=8501)   # blocks; Ctrl-C to stop
    ```
    """
    if grpc_port is not None and (not validation.is_int(grpc_port) or not 0 <= grpc_port <= 65535):
        raise ValueError(f"Expected grpc_port to be None or an int in [0, 65535], got {grpc_port!r}.")
    server = make_server(model_base_path, model_name, host, port, max_request_bytes, max_batch_size, poll_interval)
    grpc_server = grpc_address = None
    if grpc_port is not None:
        try:
            from tfgen.serving import grpc_service
        except ModuleNotFoundError as error:
            server.server_close()
            if not (error.name or "").startswith(("tensorflow_serving", "grpc")):
                raise
            raise ValueError(
                f"The gRPC API needs the tensorflow-serving-api package ({error}): pip install \"tfgen[grpc]\", "
                "or serve REST only with --no-grpc."
            ) from error
        try:
            grpc_server, bound = grpc_service.start_grpc_server(server.service, host, grpc_port, max_request_bytes)
        except OSError:
            server.server_close()
            raise
        grpc_address = f"{host}:{bound}"
    stopping = threading.Event()

    def request_stop(signum, frame):
        if not stopping.is_set():
            stopping.set()
            logger.info("received %s, shutting down", signal.Signals(signum).name)
            # shutdown() waits for serve_forever(), which runs in this thread.
            threading.Thread(target=server.shutdown, name="tfgen-shutdown", daemon=True).start()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, request_stop)
    try:
        service = server.service
        print(
            f"tfgen serve: model {service.model_name!r} version {service.watcher.current.version} "
            f"at {server.url}/v1/models/{service.model_name} ("
            + (f"gRPC at {grpc_address}; " if grpc_address else "")
            + f"from {service.base_path}; Ctrl-C to stop)",
            flush=True,
        )
        server.serve_forever(poll_interval=0.2)
    finally:
        if grpc_server is not None:
            grpc_server.stop(SHUTDOWN_GRACE_SECONDS).wait()
        server.server_close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("tfgen serve: stopped", flush=True)


def is_address_error(error):
    """True when ``error`` (an OSError) means the address cannot be used: in use, not local, or not allowed."""
    return isinstance(error, OSError) and error.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)
