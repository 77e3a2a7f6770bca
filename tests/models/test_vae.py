"""Behaviour of tfgen.VAE: shapes, losses, likelihood estimates, serialisation, resume."""

import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfgen
from tfgen import losses
from tests.helpers import digits_images, random_images, weights_equal


def _dataset(images, batch_size=32):
    return tf.data.Dataset.from_tensor_slices(images).batch(batch_size)


@pytest.mark.parametrize(
    "shape, architecture",
    [((28, 28, 1), "conv"), ((32, 32, 3), "conv"), ((64, 64, 3), "conv"), ((8, 8, 1), "mlp")],
)
def test_shapes(shape, architecture):
    vae = tfgen.VAE(input_shape=shape, latent_dim=6, architecture=architecture, base_filters=8, hidden_units=32, seed=0)
    images = random_images(3, shape)
    z_mean, z_log_var = vae.encode(images)
    assert z_mean.shape == (3, 6) and z_log_var.shape == (3, 6)
    decoded = vae.decode(z_mean).numpy()
    assert decoded.shape == (3,) + shape
    assert decoded.min() >= -1.0 and decoded.max() <= 1.0
    assert vae.reconstruct(images).shape == (3,) + shape
    assert vae.generate(5, seed=1).shape == (5,) + shape


def test_generate_is_reproducible_from_the_seed():
    vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, base_filters=8, seed=3)
    np.testing.assert_array_equal(vae.generate(4, seed=7), vae.generate(4, seed=7))
    assert not np.allclose(vae.generate(4, seed=7), vae.generate(4, seed=8))
    np.testing.assert_array_equal(vae.generate(4), vae.generate(4, seed=3))


def test_seed_fixes_initial_weights():
    make = lambda seed: tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, base_filters=8, seed=seed)
    assert weights_equal(make(4), make(4))
    assert not weights_equal(make(4), make(5))


def test_user_networks():
    encoder_input = keras.Input((10, 10, 2))
    hidden = keras.layers.Dense(8)(keras.layers.Flatten()(encoder_input))
    encoder = keras.Model(encoder_input, [keras.layers.Dense(3)(hidden), keras.layers.Dense(3)(hidden)])
    decoder_input = keras.Input((3,))
    decoder = keras.Model(decoder_input, keras.layers.Reshape((10, 10, 2))(keras.layers.Dense(200)(decoder_input)))
    vae = tfgen.VAE(encoder=encoder, decoder=decoder, latent_dim=3, seed=0)
    assert vae.image_shape == (10, 10, 2)
    vae.compile(optimizer="adam")
    history = vae.fit(_dataset(random_images(16, (10, 10, 2)), 8), epochs=1, verbose=0)
    assert set(history.history) == {"loss", "reconstruction_loss", "kl_loss"}
    assert tfgen.VAE.from_config(vae.get_config()).generate(2, seed=0).shape == (2, 10, 10, 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"likelihood": "poisson"}, "Valid likelihoods: ['bernoulli', 'discretized_logistic', 'gaussian', 'gaussian_per_pixel']"),
        ({"architecture": "resnet"}, "Valid architectures: ['conv', 'mlp']"),
        ({"latent_dim": 0}, "latent_dim to be a positive int, got 0"),
        ({"beta": -1.0}, "beta to be a non-negative number, got -1.0"),
        ({"input_shape": (7, 7, 1)}, "architecture='mlp'"),
        ({"input_shape": (28, 28)}, "(height, width, channels)"),
        ({"seed": -5}, "non-negative int, got -5"),
        ({"observation_std": 0.0, "likelihood": "gaussian"}, "observation_std"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError) as error:
        tfgen.VAE(**kwargs)
    assert message in str(error.value)


def test_mismatched_networks():
    encoder = tfgen.models.make_encoder((16, 16, 1), 4)
    with pytest.raises(ValueError, match="both encoder and decoder"):
        tfgen.VAE(encoder=encoder, latent_dim=4)
    with pytest.raises(ValueError, match=r"z_mean to have shape \(batch, 5\)"):
        tfgen.VAE(encoder=encoder, decoder=tfgen.models.make_decoder((16, 16, 1), 5), latent_dim=5)
    with pytest.raises(ValueError, match=r"decoder to output images of shape \(16, 16, 1\)"):
        tfgen.VAE(encoder=encoder, decoder=tfgen.models.make_decoder((32, 32, 1), 4), latent_dim=4)


