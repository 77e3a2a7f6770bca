"""SavedModel export: signatures, loading without tfgen, versions, no silent overwrite."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import tfgen
from tests.helpers import random_images, run_python_without_tfgen


@pytest.fixture(scope="module")
def vae():
    return tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, base_filters=8, hidden_units=32, seed=0)


def test_export_loads_without_tfgen_and_matches(vae, tmp_path):
    path = tfgen.export_saved_model(vae, str(tmp_path / "vae"))
    assert path == str(tmp_path / "vae" / "1")
    images = random_images(5, (16, 16, 1), seed=1)
    latent = np.random.default_rng(2).normal(size=(5, 4)).astype("float32")
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "latent.npy", latent)
    code = f"""
        import json, numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({path!r})
        images = np.load({str(tmp_path / 'images.npy')!r}); latent = np.load({str(tmp_path / 'latent.npy')!r})
        signatures = loaded.signatures
        out = {{
            "names": sorted(signatures.keys()),
            "generate": signatures["generate"](latent=tf.constant(latent))["images"].numpy().tolist(),
            "decode": signatures["decode"](latent=tf.constant(latent))["images"].numpy().tolist(),
            "default": signatures["serving_default"](latent=tf.constant(latent))["images"].numpy().tolist(),
            "encode": {{k: v.numpy().tolist() for k, v in signatures["encode"](images=tf.constant(images)).items()}},
            "reconstruct": signatures["reconstruct"](images=tf.constant(images))["images"].numpy().tolist(),
            "png": [tf.io.decode_png(png).numpy().tolist()
                    for png in signatures["generate_png"](latent=tf.constant(latent))["images_bytes"].numpy()],
            "batch_of_one": signatures["generate"](latent=tf.constant(latent[:1]))["images"].shape.as_list(),
            "sample": signatures["sample"](num_samples=tf.constant(3), seed=tf.constant(7))["images"].numpy().tolist(),
        }}
        print(json.dumps(out))
    """
    result = json.loads(run_python_without_tfgen(code).stdout.strip().splitlines()[-1])
    assert result["names"] == [
        "decode", "encode", "generate", "generate_png", "reconstruct", "sample", "serving_default"
    ]
    # The export's own sampler reproduces the Python model's samples for a seed.
    np.testing.assert_allclose(result["sample"], vae.generate(3, seed=7), atol=1e-5)
    expected_images = vae.decode(latent).numpy()
    # PNG pixels are round((x + 1) * 127.5); one grey level of slack for x near a .5 boundary.
    assert np.asarray(result["png"]).shape == (5, 16, 16, 1)
    assert np.abs(np.asarray(result["png"]) - np.round((expected_images + 1) * 127.5)).max() <= 1
    for key in ("generate", "decode", "default"):
        np.testing.assert_allclose(result[key], expected_images, atol=1e-5)
    z_mean, z_log_var = vae.encode(images)
    np.testing.assert_allclose(result["encode"]["z_mean"], z_mean, atol=1e-5)
    np.testing.assert_allclose(result["encode"]["z_log_var"], z_log_var, atol=1e-5)
    np.testing.assert_allclose(result["reconstruct"], vae.reconstruct(images), atol=1e-5)
    assert result["batch_of_one"] == [1, 16, 16, 1]


def test_saved_model_cli_lists_signatures(vae, tmp_path):
    path = tfgen.export_saved_model(vae, str(tmp_path / "vae"))
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    if not os.path.exists(cli):
        pytest.skip("saved_model_cli is not installed beside this Python")
    shown = subprocess.run([cli, "show", "--dir", path, "--all"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    for name in ("generate", "generate_png", "decode", "encode", "reconstruct", "serving_default"):
        assert f"signature_def['{name}']" in shown.stdout
    assert "inputs['latent'] tensor_info" in shown.stdout and "(-1, 4)" in shown.stdout
    assert "outputs['z_log_var'] tensor_info" in shown.stdout
    assert "outputs['images_bytes'] tensor_info" in shown.stdout and "dtype: DT_STRING" in shown.stdout


def test_saved_model_cli_runs_each_kind_of_signature(vae, tmp_path):
    path = tfgen.export_saved_model(vae, str(tmp_path / "vae"))
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    if not os.path.exists(cli):
        pytest.skip("saved_model_cli is not installed beside this Python")
    latent = np.random.default_rng(4).normal(size=(2, 4)).astype("float32")
    images = random_images(2, (16, 16, 1), seed=5)
    # saved_model_cli evaluates --input_exprs as Python literals: nested lists.
    feeds = {"latent": f"latent={latent.tolist()}", "images": f"images={images.tolist()}"}
    # One signature per kind of input and output: float images, PNG strings,
    # two outputs from images (decode, serving_default and reconstruct share
    # these inputs and outputs; each run costs a TensorFlow start-up).
    runs = {"generate": "latent", "generate_png": "latent", "encode": "images"}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    # All at once: each process spends most of its time importing TensorFlow.
    processes = {
        name: subprocess.Popen(
            [cli, "run", "--dir", path, "--tag_set", "serve", "--signature_def", name,
             "--input_exprs", feeds[feed], "--outdir", str(tmp_path / name)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for name, feed in runs.items()
    }
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, f"{name}:\n{stdout}\n{stderr[-3000:]}"
        assert "Result for output key" in stdout
    expected = vae.decode(latent).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "generate" / "images.npy"), expected, atol=1e-5)
    pngs = np.load(tmp_path / "generate_png" / "images_bytes.npy", allow_pickle=True)
    pixels = np.stack([tf.io.decode_png(png).numpy() for png in pngs])
    assert pixels.shape == (2, 16, 16, 1)
    assert np.abs(pixels - np.round((expected + 1) * 127.5)).max() <= 1
    z_mean, z_log_var = vae.encode(images)
    np.testing.assert_allclose(np.load(tmp_path / "encode" / "z_mean.npy"), z_mean, atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "encode" / "z_log_var.npy"), z_log_var, atol=1e-5)


def test_versions_increase_and_never_overwrite(vae, tmp_path):
    base = str(tmp_path / "vae")
    first = tfgen.export_saved_model(vae, base)
    marker = os.path.join(first, "saved_model.pb")
    stamp = os.path.getmtime(marker)
    second = tfgen.export_saved_model(vae, base)
    assert (os.path.basename(first), os.path.basename(second)) == ("1", "2")
    with pytest.raises(ValueError, match="already exists; pass overwrite=True"):
        tfgen.export_saved_model(vae, base, version=1)
    assert os.path.getmtime(marker) == stamp
    assert tfgen.export.existing_versions(base) == [1, 2]
    assert not [entry for entry in os.listdir(base) if entry.startswith(".tmp")]
    replaced = tfgen.export_saved_model(vae, base, version=1, overwrite=True)
    assert replaced == first and os.path.exists(marker)
    with pytest.raises(ValueError, match="positive int, got 0"):
        tfgen.export_saved_model(vae, base, version=0)


def test_default_location_and_model_card(vae, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tfgen.export_saved_model(vae, metadata={"dataset": "digits", "train_steps": 7})
    assert path == os.path.join("saved_models", vae.name, "1")
    with open(os.path.join(path, "model_card.json")) as handle:
        card = json.load(handle)
    assert card["model_type"] == "VAE" and card["latent_dim"] == 4 and card["input_shape"] == [16, 16, 1]
    assert card["dataset"] == "digits" and card["train_steps"] == 7
    assert card["tfgen_version"] == tfgen.__version__
    # Every card has every field of issue 5, null when unknown; the model knows its own step count.
    bare_path = tfgen.export_saved_model(vae)
    with open(os.path.join(bare_path, "model_card.json")) as handle:
        bare = json.load(handle)
    required = {
        "model_type", "input_shape", "output_shape", "latent_dim", "num_classes",
        "dataset", "train_steps", "tfgen_version", "tensorflow_version", "signatures",
    }
    assert required <= set(bare), sorted(required - set(bare))
    assert bare["dataset"] is None and bare["train_steps"] == 0 and bare["num_classes"] is None
    assert bare["output_shape"] == [16, 16, 1] and bare["tensorflow_version"] == tf.__version__
    assert "generate_png" in bare["signatures"]


def test_unsupported_model_and_bad_path(vae, tmp_path):
    import keras

    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="Cannot export a Sequential: expected a tfgen model .*GenerativeModel"):
        tfgen.export_saved_model(plain, str(tmp_path / "plain"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="to be a directory, found a file"):
        tfgen.export_saved_model(vae, str(tmp_path / "file"))


def test_png_endpoint_encodes_images():
    from tfgen.export.saved_model import png_endpoint
    from tfgen.models import Endpoint

    latent_spec = tf.TensorSpec((None, 2), tf.float32, name="latent")

    def generate(latent):
        return {"images": tf.tanh(tf.reshape(tf.tile(latent, [1, 18]), (-1, 6, 6, 1)))}

    name, png_fn, signature = png_endpoint(Endpoint("generate", generate, [latent_spec]))
    assert name == "generate_png" and signature == [latent_spec]
    latent = tf.constant([[0.0, 1.0], [-1.0, 0.5]])
    pngs = png_fn(latent)["images_bytes"].numpy()
    pixels = np.stack([tf.io.decode_png(png).numpy() for png in pngs])
    expected = np.round((generate(latent)["images"].numpy() + 1) * 127.5)
    assert pixels.shape == (2, 6, 6, 1) and np.abs(pixels - expected).max() <= 1


@pytest.mark.parametrize("num_classes", [None, 3])
def test_gan_export_loads_without_tfgen_and_matches(tmp_path, num_classes):
    from tfgen.models.gan import GAN

    gan = GAN(input_shape=(16, 16, 1), latent_dim=6, num_classes=num_classes, base_filters=8, seed=4)
    gan.compile(ema_decay=0.5)
    gan.ema_generator.set_weights([w * 0.5 for w in gan.generator.get_weights()])  # EMA differs from raw
    path = tfgen.export_saved_model(gan, str(tmp_path / "gan"))
    latent = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    labels = np.array([0, 1, 2, 1], "int32")
    np.save(tmp_path / "latent.npy", latent)
    feeds = "latent=tf.constant(latent)" + (", labels=tf.constant([0, 1, 2, 1])" if num_classes else "")
    code = f"""
        import json, numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({path!r})
        latent = np.load({str(tmp_path / 'latent.npy')!r})
        s = loaded.signatures
        print(json.dumps({{
            "names": sorted(s.keys()),
            "generate": s["generate"]({feeds})["images"].numpy().tolist(),
            "sample": s["sample"](num_samples=tf.constant(5), seed=tf.constant(9))["images"].numpy().tolist(),
            "png": len(s["generate_png"]({feeds})["images_bytes"].numpy()),
            "sample_labels": s["sample_labels"](labels=tf.constant([2, 0, 1]), seed=tf.constant(5))["images"].numpy().tolist()
            if "sample_labels" in s else None,
        }}))
    """
    result = json.loads(run_python_without_tfgen(code).stdout.strip().splitlines()[-1])
    conditional = ["sample_labels"] if num_classes else []
    if num_classes:
        np.testing.assert_allclose(result["sample_labels"], gan.generate(3, seed=5, labels=[2, 0, 1]), atol=1e-5)
    assert result["names"] == ["generate", "generate_png", "sample", *conditional, "serving_default"]
    expected = gan.generate_from_latents(latent, labels[:4] if num_classes else None, use_ema=True)
    np.testing.assert_allclose(result["generate"], expected, atol=1e-5)
    np.testing.assert_allclose(result["sample"], gan.generate(5, seed=9), atol=1e-5)
    assert result["png"] == 4


def test_a_version_folder_has_the_permissions_of_a_new_folder(vae, tmp_path):
    old_mask = os.umask(0o022)
    try:
        path = tfgen.export_saved_model(vae, str(tmp_path / "vae"))
    finally:
        os.umask(old_mask)
    assert os.stat(path).st_mode & 0o777 == 0o755  # not mkdtemp's private 0700
    assert not [entry for entry in os.listdir(tmp_path / "vae") if entry.startswith(".tmp")]
