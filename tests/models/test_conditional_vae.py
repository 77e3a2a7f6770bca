"""The conditional VAE, ``tfgen.VAE(num_classes=...)``: labels, validation, and the contract checks that matter.

The contract suite (``test_contract.py``) has one entry per model class, so
the checks that conditioning could break (``.keras`` round trip, export
without tfgen, exact resume) run here for a conditional, discretised-logistic VAE.
"""

import json
import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfgen
from tfgen.callbacks import TrainingBackup
from tests.helpers import digits_images, run_python_without_tfgen, weights_equal

NUM_CLASSES = 3
BATCH_SIZE = 16


def _cvae(seed=0, likelihood="discretized_logistic"):
    return tfgen.VAE(input_shape=(16, 16, 1), latent_dim=3, architecture="mlp", hidden_units=16,
                     likelihood=likelihood, num_classes=NUM_CLASSES, seed=seed)


def _compiled(seed=0):
    model = _cvae(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def _examples():
    """32 digits on the 8-bit grid and labels ``0, 1, 2, 0, ...``."""
    images = np.round((digits_images(32) + 1.0) * 127.5) / 127.5 - 1.0
    return images.astype("float32"), np.arange(32, dtype="int32") % NUM_CLASSES


def _dataset():
    return tf.data.Dataset.from_tensor_slices(_examples()).batch(BATCH_SIZE)


def _trained(seed=0, epochs=1):
    model = _compiled(seed)
    model.fit(_dataset(), epochs=epochs, verbose=0)
    return model


# ----------------------------------------------------------------- shapes
def test_shapes_and_labels_that_change_the_outputs():
    vae = _cvae()
    images, labels = _examples()
    z_mean, z_log_var = vae.encode(images[:4], labels[:4])
    assert z_mean.shape == z_log_var.shape == (4, 3)
    decoded = vae.decode(z_mean, labels[:4]).numpy()
    assert decoded.shape == (4, 16, 16, 1) and decoded.min() >= -1 and decoded.max() <= 1
    assert vae.reconstruct(images[:4], labels[:4]).shape == (4, 16, 16, 1)
    assert vae.generate(5, seed=1, labels=[2] * 5).shape == (5, 16, 16, 1)
    assert vae.encoder.input_shape == [(None, 16, 16, 1), (None,)]
    assert vae.decoder.input_shape == [(None, 3), (None,)]
    # Both networks use the label.
    assert not np.allclose(vae.decode(z_mean, [0] * 4), vae.decode(z_mean, [1] * 4))
    assert not np.allclose(vae.encode(images[:4], [0] * 4)[0], vae.encode(images[:4], [1] * 4)[0])
    # generate: default labels cycle through the classes; batching changes nothing.
    np.testing.assert_array_equal(vae.generate(4, seed=1), vae.generate(4, seed=1, labels=[0, 1, 2, 0]))
    labels = np.array([2, 0, 1, 1, 2, 0, 0])
    np.testing.assert_array_equal(vae.generate(7, seed=2, labels=labels, batch_size=3),
                                  vae.generate(7, seed=2, labels=labels))
    np.testing.assert_array_equal(vae.generate(3, seed=2, labels=[1, 0, 2]),
                                  vae.decode(vae.sample_latents(3, seed=2), [1, 0, 2]))
    assert vae.model_card()["num_classes"] == NUM_CLASSES


def test_fit_trains_on_images_and_labels():
    vae = _compiled()
    history = vae.fit(_dataset(), validation_data=_dataset(), epochs=1, verbose=0)
    assert {"loss", "reconstruction_loss", "kl_loss", "val_loss"} <= set(history.history)
    assert int(vae.step_counter.numpy()) == 2 and np.isfinite(history.history["loss"][0])
    images, labels = _examples()
    elbo = vae.elbo(images, labels=labels, seed=0)
    assert elbo.shape == (32,) and np.all(elbo < 0)  # log-probabilities of 8-bit images
    np.testing.assert_array_equal(elbo, vae.log_likelihood(images, num_samples=1, seed=0, labels=labels))


def test_fit_under_a_strategy_scope():
    # Keras builds a model made in a strategy's scope by calling it on the images alone, unless it is built.
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        vae = _compiled()
    history = vae.fit(_dataset(), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


# ------------------------------------------------------------- validation
@pytest.mark.parametrize("method", ["encode", "decode", "reconstruct", "log_likelihood"])
def test_missing_labels_are_refused(method):
    vae = _cvae()
    images, _ = _examples()
    argument = np.zeros((2, 3), "float32") if method == "decode" else images[:2]
    message = rf"conditional \(num_classes=3\): {method} needs labels, ints of shape \(2,\)"
    with pytest.raises(ValueError, match=message):
        getattr(vae, method)(argument)


@pytest.mark.parametrize(
    "labels, message",
    [
        ([0, 3], r"labels in \[0, 2\] \(num_classes=3\), got values from 0 to 3"),
        ([-1, 0], r"labels in \[0, 2\] \(num_classes=3\), got values from -1 to 0"),
        ([0.0, 1.0], r"ints of shape \(2,\), got dtype float64"),
        ([0, 1, 2], r"ints of shape \(2,\), got dtype int64 and shape \(3,\)"),
    ],
)
@pytest.mark.parametrize("method", ["encode", "decode", "reconstruct", "log_likelihood", "generate"])
def test_bad_labels_are_refused(method, labels, message):
    vae = _cvae()
    images, _ = _examples()
    call = {
        "encode": lambda: vae.encode(images[:2], labels),
        "decode": lambda: vae.decode(np.zeros((2, 3), "float32"), labels),
        "reconstruct": lambda: vae.reconstruct(images[:2], labels),
        "log_likelihood": lambda: vae.log_likelihood(images[:2], num_samples=2, labels=labels),
        "generate": lambda: vae.generate(2, labels=labels),
    }[method]
    with pytest.raises(ValueError, match=message):
        call()


def test_other_mistakes_are_refused():
    for bad in (1, 2.5, True, "3"):
        with pytest.raises(ValueError, match=f"num_classes to be None or an int >= 2, got {bad!r}"):
            tfgen.VAE(input_shape=(8, 8, 1), architecture="mlp", num_classes=bad)
    vae = _compiled()
    images, _ = _examples()
    with pytest.raises(ValueError, match=r"batches must be \(examples, labels\)"):
        vae.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=1, verbose=0)
    unconditional = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=3, architecture="mlp", hidden_units=16, seed=0)
    with pytest.raises(ValueError, match="unconditional"):
        unconditional.encode(images[:2], [0, 1])
    # Networks that do not take labels cannot serve a conditional VAE.
    encoder = tfgen.models.make_encoder((16, 16, 1), 3, architecture="mlp", hidden_units=8)
    decoder = tfgen.models.make_decoder((16, 16, 1), 3, architecture="mlp", hidden_units=8)
    with pytest.raises(ValueError, match=r"encoder could not take images of shape \(None, 16, 16, 1\) and labels"):
        tfgen.VAE(encoder=encoder, decoder=decoder, latent_dim=3, num_classes=NUM_CLASSES)