def test_bad_inference_inputs():
    vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, base_filters=8, seed=0)
    with pytest.raises(ValueError, match=r"shape \(batch, 16, 16, 1\), got \(2, 16, 16\)"):
        vae.encode(np.zeros((2, 16, 16), "float32"))
    with pytest.raises(ValueError, match="dtype uint8"):
        vae.encode(np.zeros((2, 16, 16, 1), "uint8"))
    with pytest.raises(ValueError, match=r"latent vectors of shape \(batch, 4\), got \(2, 3\)"):
        vae.decode(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="positive int, got 0"):
        vae.generate(0)


def test_kl_matches_monte_carlo():
    rng = np.random.default_rng(0)
    z_mean = rng.normal(size=(3, 4)).astype("float64")
    z_log_var = rng.normal(scale=0.5, size=(3, 4)).astype("float64")
    analytic = losses.kl_divergence(z_mean, z_log_var).numpy()
    draws = 200_000
    z = z_mean + np.exp(0.5 * z_log_var) * rng.normal(size=(draws, 3, 4))
    log_ratio = (
        losses.gaussian_log_density(z, z_mean, z_log_var) - losses.standard_normal_log_density(z)
    ).numpy()
    estimate = log_ratio.mean(axis=0)
    standard_error = log_ratio.std(axis=0) / np.sqrt(draws)
    np.testing.assert_array_less(np.abs(estimate - analytic), 4 * standard_error + 1e-9)
    assert np.all(analytic > 0)


def test_reconstruction_losses_by_hand():
    images = np.array([[[[1.0], [-1.0]]]], "float32")  # [1, 1, 2, 1]: pixels 1 and 0
    logits = np.array([[[[0.0], [2.0]]]], "float32")
    expected = np.log(2.0) + (2.0 + np.log1p(np.exp(-2.0)))  # -log sigmoid(0) - log(1 - sigmoid(2))
    np.testing.assert_allclose(losses.bernoulli_reconstruction_loss(images, logits), [expected], rtol=1e-6)
    mean = np.zeros_like(images)
    expected = 2 * (0.5 * np.log(2 * np.pi)) + 0.5 * (1 + 1)  # two pixels at distance 1, sigma = 1
    np.testing.assert_allclose(losses.gaussian_reconstruction_loss(images, mean, 0.0), [expected], rtol=1e-6)


@pytest.fixture(scope="module")
def trained_digits_vae():
    images = digits_images()
    vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=8, architecture="mlp", hidden_units=128, seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(2e-3))
    train = tf.data.Dataset.from_tensor_slices(images[:1500]).shuffle(1500, seed=0).batch(50)
    before = vae.evaluate(_dataset(images[1500:], 100), verbose=0, return_dict=True)
    history = vae.fit(train, epochs=10, verbose=0)  # 300 steps
    after = vae.evaluate(_dataset(images[1500:], 100), verbose=0, return_dict=True)
    return vae, images[1500:], before, after, history


def test_loss_falls_on_digits(trained_digits_vae):
    vae, _, before, after, history = trained_digits_vae
    assert vae.optimizer.iterations.numpy() == 300
    assert after["loss"] < 0.5 * before["loss"], (before, after)
    losses_per_epoch = history.history["loss"]
    assert losses_per_epoch[-1] < losses_per_epoch[0]
    assert after["kl_loss"] > 0.1  # the posterior is used, not collapsed to the prior
    np.testing.assert_allclose(after["loss"], after["reconstruction_loss"] + after["kl_loss"], rtol=1e-5)


def test_iwae_bound_rises_with_k(trained_digits_vae):
    vae, test_images, _, _, _ = trained_digits_vae
    images = test_images[:100]
    elbo = vae.elbo(images, seed=1)
    np.testing.assert_array_equal(elbo, vae.log_likelihood(images, num_samples=1, seed=1))
    estimates = [vae.log_likelihood(images, num_samples=k, seed=1).mean() for k in (1, 10, 100)]
    assert estimates[0] < estimates[1] < estimates[2], estimates
    # The ELBO averaged over many draws is below the k=100 bound.
    mean_elbo = np.mean([vae.elbo(images, seed=s).mean() for s in range(5)])
    assert mean_elbo < estimates[2]
    # Chunking over images and draws does not change the estimate.
    np.testing.assert_allclose(
        vae.log_likelihood(images[:10], num_samples=30, seed=2, batch_size=7),
        vae.log_likelihood(images[:10], num_samples=30, seed=2, batch_size=7),
    )


