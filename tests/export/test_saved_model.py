"""SavedModel export: signatures, loading without tfgen, versions, no silent overwrite."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

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
            "batch_of_one": signatures["generate"](latent=tf.constant(latent[:1]))["images"].shape.as_list(),
        }}
        print(json.dumps(out))
    """
    result = json.loads(run_python_without_tfgen(code).stdout.strip().splitlines()[-1])
    assert result["names"] == ["decode", "encode", "generate", "reconstruct", "serving_default"]
    expected_images = vae.decode(latent).numpy()
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
    for name in ("generate", "decode", "encode", "reconstruct", "serving_default"):
        assert f"signature_def['{name}']" in shown.stdout
    assert "inputs['latent'] tensor_info" in shown.stdout and "(-1, 4)" in shown.stdout
    assert "outputs['z_log_var'] tensor_info" in shown.stdout


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


def test_unsupported_model_and_bad_path(vae, tmp_path):
    import keras

    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="Cannot export a Sequential. Exportable models: .*VAE"):
        tfgen.export_saved_model(plain, str(tmp_path / "plain"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="to be a directory, found a file"):
        tfgen.export_saved_model(vae, str(tmp_path / "file"))
