"""LiteRT (TFLite) and ONNX exports: parity with the SavedModel, label checks, no silent overwrite.

Every model family's float conversions are checked in the contract suite
(``tests/models/test_contract.py``); here the conditional convolutional
models, int8, the model card, the label guard and the errors.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import tfgen
from tfgen.export import convert
from tests.helpers import converted_differences, converted_runner, digits_images, run_python_without_tfgen

for _module in ("tf2onnx", "onnxruntime", "ai_edge_litert"):
    pytest.importorskip(_module, reason='pip install "tfgen[deploy]"')

NUM_CLASSES = 3
FORMATS = ("tflite", "onnx")


def _conditional_data():
    from sklearn.datasets import load_digits

    labels = (load_digits().target[:64] % NUM_CLASSES).astype("int32")
    return tf.data.Dataset.from_tensor_slices((digits_images(64), labels)).batch(16)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Trained conditional VAE and GAN (convolutional), each with a SavedModel and the four conversions."""
    root = tmp_path_factory.mktemp("convert")
    models = {
        "vae": tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, base_filters=8, hidden_units=32,
                         num_classes=NUM_CLASSES, seed=0),
        "gan": tfgen.GAN(input_shape=(16, 16, 1), latent_dim=8, num_classes=NUM_CLASSES, seed=0),
    }
    result = {}
    for kind, model in models.items():
        model.compile(optimizer="adam") if kind == "vae" else model.compile()
        model.fit(_conditional_data(), epochs=2, verbose=0)
        entry = {"model": model, "saved": tfgen.export_saved_model(model, str(root / kind / "saved"))}
        for format in FORMATS:
            for quantize in (None, "int8"):
                entry[format, quantize] = tfgen.export.export_model(
                    model, format, quantize=quantize, path=str(root / kind / f"{format}_{quantize}")
                )
        result[kind] = entry
    return result


def _card(folder):
    with open(os.path.join(folder, "model_card.json")) as handle:
        return json.load(handle)


@pytest.mark.parametrize("kind", ["vae", "gan"])
@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("quantize", [None, "int8"])
def test_conversions_match_the_saved_model(exports, kind, format, quantize):
    entry = exports[kind]
    differences = converted_differences(entry["saved"], format, entry[format, quantize], NUM_CLASSES)
    expected_signatures = {"vae": ["decode", "encode", "generate", "reconstruct"], "gan": ["generate"]}[kind]
    assert sorted(differences) == expected_signatures
    for name, outputs in differences.items():
        for key, (difference, largest) in outputs.items():
            if quantize is None:
                assert difference <= 1e-5, (name, key, difference)
            elif key == "images":  # int8 weights: images in [-1, 1] within 1e-2
                assert difference <= 1e-2, (name, key, difference)
            else:  # encode's z_mean and z_log_var: within 5% of their largest value
                assert difference <= 0.05 * largest, (name, key, difference, largest)


@pytest.mark.parametrize("format", FORMATS)
def test_int8_exports_are_smaller_and_the_card_says_what_they_hold(exports, format):
    entry = exports["vae"]
    float_card, int8_card = _card(entry[format, None]), _card(entry[format, "int8"])

    def size(folder, card):
        return sum(os.path.getsize(os.path.join(folder, name)) for name in card["files"])

    assert size(entry[format, "int8"], int8_card) < 0.75 * size(entry[format, None], float_card)
    assert int8_card["quantize"] == "int8" and float_card["quantize"] is None
    assert float_card["format"] == format
    expected_files = ["model.tflite"] if format == "tflite" else [f"{n}.onnx" for n in ("generate", "decode", "encode", "reconstruct")]
    assert sorted(float_card["files"]) == sorted(expected_files)
    assert sorted(float_card["omitted_signatures"]) == ["generate_png", "sample", "sample_labels"]
    assert "stateless random" in float_card["omitted_signatures"]["sample"]
    assert float_card["signatures"]["reconstruct"]["inputs"] == {
        "images": {"dtype": "float32", "shape": [None, 16, 16, 1]},
        "labels": {"dtype": "int32", "shape": [None]},
    }
    # The output shares no name with an input, so that tf2onnx keeps it.
    assert list(float_card["signatures"]["reconstruct"]["outputs"]) == ["reconstructions"]
    for name, signature in float_card["signatures"].items():
        assert not set(signature["inputs"]) & set(signature["outputs"]), name
    assert sorted(float_card["signatures"]["encode"]["outputs"]) == ["z_log_var", "z_mean"]
    assert float_card["num_classes"] == NUM_CLASSES and f"[0, {NUM_CLASSES})" in float_card["labels"]
    assert max(float_card["max_abs_difference"].values()) <= 1e-5
    assert float_card["checked_batch_sizes"] == [1, 7]