def test_user_networks_that_take_labels():
    images = keras.Input((8, 8, 1))
    labels = keras.Input((), dtype="int32")
    one_hot = keras.layers.CategoryEncoding(2, output_mode="one_hot")(labels)
    hidden = keras.layers.Concatenate()([keras.layers.Flatten()(images), one_hot])
    encoder = keras.Model([images, labels], [keras.layers.Dense(2)(hidden), keras.layers.Dense(2)(hidden)])
    latent = keras.Input((2,))
    decoder_labels = keras.Input((), dtype="int32")
    decoder_one_hot = keras.layers.CategoryEncoding(2, output_mode="one_hot")(decoder_labels)
    joined = keras.layers.Concatenate()([latent, decoder_one_hot])
    decoder = keras.Model([latent, decoder_labels], keras.layers.Reshape((8, 8, 1))(keras.layers.Dense(64)(joined)))
    vae = tfgen.VAE(encoder=encoder, decoder=decoder, latent_dim=2, likelihood="bernoulli", num_classes=2, seed=0)
    assert vae.generate(3, labels=[1, 1, 0]).shape == (3, 8, 8, 1)
    clone = tfgen.VAE.from_config(vae.get_config())  # the same networks, freshly initialised
    assert clone.num_classes == 2 and clone.generate(3, labels=[1, 1, 0]).shape == (3, 8, 8, 1)


