"""Behaviour of tfgen.models.gan.GAN: steps, losses, EMA, conditioning, saving, NaN handling."""

import os
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import losses
from tfgen import random as tfgen_random
from tfgen.data.mixtures import sample_mixture
from tfgen.models import gan_networks
from tfgen.callbacks import StopOnNonFiniteLoss
from tfgen.models.gan import GAN
from tests.helpers import REPO_ROOT, random_images

IMAGE_SHAPE = (28, 28, 1)


def _points(num_points=64, seed=0):
    return sample_mixture("ring8", num_points, seed=seed)[0]


def _dataset(examples, labels=None, batch_size=16):
    data = examples if labels is None else (examples, labels)
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)


def _vector_gan(**kwargs):
    kwargs.setdefault("seed", 0)
    return GAN(input_shape=(2,), latent_dim=4, hidden_units=(8,), **kwargs)


def _image_gan(**kwargs):
    kwargs.setdefault("seed", 0)
    return GAN(input_shape=IMAGE_SHAPE, latent_dim=8, base_filters=4, **kwargs)


def _values(variables):
    return [np.array(v.numpy()) for v in variables]


def _assert_all_equal(before, after):
    assert len(before) == len(after)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def _assert_some_differ(before, after):
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))


# ----------------------------------------------------------------- train_step
@pytest.mark.parametrize("loss", sorted(losses.GAN_LOSSES))
def test_fit_returns_the_metric_keys(loss):
    gan = _vector_gan()
    gan.compile(loss=loss)
    history = gan.fit(_dataset(_points(32)), epochs=1, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "real_accuracy", "fake_accuracy"}
    assert [m.name for m in gan.metrics] == ["d_loss", "g_loss", "real_accuracy", "fake_accuracy"]
    assert all(np.isfinite(v[0]) for v in history.history.values())


def test_penalties_add_their_keys_and_evaluate_reports_the_same_keys():
    gan = _vector_gan()
    gan.compile(loss="wasserstein", gradient_penalty=10.0, r1_penalty=1.0)
    history = gan.fit(_dataset(_points(32)), epochs=1, verbose=0)
    keys = {"d_loss", "g_loss", "gradient_penalty", "r1_penalty", "real_accuracy", "fake_accuracy"}
    assert set(history.history) == keys
    weights = gan.get_weights()
    assert set(gan.evaluate(_dataset(_points(32)), verbose=0, return_dict=True)) == keys
    _assert_all_equal(weights, gan.get_weights())  # test_step updates nothing


def test_discriminator_loss_is_the_flavour_plus_weighted_penalties():
    gan = _vector_gan()
    gan.compile(loss="hinge", gradient_penalty=3.0, r1_penalty=4.0, d_optimizer=keras.optimizers.SGD(0.0))
    results = gan.discriminator_step(_points(8), noise_step=0)
    expected = (
        losses.hinge_discriminator_loss(results["real_logits"], results["fake_logits"])
        + 3.0 * results["gradient_penalty"]
        + 0.5 * 4.0 * results["r1_penalty"]
    )
    np.testing.assert_allclose(results["d_loss"], expected, rtol=1e-6)
    assert results["d_loss"].shape == (8,)
    # R1 equals the loss function applied to the discriminator directly.
    r1 = losses.r1_penalty(lambda x: gan.discriminator(x, training=True), tf.constant(_points(8)))
    np.testing.assert_allclose(results["r1_penalty"], r1, rtol=1e-5)


def test_generator_loss_is_the_flavour():
    gan = _vector_gan()
    gan.compile(loss="least_squares", g_optimizer=keras.optimizers.SGD(0.0))
    results = gan.generator_step(8, noise_step=0)
    np.testing.assert_allclose(
        results["g_loss"], losses.least_squares_generator_loss(results["fake_logits"]), rtol=1e-6
    )


