"""A Python client of the TensorFlow Serving REST API, for ``tfgen serve`` or TensorFlow Serving.

Only the standard library (``http.client``) and NumPy are used, so a web
backend or a notebook can call a served model without TensorFlow. Each thread
keeps one connection to the server and reuses it (HTTP keep-alive).

Example:
```python
client = Client("http://127.0.0.1:8501", "vae")
images = client.generate(16, seed=0)            # float32 [16, H, W, C] in [-1, 1]
z_mean, z_log_var = client.encode(images)       # float32 [16, latent_dim] each
pngs = client.generate_png(4, seed=0)           # 4 PNG files (bytes)
```
"""

import http.client
import json
import threading
import urllib.parse

import numpy as np

from tfgen import validation
from tfgen.serving import json_format

_DTYPES = {
    "DT_FLOAT": np.dtype("float32"),
    "DT_DOUBLE": np.dtype("float64"),
    "DT_HALF": np.dtype("float16"),
    "DT_INT8": np.dtype("int8"),
    "DT_INT16": np.dtype("int16"),
    "DT_INT32": np.dtype("int32"),
    "DT_INT64": np.dtype("int64"),
    "DT_UINT8": np.dtype("uint8"),
    "DT_BOOL": np.dtype("bool"),
    "DT_STRING": np.dtype(object),
}


class ServingError(RuntimeError):
    """The server answered with an error.

    Attributes:
        status: the HTTP status (400 for a bad request, 404 for an unknown
            model or version, 413 for too large a request, ...).
        message: the server's ``{"error": ...}`` text.
    """

    def __init__(self, status, message, url):
        super().__init__(f"HTTP {status} from {url}: {message}")
        self.status = status
        self.message = message
        self.url = url