@pytest.mark.parametrize("kind", ["vae", "gan"])
@pytest.mark.parametrize("format", FORMATS)
def test_labels_out_of_range_give_nan_rows_where_the_saved_model_refuses_them(exports, kind, format):
    entry = exports[kind]
    model = entry["model"]
    run = converted_runner(format, entry[format, None])
    latent = np.random.default_rng(3).normal(size=(4, model.latent_dim)).astype("float32")
    labels = np.array([0, -1, NUM_CLASSES, 2], "int32")
    images = run("generate", {"latent": latent, "labels": labels})["images"]
    assert np.isnan(images[[1, 2]]).all()
    expected = model.generate_from_latents(latent[[0, 3]], labels[[0, 3]]).numpy()
    np.testing.assert_allclose(images[[0, 3]], expected, atol=1e-5)
    saved = tf.saved_model.load(entry["saved"]).signatures["generate"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be"):
        saved(latent=tf.constant(latent), labels=tf.constant(labels))
    if kind == "vae":
        z = run("encode", {"images": digits_images(3), "labels": np.array([1, 7, 0], "int32")})
        assert np.isnan(z["z_mean"][1]).all() and np.isfinite(z["z_mean"][[0, 2]]).all()


def test_converted_files_run_without_tfgen(exports):
    entry = exports["vae"]
    latent = np.random.default_rng(4).normal(size=(2, 4)).astype("float32")
    np.save(os.path.join(entry["tflite", None], "..", "latent.npy"), latent)
    code = f"""
        import json, os, numpy as np, onnxruntime
        from ai_edge_litert.interpreter import Interpreter
        latent = np.load({os.path.join(entry["tflite", None], "..", "latent.npy")!r})
        labels = np.array([0, 2], "int32")
        lite = Interpreter(model_path={os.path.join(entry["tflite", None], "model.tflite")!r})
        a = lite.get_signature_runner("decode")(latent=latent, labels=labels)["images"]
        session = onnxruntime.InferenceSession({os.path.join(entry["onnx", None], "decode.onnx")!r})
        (b,) = session.run(["images"], {{"latent": latent, "labels": labels}})
        print(json.dumps({{"tflite": a.tolist(), "onnx": b.tolist()}}))
    """
    result = json.loads(run_python_without_tfgen(code).stdout.strip().splitlines()[-1])
    expected = entry["model"].decode(latent, labels=np.array([0, 2], "int32")).numpy()
    np.testing.assert_allclose(result["tflite"], expected, atol=1e-5)
    np.testing.assert_allclose(result["onnx"], expected, atol=1e-5)


@pytest.mark.parametrize("format", FORMATS)
def test_an_existing_export_is_never_replaced_silently(exports, format, tmp_path):
    model = exports["gan"]["model"]
    folder = tfgen.export.export_model(model, format, path=str(tmp_path / "out"))
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="already exists; pass overwrite=True"):
        tfgen.export.export_model(model, format, path=folder)
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
    again = tfgen.export.export_model(model, format, path=folder, overwrite=True)
    assert again == folder and not (tmp_path / "out" / "notes.txt").exists()
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no staging folder left behind