@pytest.mark.parametrize("loss, bias, real_accuracy", [("hinge", 0.3, 1.0), ("least_squares", 0.3, 0.0)])
def test_accuracies_use_the_loss_threshold(loss, bias, real_accuracy):
    # A constant discriminator: logit = bias for every example.
    points = keras.Input((2,))
    constant = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(bias))
    gan = GAN(discriminator=keras.Model(points, constant(points)), input_shape=(2,), latent_dim=4, hidden_units=(4,))
    gan.compile(loss=loss)
    results = gan.evaluate(_dataset(_points(8)), verbose=0, return_dict=True)
    assert results["real_accuracy"] == real_accuracy  # real when logit > 0 (hinge) or > 0.5 (least squares)
    assert results["fake_accuracy"] == 1.0 - real_accuracy


def test_discriminator_step_changes_only_the_discriminator():
    gan = _image_gan(spectral_norm=True)  # batch norm in G, spectral norm in D
    gan.compile()
    g_before, d_before = _values(gan.generator.variables), _values(gan.discriminator.trainable_variables)
    gan.discriminator_step(random_images(4, IMAGE_SHAPE), noise_step=0)
    _assert_all_equal(g_before, _values(gan.generator.variables))  # batch-norm statistics included
    _assert_some_differ(d_before, _values(gan.discriminator.trainable_variables))
    assert int(gan.d_optimizer.iterations) == 1 and int(gan.g_optimizer.iterations) == 0


def test_generator_step_changes_only_the_generator():
    gan = _image_gan(spectral_norm=True)
    gan.compile()
    g_before = _values(gan.generator.trainable_variables)
    statistics_before = _values(gan.generator.non_trainable_variables)
    d_before = _values(gan.discriminator.variables)  # spectral-norm vectors included
    gan.generator_step(4, noise_step=0)
    _assert_all_equal(d_before, _values(gan.discriminator.variables))
    _assert_some_differ(g_before, _values(gan.generator.trainable_variables))
    _assert_some_differ(statistics_before, _values(gan.generator.non_trainable_variables))
    assert int(gan.d_optimizer.iterations) == 0 and int(gan.g_optimizer.iterations) == 1


@pytest.mark.parametrize("loss, gradient_penalty", [("non_saturating", 0.0), ("wasserstein", 10.0)])
def test_simultaneous_update_matches_a_hand_written_step(loss, gradient_penalty):
    """One forward of G feeds both updates; G's gradient is taken against D before D's update."""
    gan = _vector_gan()
    gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.05), loss=loss,
                gradient_penalty=gradient_penalty, update="simultaneous", ema_decay=0.5)
    generator = keras.models.clone_model(gan.generator)
    generator.set_weights(gan.generator.get_weights())
    discriminator = keras.models.clone_model(gan.discriminator)
    discriminator.set_weights(gan.discriminator.get_weights())
    ema_before = gan.ema_generator.get_weights()
    real = tf.constant(_points(16))

    # By hand, with the model's own noise for step 0.
    latents = tfgen_random.replica_normal(16, (4,), gan.seed, 0, "latent")
    weights = tfgen_random.replica_uniform(16, (), gan.seed, 0, "interpolation")
    with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
        fake = generator(latents, training=True)
        real_logits = tf.reshape(discriminator(real, training=True), [-1])
        fake_logits = tf.reshape(discriminator(fake, training=True), [-1])
        d_loss = gan.gan_loss.discriminator_loss(real_logits, fake_logits)
        if gradient_penalty:
            d_loss += gradient_penalty * losses.gradient_penalty(discriminator, real, fake, weights)
        d_loss = tf.reduce_mean(d_loss)
        g_loss = tf.reduce_mean(gan.gan_loss.generator_loss(fake_logits))
    d_gradients = d_tape.gradient(d_loss, discriminator.trainable_variables)
    g_gradients = g_tape.gradient(g_loss, generator.trainable_variables)
    expected_d = [w.numpy() - 0.1 * g.numpy() for w, g in zip(discriminator.trainable_variables, d_gradients)]
    expected_g = [w.numpy() - 0.05 * g.numpy() for w, g in zip(generator.trainable_variables, g_gradients)]

    logs = gan.fit(_dataset(_points(16)), epochs=1, verbose=0).history
    for expected, actual in zip(expected_d, _values(gan.discriminator.trainable_variables)):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
    for expected, actual in zip(expected_g, _values(gan.generator.trainable_variables)):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logs["d_loss"][0], float(d_loss), rtol=1e-5)
    np.testing.assert_allclose(logs["g_loss"][0], float(g_loss), rtol=1e-5)
    assert int(gan.d_optimizer.iterations) == 1 and int(gan.g_optimizer.iterations) == 1
    for before, average, weight in zip(ema_before, gan.ema_generator.get_weights(), gan.generator.get_weights()):
        np.testing.assert_allclose(average, 0.5 * before + 0.5 * weight, rtol=1e-5, atol=1e-7)


