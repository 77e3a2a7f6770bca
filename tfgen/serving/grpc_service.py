"""TensorFlow Serving's gRPC API for ``tfgen serve``: the same models and versions as its REST API.

Implements, with the official protos of the ``tensorflow-serving-api``
package (``pip install "tfgen[grpc]"``):

* ``tensorflow.serving.PredictionService``: ``Predict`` and ``GetModelMetadata``
  (``metadata_field: "signature_def"``);
* ``tensorflow.serving.ModelService``: ``GetModelStatus``.

A client written against TensorFlow Serving works unchanged:

```python
import grpc, tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel("127.0.0.1:8500"))
request = predict_pb2.PredictRequest()
request.model_spec.name, request.model_spec.signature_name = "vae", "generate"
request.inputs["latent"].CopyFrom(tf.make_tensor_proto(tf.zeros([2, 16])))
images = tf.make_ndarray(stub.Predict(request).outputs["images"])     # [2, 28, 28, 1]
```

Errors keep the REST API's messages, with the gRPC status codes TensorFlow
Serving uses (``INVALID_ARGUMENT``, ``NOT_FOUND``, ``RESOURCE_EXHAUSTED``).
"""

import concurrent.futures
import errno

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format as protobuf_json
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from tfgen.serving import json_format
from tfgen.serving.server import DEFAULT_GRPC_PORT, RequestError

SIGNATURE_DEF_FIELD = "signature_def"
# REST status -> gRPC status code, as TensorFlow Serving maps its errors.
STATUS_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


class _Servicer(prediction_service_pb2_grpc.PredictionServiceServicer, model_service_pb2_grpc.ModelServiceServicer):
    """Answers gRPC calls from a ``tfgen.serving.server.ModelService``."""

    def __init__(self, service):
        self.service = service

    def _call(self, context, answer):
        """Runs ``answer()``; a ``RequestError`` aborts the call with its message and gRPC code."""
        try:
            return answer()
        except RequestError as error:
            context.abort(STATUS_CODES.get(error.status, grpc.StatusCode.INTERNAL), error.message)

    def _servable(self, model_spec):
        if model_spec.name != self.service.model_name:
            raise RequestError(
                404, f"Servable not found for request: Latest({model_spec.name}). This server serves the model "
                f"{self.service.model_name!r}."
            )
        version = model_spec.version.value if model_spec.HasField("version") else None
        if model_spec.HasField("version_label"):
            raise RequestError(404, f"Version labels are not supported (got label {model_spec.version_label!r}).")
        return self.service.servable(version)

    def Predict(self, request, context):
        def answer():
            servable = self._servable(request.model_spec)
            signature = self.service.signature(servable, request.model_spec.signature_name)
            given, expected = set(request.inputs), set(signature.inputs)
            if given != expected:
                raise RequestError(
                    400, f"Signature {signature.name!r} takes the inputs {sorted(expected)}, got {sorted(given)}."
                )
            arrays = {}
            for name, spec in signature.inputs.items():
                proto = request.inputs[name]
                given_dtype = tf.dtypes.as_dtype(proto.dtype)
                expected_dtype = tf.string if spec.dtype == np.dtype(object) else tf.dtypes.as_dtype(spec.dtype)
                if given_dtype != expected_dtype:
                    raise RequestError(
                        400, f"Input {name!r} of signature {signature.name!r} expects {json_format.dtype_name(spec.dtype)}, "
                        f"got {given_dtype.name}."
                    )
                try:
                    arrays[name] = tf.make_ndarray(proto)
                    json_format.check_shape(arrays[name], spec, signature.name)
                except (ValueError, TypeError) as error:
                    raise RequestError(400, str(error)) from None
            try:
                json_format.check_batch_size(arrays, self.service.max_batch_size)
            except json_format.BatchTooLargeError as error:
                raise RequestError(413, str(error)) from None
            except ValueError as error:
                raise RequestError(400, str(error)) from None
            outputs = self.service.run(signature, arrays)
            response = predict_pb2.PredictResponse()
            response.model_spec.name = self.service.model_name
            response.model_spec.version.value = servable.version
            response.model_spec.signature_name = signature.name
            for name, value in outputs.items():
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
            return response

        return self._call(context, answer)

    def GetModelMetadata(self, request, context):
        def answer():
            if list(request.metadata_field) != [SIGNATURE_DEF_FIELD]:
                raise RequestError(
                    400, f"Expected metadata_field ['{SIGNATURE_DEF_FIELD}'], got {list(request.metadata_field)}."
                )
            servable = self._servable(request.model_spec)
            signature_defs = get_model_metadata_pb2.SignatureDefMap()
            protobuf_json.ParseDict(servable.metadata, signature_defs)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = self.service.model_name
            response.model_spec.version.value = servable.version
            response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_defs)
            return response

        return self._call(context, answer)

    def GetModelStatus(self, request, context):
        def answer():
            if request.model_spec.name != self.service.model_name:
                raise RequestError(404, f"Could not find any versions of model {request.model_spec.name}")
            version = request.model_spec.version.value if request.model_spec.HasField("version") else None
            response = get_model_status_pb2.GetModelStatusResponse()
            protobuf_json.ParseDict(self.service.status(version), response)
            return response

        return self._call(context, answer)


def start_grpc_server(service, host, port=DEFAULT_GRPC_PORT, max_message_bytes=32 * 1024 * 1024, max_workers=8):
    """Starts TensorFlow Serving's gRPC services for ``service`` on ``host:port``.

    Args:
        service: the ``ModelService`` the REST server answers from.
        host: address to listen on (``"127.0.0.1"``: this machine only).
        port: TCP port; 0 picks a free one.
        max_message_bytes: largest request accepted (``RESOURCE_EXHAUSTED`` beyond).
        max_workers: calls answered at once.

    Returns:
        ``(server, port)``: the started ``grpc.Server`` (``server.stop(grace)``
        stops it) and the port it listens on.

    Raises:
        OSError: the address cannot be bound.
    """
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="tfgen-grpc"),
        options=[("grpc.max_receive_message_length", max_message_bytes), ("grpc.so_reuseport", 0)],
    )
    servicer = _Servicer(service)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(servicer, server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:  # grpcio raises RuntimeError when it cannot bind
        bound = 0
    if bound == 0:
        raise OSError(errno.EADDRINUSE, f"Cannot listen for gRPC on {address}: the port is in use or the address is not local")
    server.start()
    return server, bound