def test_gaussian_likelihood_learns_its_scale():
    images = digits_images(256)
    vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, likelihood="gaussian", architecture="mlp", hidden_units=64, seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    vae.fit(_dataset(images, 64), epochs=3, verbose=0)
    assert vae.log_scale.numpy() < 0.0  # learned sigma shrinks below its initial 1.0
    fixed = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, likelihood="gaussian", observation_std=0.1, architecture="mlp", seed=0)
    assert all(v is not fixed.log_scale for v in fixed.trainable_variables)
    np.testing.assert_allclose(fixed.log_scale.numpy(), np.log(0.1), rtol=1e-6)


def test_config_round_trip():
    vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=5, likelihood="gaussian", beta=0.5, base_filters=8, seed=11)
    clone = tfgen.VAE.from_config(vae.get_config())
    assert clone.get_config() == vae.get_config()
    assert (clone.latent_dim, clone.likelihood, clone.beta, clone.seed) == (5, "gaussian", 0.5, 11)
    assert keras.saving.get_registered_name(tfgen.VAE) == "tfgen>VAE"


def test_save_reload_and_resume_equals_uninterrupted_training(tmp_path):
    images = digits_images(64)
    data = _dataset(images, 16)  # the same 4 batches every epoch

    def make():
        vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, base_filters=8, hidden_units=32, seed=5)
        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
        return vae

    uninterrupted = make()
    uninterrupted.fit(data, epochs=2, verbose=0)

    interrupted = make()
    interrupted.fit(data, epochs=1, verbose=0)
    path = str(tmp_path / "vae.keras")
    interrupted.save(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reloaded = keras.models.load_model(path)
    assert not [w for w in caught if "optimizer" in str(w.message).lower()], [str(w.message) for w in caught]
    assert isinstance(reloaded, tfgen.VAE)
    assert reloaded.optimizer.iterations.numpy() == 4
    np.testing.assert_array_equal(reloaded.generate(3, seed=1), interrupted.generate(3, seed=1))
    np.testing.assert_array_equal(reloaded.reconstruct(images[:3]), interrupted.reconstruct(images[:3]))
    reloaded.fit(data, epochs=1, verbose=0)
    assert weights_equal(reloaded, uninterrupted, atol=1e-6)
    assert not weights_equal(interrupted, uninterrupted, atol=1e-6)


def test_standard_callbacks(tmp_path):
    images = digits_images(64)
    vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, architecture="mlp", hidden_units=32, seed=0)
    vae.compile(optimizer="adam")
    callbacks = [
        keras.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="val_loss", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=1),
        keras.callbacks.TensorBoard(str(tmp_path / "logs")),
        keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
    ]
    history = vae.fit(_dataset(images, 16), validation_data=_dataset(images, 32), epochs=2, callbacks=callbacks, verbose=0)
    assert {"val_loss", "val_reconstruction_loss", "val_kl_loss"} <= set(history.history)
    assert isinstance(keras.models.load_model(str(tmp_path / "best.keras")), tfgen.VAE)
    assert os.listdir(tmp_path / "logs")


def test_a_vae_saved_before_step_counters_still_loads():
    # Written by tfgen at commit 594e17e: a gaussian VAE (learned log_scale), Adam(1e-2), 2 steps on digits.
    path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "vae_written_before_step_counters.keras")
    with pytest.warns(UserWarning, match="saved by a tfgen without a step counter"):
        vae = keras.models.load_model(path)
    assert isinstance(vae, tfgen.VAE) and int(vae.step_counter.numpy()) == 0
    np.testing.assert_allclose(vae.log_scale.numpy(), -0.019885229, rtol=1e-6)
    assert int(vae.optimizer.iterations.numpy()) == 2
    np.testing.assert_allclose(float(np.sum(vae.decode(np.zeros((1, 3), "float32")))), -4.228532, rtol=1e-5)
    vae.fit(digits_images(16), batch_size=16, epochs=1, verbose=0)  # trains on from there
    assert int(vae.step_counter.numpy()) == 1 and int(vae.optimizer.iterations.numpy()) == 3