def test_simultaneous_update_differs_from_alternating_and_round_trips(tmp_path):
    def trained(update):
        gan = _vector_gan()
        gan.compile(update=update)
        gan.fit(_two_batches(), epochs=1, verbose=0)
        return gan

    simultaneous, alternating = trained("simultaneous"), trained("alternating")
    _assert_some_differ(alternating.generator.get_weights(), simultaneous.generator.get_weights())
    assert simultaneous.get_compile_config()["update"] == "simultaneous"
    path = os.path.join(tmp_path, "simultaneous.keras")
    simultaneous.save(path)
    restored = keras.models.load_model(path)
    assert restored.update_scheme == "simultaneous"
    assert restored.get_compile_config() == simultaneous.get_compile_config()


def test_d_steps_per_g_step():
    gan = _vector_gan()
    gan.compile(d_steps_per_g_step=2)
    gan.fit(_dataset(_points(48)), epochs=1, verbose=0)  # 3 train steps
    assert int(gan.d_optimizer.iterations) == 6
    assert int(gan.g_optimizer.iterations) == 3
    assert int(gan.step_counter) == 3
    assert gan.optimizer is gan.g_optimizer


def test_training_is_reproducible_from_the_seed():
    def train(seed):
        gan = _vector_gan(seed=seed)
        gan.compile()
        gan.fit(_dataset(_points(32)), epochs=1, verbose=0)
        return gan.get_weights()

    _assert_all_equal(train(3), train(3))
    _assert_some_differ(train(3), train(4))


# ------------------------------------------------------------------------ EMA
def test_ema_update_arithmetic():
    gan = _image_gan()
    gan.compile(ema_decay=0.9)
    assert gan.ema_generator is not None and not gan.ema_generator.trainable
    assert not any(id(v) in {id(w) for w in gan.ema_generator.weights} for v in gan.trainable_variables)
    _assert_all_equal(_values(gan.generator.weights), _values(gan.ema_generator.weights))
    ema_before = _values(gan.ema_generator.weights)
    gan.generator_step(4, noise_step=0)
    for before, average, weight in zip(ema_before, gan.ema_generator.weights, gan.generator.weights):
        if weight.trainable:
            expected = np.float32(0.9) * before + np.float32(1.0 - 0.9) * weight.numpy()
        else:  # batch-norm statistics are copied
            expected = weight.numpy()
        np.testing.assert_allclose(average.numpy(), expected, rtol=1e-6, atol=1e-7)
    # generate uses the EMA generator (now different from the raw one).
    np.testing.assert_array_equal(
        gan.generate(2, seed=1), gan.ema_generator(gan.sample_latents(2, seed=1), training=False)
    )
    assert not np.allclose(gan.generate(2, seed=1), gan.generate(2, seed=1, use_ema=False))


