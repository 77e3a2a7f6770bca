"""`tfgen serve`'s gRPC API, called with TensorFlow Serving's official stubs (tensorflow-serving-api)."""

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

import tfgen
from tests.serving.server_process import ServerProcess

MAX_BATCH_SIZE = 8


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("grpc")
    vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, architecture="mlp", hidden_units=16, seed=0)
    gan = tfgen.GAN(input_shape=(16, 16, 1), latent_dim=3, num_classes=3, base_filters=4, seed=1)
    tfgen.export_saved_model(vae, str(root / "vae"))
    tfgen.export_saved_model(gan, str(root / "gan"))
    processes = {
        "vae": ServerProcess(root / "vae", root, "--max-batch-size", MAX_BATCH_SIZE).start(),
    }
    (root / "gan_logs").mkdir()
    processes["gan"] = ServerProcess(root / "gan", root / "gan_logs").start()
    channels = {name: grpc.insecure_channel(f"127.0.0.1:{process.grpc_port}") for name, process in processes.items()}
    yield {"vae": vae, "gan": gan}, processes, channels
    for channel in channels.values():
        channel.close()
    for process in processes.values():
        process.stop()


def _request(name, signature, **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def test_predict_matches_the_model_exactly(served):
    models, processes, channels = served
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channels["vae"])
    latent = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    response = stub.Predict(_request("vae", "generate", latent=latent), timeout=60)
    np.testing.assert_array_equal(tf.make_ndarray(response.outputs["images"]), models["vae"].decode(latent).numpy())
    assert response.model_spec.name == "vae" and response.model_spec.version.value == 1
    sampled = stub.Predict(_request("vae", "sample", num_samples=np.int32(2), seed=np.int32(5)), timeout=60)
    np.testing.assert_allclose(tf.make_ndarray(sampled.outputs["images"]), models["vae"].generate(2, seed=5), atol=1e-6)
    images = models["vae"].decode(latent).numpy()
    encoded = stub.Predict(_request("vae", "encode", images=images), timeout=60)
    z_mean, _ = models["vae"].encode(images)
    np.testing.assert_array_equal(tf.make_ndarray(encoded.outputs["z_mean"]), z_mean.numpy())
    # The same answer as REST.
    status, answer = processes["vae"].predict({"signature_name": "generate", "inputs": latent.tolist()})
    np.testing.assert_array_equal(np.asarray(answer["outputs"], np.float32), tf.make_ndarray(response.outputs["images"]))


def test_conditional_gan_and_png_strings(served):
    models, _, channels = served
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channels["gan"])
    response = stub.Predict(_request("gan", "sample_labels", labels=np.array([2, 0], np.int32), seed=np.int32(7)), timeout=60)
    np.testing.assert_allclose(
        tf.make_ndarray(response.outputs["images"]), models["gan"].generate(2, seed=7, labels=[2, 0]), atol=1e-6
    )
    latent = np.zeros((2, 3), np.float32)
    pngs = tf.make_ndarray(
        stub.Predict(_request("gan", "generate_png", latent=latent, labels=np.array([0, 1], np.int32)), timeout=60)
        .outputs["images_bytes"]
    )
    assert len(pngs) == 2 and all(png.startswith(b"\x89PNG") for png in pngs)


def test_metadata_and_status(served):
    _, _, channels = served
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channels["vae"])
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "vae"
    request.metadata_field.append("signature_def")
    response = stub.GetModelMetadata(request, timeout=60)
    signature_defs = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signature_defs)
    assert {"generate", "sample", "encode", "decode", "serving_default"} <= set(signature_defs.signature_def)
    assert signature_defs.signature_def["generate"].inputs["latent"].dtype == tf.float32.as_datatype_enum

    status_stub = model_service_pb2_grpc.ModelServiceStub(channels["vae"])
    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = "vae"
    (row,) = status_stub.GetModelStatus(status_request, timeout=60).model_version_status
    assert row.version == 1 and row.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE


@pytest.mark.parametrize(
    "request_kwargs, code, message",
    [
        ({"name": "nope", "signature": "generate", "latent": np.zeros((1, 4), np.float32)}, grpc.StatusCode.NOT_FOUND, "Latest(nope)"),
        ({"signature": "nope", "latent": np.zeros((1, 4), np.float32)}, grpc.StatusCode.INVALID_ARGUMENT, "Unknown signature_name 'nope'"),
        ({"signature": "generate", "z": np.zeros((1, 4), np.float32)}, grpc.StatusCode.INVALID_ARGUMENT, "takes the inputs ['latent']"),
        ({"signature": "generate", "latent": np.zeros((1, 4), np.int32)}, grpc.StatusCode.INVALID_ARGUMENT, "expects float32, got int32"),
        ({"signature": "generate", "latent": np.zeros((1, 5), np.float32)}, grpc.StatusCode.INVALID_ARGUMENT, "expects shape [N, 4]"),
        ({"signature": "generate", "latent": np.zeros((MAX_BATCH_SIZE + 1, 4), np.float32)}, grpc.StatusCode.RESOURCE_EXHAUSTED, "at most 8"),
        ({"signature": "sample", "num_samples": np.int32(MAX_BATCH_SIZE + 1), "seed": np.int32(0)}, grpc.StatusCode.RESOURCE_EXHAUSTED, "at most 8"),
    ],
)
def test_bad_requests_get_tensorflow_servings_status_codes(served, request_kwargs, code, message):
    _, processes, channels = served
    kwargs = dict(request_kwargs)
    name, signature = kwargs.pop("name", "vae"), kwargs.pop("signature")
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channels["vae"])
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(_request(name, signature, **kwargs), timeout=60)
    assert error.value.code() == code and message in error.value.details(), error.value.details()
    assert processes["vae"].request("/v1/models/vae")[0] == 200  # still serving