def test_default_folders_sit_beside_the_saved_model_versions(exports, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = exports["gan"]["model"]
    tfgen.export_saved_model(model)
    assert tfgen.export.export_tflite(model) == os.path.join("saved_models", model.name, "tflite")
    assert tfgen.export.export_onnx(model, quantize="int8") == os.path.join("saved_models", model.name, "onnx_int8")
    # TensorFlow Serving and tfgen serve read only the numbered versions.
    assert tfgen.export.existing_versions(os.path.join("saved_models", model.name)) == [1]


def test_a_conversion_its_runtime_cannot_run_writes_nothing(exports, tmp_path, monkeypatch):
    def broken_runtime(directory):
        def run(name, inputs):
            raise RuntimeError("Node number 13 (READ_VARIABLE) failed to invoke.")

        return run, "broken"

    monkeypatch.setitem(convert._CONVERTERS, "onnx", (convert._CONVERTERS["onnx"][0], broken_runtime))
    with pytest.raises(RuntimeError, match="'generate' does not run in its runtime .*READ_VARIABLE"):
        tfgen.export.export_onnx(exports["gan"]["model"], path=str(tmp_path / "onnx"))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"format": "torchscript"}, r"format to be one of \['saved_model', 'tflite', 'onnx', 'web'\], got 'torchscript'"),
        ({"format": "tflite", "quantize": "int4"}, r"quantize to be one of \['int8'\] or None, got 'int4'"),
        ({"format": "saved_model", "quantize": "int8"}, "saved_model format is float only"),
        ({"format": "onnx", "version": 2}, "version applies to the saved_model format only, got version=2"),
    ],
)
def test_bad_arguments_are_refused(exports, tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        tfgen.export.export_model(exports["gan"]["model"], path=str(tmp_path / "out"), **arguments)
    assert not (tmp_path / "out").exists()


def test_not_a_tfgen_model_is_refused():
    import keras

    with pytest.raises(ValueError, match="Cannot export a Sequential: expected a tfgen model"):
        tfgen.export.export_tflite(keras.Sequential([keras.layers.Dense(1)]))


def test_without_tf2onnx_the_error_says_what_to_install(exports, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(ImportError, match=r'pip install "tfgen\[deploy\]"'):
        tfgen.export.export_onnx(exports["gan"]["model"], path=str(tmp_path / "onnx"))


def test_export_command_writes_litert_and_onnx(exports, tmp_path, monkeypatch, capsys):
    # In this process (tests/cli/ runs the command as a real process): the same main() the console script calls.
    from tfgen.cli.main import main

    model = exports["vae"]["model"]
    model.save(tmp_path / "model.keras")
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--model", "model.keras", "--format", "tflite", "--quantize", "int8"]) == 0
    folder = tmp_path / "saved_models" / model.name / "tflite_int8"
    assert f"to {os.path.join('saved_models', model.name, 'tflite_int8')}" in capsys.readouterr().out
    assert _card(folder)["quantize"] == "int8" and (folder / "model.tflite").is_file()
    assert main(["export", "--model", "model.keras", "--quantize", "int8"]) == 2
    error = capsys.readouterr().err
    assert "saved_model format is float only" in error and "Traceback" not in error


@pytest.mark.parametrize("format", FORMATS)
def test_a_mixed_precision_model_is_exported_from_a_float32_copy(format, tmp_path):
    from tfgen import precision

    with precision.policy_scope("bfloat16"):
        model = tfgen.GAN(input_shape=(16, 16, 1), latent_dim=4, num_classes=NUM_CLASSES, seed=0)
        model.compile(ema_decay=0.9)
    model.fit(_conditional_data(), epochs=1, steps_per_epoch=1, verbose=0)
    folder = tfgen.export.export_model(model, format, str(tmp_path / format))
    card = _card(folder)
    assert card["computed_in"].startswith("float32: the model computes in mixed_bfloat16")
    run = converted_runner(format, folder)
    latent = np.random.default_rng(6).normal(size=(5, 4)).astype("float32")
    labels = np.array([0, 1, 2, 1, 0], "int32")
    images = run("generate", {"latent": latent, "labels": labels})["images"]
    # The EMA generator's weights, computed in float32: bfloat16's rounding away from the model's own output.
    expected = model.generate_from_latents(latent, labels).numpy()
    assert np.abs(images - expected).max() <= 0.05
    copy, replaced = convert.float32_copy(model)
    assert replaced == {"mixed_bfloat16"} and copy is not model
    np.testing.assert_allclose(images, copy.generate_from_latents(latent, labels).numpy(), atol=1e-5)
    assert convert.float32_copy(copy) == (copy, set())  # float32 models are exported as they are