def test_generate_is_reproducible_and_in_range():
    gan = _image_gan()
    images = gan.generate(3, seed=5).numpy()
    assert images.shape == (3,) + IMAGE_SHAPE and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, gan.generate(3, seed=5))
    assert not np.allclose(images, gan.generate(3, seed=6))
    np.testing.assert_array_equal(gan.generate(3), gan.generate(3, seed=gan.seed))
    assert gan.sample_latents(5, seed=1).shape == (5, 8)
    # Batched generation equals one call (up to batch-size-dependent rounding).
    np.testing.assert_allclose(gan.generate(5, seed=2, batch_size=2), gan.generate(5, seed=2), atol=1e-6)


# --------------------------------------------------------------- conditional
def test_conditional_gan():
    gan = _image_gan(num_classes=3)
    gan.compile()
    images = random_images(8, IMAGE_SHAPE)
    labels = np.arange(8) % 3
    history = gan.fit(_dataset(images, labels, batch_size=4), epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])
    zeros = gan.generate(4, seed=1, labels=[0, 0, 0, 0]).numpy()
    twos = gan.generate(4, seed=1, labels=np.array([2, 2, 2, 2])).numpy()
    assert zeros.shape == (4,) + IMAGE_SHAPE
    assert not np.allclose(zeros, twos)  # same noise, different labels
    # Default labels cycle through the classes.
    np.testing.assert_array_equal(gan.generate(4, seed=1), gan.generate(4, seed=1, labels=[0, 1, 2, 0]))
    # Each example depends on its own label only.
    mixed = gan.generate(4, seed=1, labels=[0, 2, 0, 2]).numpy()
    np.testing.assert_allclose(mixed[[0, 2]], zeros[[0, 2]], atol=1e-6)
    np.testing.assert_allclose(mixed[[1, 3]], twos[[1, 3]], atol=1e-6)


@pytest.mark.parametrize(
    "labels, message",
    [
        ([0, 3], "labels in [0, 2] (num_classes=3), got values from 0 to 3"),
        ([-1, 0], "labels in [0, 2]"),
        ([0, 1, 2], "shape (2,)"),
        ([0.5, 1.0], "ints of shape (2,)"),
    ],
)
def test_conditional_generate_validates_labels(labels, message):
    gan = _vector_gan(num_classes=3)
    with pytest.raises(ValueError) as error:
        gan.generate(2, labels=labels)
    assert message in str(error.value)


def test_label_misuse():
    with pytest.raises(ValueError, match="unconditional"):
        _vector_gan().generate(2, labels=[0, 1])
    gan = _vector_gan(num_classes=3)
    gan.compile()
    with pytest.raises(ValueError, match=r"batches must be \(examples, labels\)"):
        gan.fit(_dataset(_points(16)), epochs=1, verbose=0)


# ------------------------------------------------------------- user networks
def _user_networks(latent_dim=100, shape=(2,)):
    latent = keras.Input((latent_dim,))
    generator = keras.Model(latent, keras.layers.Dense(shape[0])(keras.layers.Dense(8, activation="relu")(latent)))
    points = keras.Input(shape)
    discriminator = keras.Model(points, keras.layers.Dense(1)(keras.layers.Dense(8, activation="relu")(points)))
    return generator, discriminator