# ----------------------------------------------------------- conditioning
def test_generate_honours_the_labels():
    # Two very different classes: the left half bright, or the right half.
    rng = np.random.default_rng(0)
    left = np.where(np.arange(8)[None, :, None] < 4, 0.8, -0.8) * np.ones((8, 8, 1))
    class_means = np.stack([left, -left])
    labels = rng.integers(0, 2, 512)
    images = (class_means[labels] + 0.1 * rng.normal(size=(512, 8, 8, 1))).clip(-1, 1).astype("float32")
    vae = tfgen.VAE(input_shape=(8, 8, 1), latent_dim=2, architecture="mlp", hidden_units=32,
                    likelihood="bernoulli", num_classes=2, seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    vae.fit(tf.data.Dataset.from_tensor_slices((images, labels)).batch(64), epochs=8, verbose=0)  # 64 steps
    for label in (0, 1):
        generated = vae.generate(32, seed=3, labels=[label] * 32).numpy()
        distances = np.sqrt(((generated[None] - class_means[:, None]) ** 2).mean(axis=(2, 3, 4)))  # [2, 32]
        assert np.all(distances[label] < distances[1 - label]), (label, distances)


# ------------------------------------------------- the contract's key checks
def test_config_and_keras_round_trip(tmp_path):
    model = _trained()
    config = model.get_config()
    assert config["num_classes"] == NUM_CLASSES and config["likelihood"] == "discretized_logistic"
    clone = tfgen.VAE.from_config(config)
    assert clone.get_config() == config

    model.save(tmp_path / "model.keras")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restored = keras.models.load_model(tmp_path / "model.keras")
    assert not [str(w.message) for w in caught if "Skipping" in str(w.message) or "compile" in str(w.message)]
    assert type(restored) is tfgen.VAE and restored.num_classes == NUM_CLASSES
    assert int(restored.step_counter.numpy()) == 2
    for a, b in zip(model.optimizer.variables, restored.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert weights_equal(model, restored)
    images, labels = _examples()
    np.testing.assert_array_equal(restored.generate(3, seed=1, labels=[2, 1, 0]),
                                  model.generate(3, seed=1, labels=[2, 1, 0]))
    np.testing.assert_array_equal(restored.encode(images[:4], labels[:4])[0], model.encode(images[:4], labels[:4])[0])
    np.testing.assert_array_equal(restored.reconstruct(images[:4], labels[:4]),
                                  model.reconstruct(images[:4], labels[:4]))
    np.testing.assert_array_equal(
        restored.log_likelihood(images[:4], num_samples=5, labels=labels[:4]),
        model.log_likelihood(images[:4], num_samples=5, labels=labels[:4]),
    )


def test_resume_from_a_backup_equals_an_uninterrupted_run(tmp_path):
    uninterrupted = _trained(epochs=2)
    interrupted = _compiled()
    backup = TrainingBackup(tmp_path / "backup", delete_on_finish=False)
    interrupted.fit(_dataset(), epochs=1, verbose=0, callbacks=[backup])
    del interrupted

    resumed = _compiled()
    assert TrainingBackup.restore(resumed, tmp_path / "backup") == 2
    resumed.fit(_dataset(), epochs=2, initial_epoch=1, verbose=0)
    assert int(resumed.step_counter.numpy()) == 4
    assert weights_equal(resumed, uninterrupted, atol=1e-6)


def test_export_runs_without_tfgen_and_matches(tmp_path):
    model = _trained()
    path = tfgen.export_saved_model(model, str(tmp_path / "export"))
    with open(os.path.join(path, "model_card.json")) as handle:
        card = json.load(handle)
    assert card["num_classes"] == NUM_CLASSES and card["likelihood"] == "discretized_logistic"
    images, labels = _examples()
    latent = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    np.savez(tmp_path / "inputs.npz", latent=latent, images=images[:4], labels=labels[:4])
    code = f"""
        import json, numpy as np, tensorflow as tf
        s = tf.saved_model.load({path!r}).signatures
        inputs = np.load({str(tmp_path / 'inputs.npz')!r})
        latent, images, labels = (tf.constant(inputs[k]) for k in ("latent", "images", "labels"))
        encoded = s["encode"](images=images, labels=labels)
        try:
            s["decode"](latent=latent, labels=tf.constant([0, 1, 2, 3]))
            refused = False
        except tf.errors.InvalidArgumentError as error:
            refused = "labels must be < num_classes=3" in str(error)
        result = {{
            "names": sorted(s.keys()),
            "inputs": {{name: sorted(s[name].structured_input_signature[1]) for name in s.keys()}},
            "generate": s["generate"](latent=latent, labels=labels)["images"].numpy().tolist(),
            "decode": s["decode"](latent=latent, labels=labels)["images"].numpy().tolist(),
            "z_mean": encoded["z_mean"].numpy().tolist(),
            "reconstruct": s["reconstruct"](images=images, labels=labels)["images"].numpy().tolist(),
            "sample": s["sample"](num_samples=tf.constant(4), seed=tf.constant(9))["images"].numpy().tolist(),
            "sample_labels": s["sample_labels"](labels=tf.constant([2, 2, 0]), seed=tf.constant(5))["images"]
            .numpy().tolist(),
            "png": len(s["generate_png"](latent=latent, labels=labels)["images_bytes"].numpy()),
            "refused": refused,
        }}
        print(json.dumps(result))
    """
    result = json.loads(run_python_without_tfgen(code).stdout.strip().splitlines()[-1])
    names = [endpoint.name for endpoint in model.serving_endpoints()]
    assert result["names"] == sorted(names + ["serving_default"])
    assert {"sample_labels", "decode", "encode", "reconstruct"} <= set(names)
    assert result["inputs"]["decode"] == ["labels", "latent"] and result["inputs"]["encode"] == ["images", "labels"]
    assert result["inputs"]["sample_labels"] == ["labels", "seed"]
    np.testing.assert_allclose(result["generate"], model.generate_from_latents(latent, labels[:4]), atol=1e-5)
    np.testing.assert_allclose(result["decode"], model.decode(latent, labels[:4]), atol=1e-5)
    np.testing.assert_allclose(result["z_mean"], model.encode(images[:4], labels[:4])[0], atol=1e-5)
    np.testing.assert_allclose(result["reconstruct"], model.reconstruct(images[:4], labels[:4]), atol=1e-5)
    np.testing.assert_allclose(result["sample"], model.generate(4, seed=9), atol=1e-5)
    np.testing.assert_allclose(result["sample_labels"], model.generate(3, seed=5, labels=[2, 2, 0]), atol=1e-5)
    assert result["png"] == 4 and result["refused"]
