"""`tfgen sample`: the same samples from a .keras model and from its export, for every kind of model."""

import numpy as np
import pytest

import tfgen
from tfgen.cli import main as cli_main
from tfgen.cli import model_io


def _vae():
    return tfgen.VAE(input_shape=(16, 16, 1), latent_dim=3, architecture="mlp", hidden_units=8, seed=1)


def _three_class_gan():
    gan = tfgen.GAN(input_shape=(16, 16, 1), latent_dim=5, num_classes=3, base_filters=4, seed=2)
    gan.compile(ema_decay=0.9)
    return gan


def _point_gan():
    return tfgen.GAN(input_shape=(2,), latent_dim=4, hidden_units=(8,), seed=3)


@pytest.mark.parametrize("make", [_vae, _three_class_gan, _point_gan], ids=["vae", "gan_3_classes", "point_gan"])
def test_keras_file_and_export_give_the_same_samples(make, tmp_path):
    model = make()
    model.save(tmp_path / "model.keras")
    tfgen.export_saved_model(model, tmp_path / "export")
    from_keras = model_io.generate(str(tmp_path / "model.keras"), 7, seed=4)
    from_export = model_io.generate(str(tmp_path / "export"), 7, seed=4)
    assert from_keras.shape == (7,) + model.data_shape
    np.testing.assert_allclose(from_export, from_keras, atol=1e-5)
    np.testing.assert_allclose(from_keras, model.generate(7, seed=4), atol=1e-6)
    assert not np.allclose(model_io.generate(str(tmp_path / "export"), 7, seed=5), from_export)


def test_an_export_without_a_sample_signature_draws_the_same_latents(tmp_path, monkeypatch):
    gan = _three_class_gan()
    # An export as older versions wrote it: generate (and generate_png), no sample.
    endpoints = gan.serving_endpoints()
    monkeypatch.setattr(gan, "serving_endpoints", lambda: [e for e in endpoints if not e.name.startswith("sample")])
    tfgen.export_saved_model(gan, tmp_path / "export")
    np.testing.assert_allclose(model_io.generate(str(tmp_path / "export"), 5, seed=6), gan.generate(5, seed=6), atol=1e-5)


def test_sample_command_draws_points_for_a_vector_model(tmp_path, capsys):
    gan = _point_gan()
    tfgen.export_saved_model(gan, tmp_path / "export")
    output = tmp_path / "points.png"
    assert cli_main.main(["sample", "--model", str(tmp_path / "export"), "--num", "50", "--output", str(output)]) == 0
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote 50 samples" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, message", [(["--num", "0"], "num_samples to be a positive int, got 0"),
                                                (["--seed", "-1"], "seed to be an int in [0, 2147483647], got -1"),
                                                (["--seed", str(2**31)], "seed to be an int in [0, 2147483647], got 2147483648")])
def test_bad_sample_arguments_are_one_line_errors(tmp_path, capsys, arguments, message):
    _vae().save(tmp_path / "model.keras")
    assert cli_main.main(["sample", "--model", str(tmp_path / "model.keras"), *arguments]) == 2
    assert message in capsys.readouterr().err