def test_user_networks():
    generator, discriminator = _user_networks()
    gan = GAN(generator=generator, discriminator=discriminator, latent_dim=100, seed=0)
    assert gan.data_shape == (2,)
    gan.compile(ema_decay=0.5)
    history = gan.fit(_dataset(_points(32)), epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][0])
    assert gan.generate(3, seed=0).shape == (3, 2)
    # Only one network given: the other is built for the same shape.
    assert GAN(generator=_user_networks()[0], latent_dim=100, hidden_units=(4,)).discriminator.input_shape == (None, 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"latent_dim": 64}, "takes latent vectors of size 100 but latent_dim=64; pass latent_dim=100"),
        ({"latent_dim": 100, "shape_d": (3,)}, "generator outputs examples of shape (2,) but the discriminator"),
        ({"latent_dim": 100, "bad_logits": True}, "one logit per example"),
    ],
)
def test_user_networks_are_validated(kwargs, message):
    generator, discriminator = _user_networks()
    if "shape_d" in kwargs:
        discriminator = _user_networks(shape=kwargs.pop("shape_d"))[1]
    if kwargs.pop("bad_logits", False):
        points = keras.Input((2,))
        discriminator = keras.Model(points, keras.layers.Dense(3)(points))
    with pytest.raises(ValueError) as error:
        GAN(generator=generator, discriminator=discriminator, **kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (30, 30, 1)}, "Supported shapes: (16, 16, C), (28, 28, C), (32, 32, C), (64, 64, C)"),
        ({"input_shape": (28, 32, 1)}, "Unsupported data shape (28, 32, 1)"),
        ({"latent_dim": 0}, "latent_dim to be a positive int, got 0"),
        ({"num_classes": 1}, "num_classes to be None or an int >= 2, got 1"),
        ({"seed": -1}, "non-negative int, got -1"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError) as error:
        GAN(**kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loss": "vanilla"}, "Unknown loss 'vanilla'. Valid losses: ['hinge', 'least_squares', 'minimax'"),
        ({"gradient_penalty": -1.0}, "gradient_penalty to be a non-negative number, got -1.0"),
        ({"d_steps_per_g_step": 0}, "d_steps_per_g_step to be a positive int, got 0"),
        ({"ema_decay": 1.0}, "ema_decay to be None or a number in [0, 1), got 1.0"),
        ({"optimizer": "adam"}, "use d_optimizer and g_optimizer"),
        ({"metrics": ["accuracy"]}, "does not take metrics"),
        ({"update": "staggered"}, "Unknown update 'staggered'. Valid updates: ['alternating', 'simultaneous']"),
        ({"update": "simultaneous", "d_steps_per_g_step": 2}, "needs d_steps_per_g_step=1, got 2"),
    ],
)
def test_bad_compile_arguments(kwargs, message):
    with pytest.raises(ValueError) as error:
        _vector_gan().compile(**kwargs)
    assert message in str(error.value)


def test_shared_optimizer_is_rejected():
    optimizer = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="different optimizer instances"):
        _vector_gan().compile(d_optimizer=optimizer, g_optimizer=optimizer)


def test_networks_for_every_supported_shape():
    for shape in [(16, 16, 1), (28, 28, 1), (32, 32, 3), (64, 64, 3)]:
        generator = gan_networks.make_generator(shape, 4, num_classes=2, base_filters=2)
        discriminator = gan_networks.make_discriminator(shape, num_classes=2, spectral_norm=True, base_filters=2)
        images = generator([tf.zeros((2, 4)), tf.constant([0, 1])])
        assert images.shape == (2,) + shape
        assert discriminator([images, tf.constant([0, 1])]).shape == (2, 1)


# ------------------------------------------------------------- serialisation
def test_seed_fixes_every_initial_weight():
    make = lambda seed: _image_gan(seed=seed, num_classes=2, spectral_norm=True, dropout=0.1)
    first, second = make(4), make(4)
    _assert_all_equal(_values(first.variables), _values(second.variables))  # spectral-norm vectors too
    _assert_some_differ(first.discriminator.get_weights(), make(5).discriminator.get_weights())


def test_seed_is_drawn_and_stored():
    gan = _vector_gan(seed=None)
    assert isinstance(gan.seed, int) and gan.get_config()["seed"] == gan.seed
    np.testing.assert_array_equal(
        GAN.from_config(gan.get_config()).generator.get_weights()[0], gan.generator.get_weights()[0]
    )


def test_get_config_round_trip():
    gan = _image_gan(num_classes=3, spectral_norm=True, dropout=0.25)
    config = gan.get_config()
    clone = GAN.from_config(config)
    assert clone.get_config() == config
    assert clone.data_shape == IMAGE_SHAPE and clone.num_classes == 3
    # Built-in networks are seeded from the model seed: same initial weights.
    np.testing.assert_array_equal(clone.generate(2, seed=0), gan.generate(2, seed=0))