class Client:
    """Calls one model served by ``tfgen serve`` or TensorFlow Serving over REST.

    Args:
        url: the server's root, e.g. ``"http://127.0.0.1:8501"``.
        model_name: the ``NAME`` in ``/v1/models/NAME``.
        version: optional version number to pin; default the served one.
        timeout: seconds to wait for each answer.

    Raises:
        ValueError: a malformed ``url``, ``model_name`` or ``version``.

    Example:
    ```python
    client = Client("http://127.0.0.1:8501", "vae_fashion_mnist")
    client.status()["model_version_status"][0]["state"]      # "AVAILABLE"
    images = client.decode(np.zeros((2, 16), "float32"))      # [2, 28, 28, 1]
    ```
    """

    def __init__(self, url, model_name, version=None, timeout=60.0):
        parsed = urllib.parse.urlparse(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"Expected an http(s) URL like 'http://127.0.0.1:8501', got {url!r}.")
        if not isinstance(model_name, str) or not model_name or any(c in model_name for c in "/:?# "):
            raise ValueError(f"Expected a model name without '/', ':', '?', '#' or spaces, got {model_name!r}.")
        self.version = validation.check_positive_int("version", version, allow_none=True)
        self.url = url.rstrip("/")
        self.model_name = model_name
        self.timeout = timeout
        self._signature_defs = None
        self._address = parsed
        self._local = threading.local()  # one kept-alive connection per thread

    # ---------------------------------------------------------------- HTTP
    def _model_url(self):
        base = f"{self.url}/v1/models/{urllib.parse.quote(self.model_name)}"
        return base if self.version is None else f"{base}/versions/{self.version}"

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._address.scheme == "https" else http.client.HTTPConnection
            connection = kind(self._address.hostname, self._address.port, timeout=self.timeout)
            self._local.connection = connection
        return connection

    def close(self):
        """Closes this thread's connection (the next request opens a new one)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _request(self, url, payload=None):
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        target = urllib.parse.urlsplit(url)
        path = target.path + (f"?{target.query}" if target.query else "")
        headers = {"Content-Type": "application/json"}
        for attempt in (1, 2):
            connection = self._connection()
            try:
                connection.request("GET" if data is None else "POST", path, body=data, headers=headers)
                response = connection.getresponse()
                body = response.read()
                break
            except (http.client.RemoteDisconnected, http.client.CannotSendRequest, ConnectionResetError,
                    BrokenPipeError) as error:
                # The server closed a kept-alive connection (idle timeout): one new connection.
                self.close()
                if attempt == 2:
                    raise ConnectionError(f"Cannot reach the model server at {self.url}: {error}") from None
            except OSError as error:
                self.close()
                raise ConnectionError(f"Cannot reach the model server at {self.url}: {error}") from None
        if response.will_close:
            self.close()
        if response.status >= 400:
            try:
                message = json.loads(body)["error"]
            except (ValueError, KeyError, TypeError):
                message = body.decode("utf-8", "replace") or response.reason
            raise ServingError(response.status, message, url)
        return json.loads(body)

    # -------------------------------------------------------------- model API
    def status(self):
        """The model's version status: ``{"model_version_status": [{"version", "state", "status"}]}``."""
        return self._request(self._model_url())

    def metadata(self):
        """The model's signatures (TensorFlow Serving's GetModelMetadata JSON).

        Returns:
            ``{"model_spec": {...}, "metadata": {"signature_def":
            {"signature_def": {name: {"inputs", "outputs", ...}}}}}``.
        """
        answer = self._request(self._model_url() + "/metadata")
        self._signature_defs = answer["metadata"]["signature_def"]["signature_def"]
        return answer

    def _has_signature(self, name):
        """Whether the served model has signature ``name`` (metadata is fetched again when it is not known)."""
        if self._signature_defs is None or name not in self._signature_defs:
            self.metadata()
        return name in self._signature_defs

    def _signature(self, name):
        if not self._has_signature(name):
            names = sorted(k for k in self._signature_defs if not k.startswith("__"))
            raise ValueError(f"Model {self.model_name!r} has no signature {name!r}. Signatures: {names}.")
        return self._signature_defs[name]

    def predict(self, inputs, signature_name="serving_default"):
        """Runs a signature on whole tensors (columnar format).

        Args:
            inputs: ``{input_name: array-like}``, or one array-like for a
                signature with one input; the first dimension is the batch.
            signature_name: which signature to run.

        Returns:
            ``{output_name: np.ndarray}`` with the dtypes of the signature
            (string outputs as object arrays of ``bytes``).

        Raises:
            ServingError: the server refused the request.
        """
        signature = self._signature(signature_name)
        if isinstance(inputs, dict):
            payload_inputs = {key: json_format.to_json_value(value, key) for key, value in inputs.items()}
        else:
            payload_inputs = json_format.to_json_value(inputs)
        answer = self._request(self._model_url() + ":predict", {"signature_name": signature_name, "inputs": payload_inputs})
        output_names = sorted(signature["outputs"])
        outputs = answer["outputs"] if len(output_names) > 1 else {output_names[0]: answer["outputs"]}
        return {
            name: json_format.from_json_value(value, _DTYPES.get(signature["outputs"][name].get("dtype")))
            for name, value in outputs.items()
        }

    def _latent_feeds(self, signature_name, num_samples, seed, latent, labels):
        signature = self._signature(signature_name)
        if latent is None:
            if num_samples is None:
                raise ValueError("Expected num_samples (a positive int) or latent=[...], got neither.")
            num_samples = validation.check_positive_int("num_samples", num_samples)
            latent_dim = int(signature["inputs"]["latent"]["tensor_shape"]["dim"][1]["size"])
            latent = np.random.default_rng(seed).standard_normal((num_samples, latent_dim)).astype("float32")
        elif num_samples is not None and len(latent) != num_samples:
            raise ValueError(f"Got num_samples={num_samples!r} and {len(latent)} latent vectors; pass one of them.")
        feeds = {"latent": np.asarray(latent, dtype="float32")}
        if "labels" in signature["inputs"]:
            if labels is None:
                raise ValueError(f"The {signature_name!r} signature of {self.model_name!r} needs labels=[...]: one class id per sample.")
            feeds["labels"] = np.asarray(labels)
        elif labels is not None:
            raise ValueError(f"The {signature_name!r} signature of {self.model_name!r} takes no labels, got labels={labels!r}.")
        return feeds

    def generate(self, num_samples=None, seed=0, latent=None, labels=None):
        """Generated examples, exactly as ``model.generate`` makes them.

        Without ``latent``, the export's own ``sample`` signature (or
        ``sample_labels`` when ``labels`` are given) draws the latent
        vectors, so ``generate(n, seed=s)`` returns the images of the Python
        model's ``generate(n, seed=s)``.

        Args:
            num_samples: how many examples (not needed with ``latent`` or ``labels``).
            seed: int seed of the latent vectors, in ``[0, 2**31 - 1]``.
            latent: or the latent vectors themselves, float ``[N, latent_dim]``
                (runs the ``generate`` signature).
            labels: class ids ``[N]`` for a conditional model.

        Returns:
            float32 ``[N, H, W, C]`` in [-1, 1] (``[N, D]`` for vector models).
        """
        if latent is not None:
            feeds = self._latent_feeds("generate", num_samples, seed, latent, labels)
            return self._only_output(self.predict(feeds, "generate"))
        seed = validation.check_export_seed("seed", seed)
        if labels is not None:
            labels = np.asarray(labels, dtype="int32").reshape(-1)
            if num_samples is not None and len(labels) != num_samples:
                raise ValueError(f"Got num_samples={num_samples!r} and {len(labels)} labels; pass one of them.")
            if not self._has_signature("sample_labels"):
                raise ValueError(f"Model {self.model_name!r} takes no labels (it has no 'sample_labels' signature).")
            return self._only_output(self.predict({"labels": labels, "seed": np.int32(seed)}, "sample_labels"))
        num_samples = validation.check_positive_int("num_samples", num_samples)
        if not self._has_signature("sample"):
            raise ValueError(
                f"Model {self.model_name!r} has no 'sample' signature (exported by an older tfgen): pass "
                "latent=[...] to run 'generate', or export the model again."
            )
        feeds = {"num_samples": np.int32(num_samples), "seed": np.int32(seed)}
        return self._only_output(self.predict(feeds, "sample"))

    @staticmethod
    def _only_output(outputs):
        (value,) = outputs.values()  # "images", or "samples" for vector models
        return value

    def generate_png(self, num_samples=None, seed=None, latent=None, labels=None):
        """Generated images as PNG files.

        Args as in :meth:`generate`, except that without ``latent`` the
        latent vectors are drawn here with NumPy's ``default_rng(seed)``
        (``generate_png`` takes latent vectors), so they are not those of
        ``model.generate(num_samples, seed=seed)``.

        Returns:
            A list of ``N`` ``bytes`` objects, each a PNG file.
        """
        feeds = self._latent_feeds("generate_png", num_samples, seed, latent, labels)
        return list(self.predict(feeds, "generate_png")["images_bytes"])

    def encode(self, images):
        """Posterior parameters of ``images`` float ``[N, H, W, C]`` in [-1, 1].

        Returns:
            ``(z_mean, z_log_var)``, float32 ``[N, latent_dim]`` each.
        """
        outputs = self.predict({"images": np.asarray(images, dtype="float32")}, "encode")
        return outputs["z_mean"], outputs["z_log_var"]

    def decode(self, latent):
        """Mean images of latent vectors ``latent`` float ``[N, latent_dim]``: float32 ``[N, H, W, C]`` in [-1, 1]."""
        return self.predict({"latent": np.asarray(latent, dtype="float32")}, "decode")["images"]

    def reconstruct(self, images):
        """``decode(z_mean)`` of ``images`` float ``[N, H, W, C]`` in [-1, 1]; same shape out."""
        return self.predict({"images": np.asarray(images, dtype="float32")}, "reconstruct")["images"]