def _two_batches():
    points = _points(32, seed=1)
    return _dataset(points, batch_size=16)


def test_keras_round_trip_restores_optimizers_ema_and_counter(tmp_path):
    def make():
        gan = _vector_gan(num_classes=None)
        gan.compile(
            d_optimizer=keras.optimizers.Adam(1e-3),
            g_optimizer=keras.optimizers.RMSprop(1e-3),
            loss="wasserstein",
            gradient_penalty=5.0,
            d_steps_per_g_step=2,
            ema_decay=0.8,
        )
        return gan

    uninterrupted = make()
    uninterrupted.fit(_two_batches(), epochs=2, verbose=0)

    gan = make()
    gan.fit(_two_batches(), epochs=1, verbose=0)
    path = os.path.join(tmp_path, "gan.keras")
    gan.save(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restored = keras.models.load_model(path)
    messages = [str(w.message) for w in caught]
    assert not any("Skipping variable loading" in m or "compile()" in m for m in messages), messages

    assert isinstance(restored, GAN)
    assert restored.get_compile_config() == gan.get_compile_config()
    assert isinstance(restored.g_optimizer, keras.optimizers.RMSprop) and restored.optimizer is restored.g_optimizer
    assert int(restored.step_counter) == 2
    assert int(restored.d_optimizer.iterations) == 4 and int(restored.g_optimizer.iterations) == 2
    _assert_all_equal(_values(gan.d_optimizer.variables), _values(restored.d_optimizer.variables))
    _assert_all_equal(_values(gan.g_optimizer.variables), _values(restored.g_optimizer.variables))
    _assert_all_equal(gan.ema_generator.get_weights(), restored.ema_generator.get_weights())
    _assert_all_equal(gan.get_weights(), restored.get_weights())
    np.testing.assert_array_equal(gan.generate(5, seed=3), restored.generate(5, seed=3))

    restored.fit(_two_batches(), epochs=1, verbose=0)
    for expected, actual in zip(uninterrupted.get_weights(), restored.get_weights()):
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-7)
    _assert_all_equal(_values(uninterrupted.d_optimizer.variables), _values(restored.d_optimizer.variables))


def test_conditional_image_gan_keras_round_trip(tmp_path):
    gan = _image_gan(num_classes=2, spectral_norm=True)
    gan.compile(ema_decay=0.9, r1_penalty=1.0)
    gan.fit(_dataset(random_images(4, IMAGE_SHAPE), np.array([0, 1, 0, 1]), batch_size=4), epochs=1, verbose=0)
    path = os.path.join(tmp_path, "gan.keras")
    gan.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(gan.generate(2, seed=0, labels=[1, 0]), restored.generate(2, seed=0, labels=[1, 0]))
    _assert_all_equal(gan.get_weights(), restored.get_weights())


# ---------------------------------------------------------------- NaN / Inf
def test_non_finite_discriminator_loss_skips_the_update_and_stops_training(tmp_path, capsys):
    good = _points(16)
    bad = good.copy()
    bad[3] = np.nan
    data = tf.data.Dataset.from_tensor_slices(np.concatenate([good, bad])).batch(16)

    reference = _vector_gan()
    reference.compile()
    reference.fit(_dataset(good), epochs=1, verbose=0)

    gan = _vector_gan()
    gan.compile()
    checkpoint = os.path.join(tmp_path, "last.weights.h5")
    with pytest.warns(RuntimeWarning, match="d_loss became nan at epoch 0 batch 1"):
        history = gan.fit(
            data,
            epochs=3,
            verbose=0,
            callbacks=[keras.callbacks.ModelCheckpoint(checkpoint, save_weights_only=True)],
        )
    assert "d_loss became nan at epoch 0 batch 1" in capsys.readouterr().out
    assert len(history.history["d_loss"]) == 1  # stopped during the first epoch
    assert int(gan.d_optimizer.iterations) == 1  # the NaN step was skipped
    _assert_all_equal(reference.discriminator.get_weights(), gan.discriminator.get_weights())
    assert all(np.all(np.isfinite(w)) for w in gan.get_weights())
    restored = _vector_gan()
    restored.compile()
    restored.load_weights(checkpoint)
    _assert_all_equal(gan.get_weights(), restored.get_weights())


def test_non_finite_generator_loss_skips_the_update():
    gan = _image_gan()
    gan.compile(ema_decay=0.5)
    gan.gan_loss = losses.GANLoss(losses.hinge_discriminator_loss, lambda logits: logits[:, 0] * np.inf)
    before = _values(gan.generator.variables)
    ema_before = gan.ema_generator.get_weights()
    gan.generator_step(4, noise_step=0)
    _assert_all_equal(before, _values(gan.generator.variables))  # batch-norm statistics too
    _assert_all_equal(ema_before, gan.ema_generator.get_weights())
    assert int(gan.g_optimizer.iterations) == 0


def test_callback_ignores_finite_logs():
    callback = StopOnNonFiniteLoss()
    gan = _vector_gan()
    gan.compile()
    callback.set_model(gan)
    callback.on_train_batch_end(0, {"d_loss": 1.0, "g_loss": np.float32(2.0)})
    assert callback.message is None and not callback.model.stop_training


# -------------------------------------------------------------- distribution
@pytest.mark.slow
def test_two_replicas_match_one_device():
    """Global-batch noise and loss scaling make 2 replicas train exactly like 1 device."""
    code = textwrap.dedent(
        """
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from tfgen.data.mixtures import sample_mixture
        from tfgen.models.gan import GAN

        points = sample_mixture("ring8", 32, seed=0)[0]
        points[20] = np.nan  # second batch: the discriminator update is skipped on both replicas

        labels = np.arange(32) % 3

        def train(strategy, conditional):
            with strategy.scope():
                if conditional == "simultaneous":
                    gan = GAN(input_shape=(2,), latent_dim=4, hidden_units=(8,), seed=3)
                    gan.compile(loss="least_squares", r1_penalty=1.0, ema_decay=0.9, update="simultaneous")
                    data = points
                elif conditional:
                    gan = GAN(input_shape=(2,), latent_dim=4, hidden_units=(8,), num_classes=3,
                              spectral_norm=True, seed=2)
                    gan.compile(loss="hinge", r1_penalty=1.0, ema_decay=0.9)
                    data = (points[:16], labels[:16])
                else:
                    gan = GAN(input_shape=(2,), latent_dim=4, hidden_units=(8,), seed=1)
                    gan.compile(loss="wasserstein", gradient_penalty=10.0, d_steps_per_g_step=2, ema_decay=0.9)
                    data = points
            gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(16), epochs=1, verbose=0)
            return gan

        # One strategy object: a second MirroredStrategy in the same process
        # reuses collective keys and TF aborts on the shape mismatch.
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        for conditional in (False, True, "simultaneous"):
            single = train(tf.distribute.get_strategy(), conditional)
            mirrored = train(strategy, conditional)
            if conditional is False:
                assert int(mirrored.d_optimizer.iterations.numpy()) == 2, mirrored.d_optimizer.iterations.numpy()
            for a, b in zip(single.get_weights(), mirrored.get_weights()):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        print("OK")
        """
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO_ROOT)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]


def test_a_train_step_checks_its_batch_once(monkeypatch):
    gan = _vector_gan()
    gan.compile(d_steps_per_g_step=3)
    calls = []
    original = GAN.unpack_batch

    def counting(self, data):
        calls.append(1)
        return original(self, data)

    monkeypatch.setattr(GAN, "unpack_batch", counting)
    gan.train_step(tf.constant(_points(16)))
    assert len(calls) == 1
