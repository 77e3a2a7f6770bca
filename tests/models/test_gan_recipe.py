"""The modern GAN recipe on tfgen.GAN: relativistic loss, R2, DiffAugment, adaptive augmentation, EMA ramp-up.

The networks themselves are specified in ``test_gan_networks.py``; the
losses against hand-worked values in ``tests/test_losses_gan.py``; replica
invariance of the whole recipe in the contract suite
(the ``gan_modern`` family of ``tests/models/test_contract.py``).
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import augment as tfgen_augment
from tfgen import losses
from tfgen.models.gan import GAN
from tests.helpers import random_images

SHAPE = (16, 16, 1)


def _gan(**kwargs):
    kwargs.setdefault("seed", 0)
    kwargs.setdefault("architecture", "resnet")
    return GAN(input_shape=SHAPE, latent_dim=8, base_filters=4, **kwargs)


def _dataset(images, batch_size=8):
    return tf.data.Dataset.from_tensor_slices(images).batch(batch_size)


def test_relativistic_generator_loss_pairs_each_fake_with_a_real_example():
    gan = _gan()
    gan.compile(loss="relativistic", g_optimizer=keras.optimizers.SGD(0.0))
    real = random_images(4, SHAPE, seed=1)
    results = gan.generator_step(4, noise_step=0, real_examples=real)
    real_logits = tf.reshape(gan.discriminator(real, training=True), [-1])
    np.testing.assert_allclose(
        results["g_loss"], losses.relativistic_generator_loss(results["fake_logits"], real_logits), rtol=1e-5
    )
    with pytest.raises(ValueError, match="pass real_examples"):
        gan.generator_step(4, noise_step=0)


def test_r2_penalty_is_weighted_into_the_discriminator_loss_and_reported():
    gan = _gan()
    gan.compile(loss="relativistic", r1_penalty=2.0, r2_penalty=3.0, d_optimizer=keras.optimizers.SGD(0.0))
    results = gan.discriminator_step(random_images(4, SHAPE), noise_step=0)
    expected = (
        losses.relativistic_discriminator_loss(results["real_logits"], results["fake_logits"])
        + 0.5 * 2.0 * results["r1_penalty"]
        + 0.5 * 3.0 * results["r2_penalty"]
    )
    np.testing.assert_allclose(results["d_loss"], expected, rtol=1e-5)
    assert np.all(results["r2_penalty"].numpy() > 0)
    history = gan.fit(_dataset(random_images(16, SHAPE)), epochs=1, verbose=0)
    assert {"r1_penalty", "r2_penalty"} <= set(history.history)


@pytest.mark.parametrize("noise_step, eager_weight", [(8, 4 * 0.5), (9, 0.0)])
def test_lazy_penalties_apply_on_one_update_in_the_interval_weighted_up(noise_step, eager_weight):
    images = random_images(8, SHAPE, seed=3)
    lazy, eager = _gan(), _gan()
    lazy.compile(loss="relativistic", r1_penalty=0.5, r2_penalty=0.5, penalty_interval=4,
                 d_optimizer=keras.optimizers.SGD(0.1))
    eager.compile(loss="relativistic", r1_penalty=eager_weight, r2_penalty=eager_weight,
                  d_optimizer=keras.optimizers.SGD(0.1))
    step = tf.function(lambda model, step: model.discriminator_step(images, noise_step=step))  # inside a graph, as fit runs it
    lazy_results, eager_results = step(lazy, tf.constant(noise_step)), step(eager, tf.constant(noise_step))
    np.testing.assert_allclose(lazy_results["d_loss"], eager_results["d_loss"], rtol=1e-5, atol=1e-6)
    for a, b in zip(lazy.discriminator.get_weights(), eager.discriminator.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert np.all(lazy_results["r1_penalty"].numpy() > 0) == (eager_weight > 0)


def test_a_lazy_penalty_is_logged_as_the_mean_of_the_updates_that_computed_it():
    gan = _gan()
    gan.compile(r1_penalty=1.0, penalty_interval=3, d_optimizer=keras.optimizers.SGD(0.0),
                g_optimizer=keras.optimizers.SGD(0.0))
    history = gan.fit(_dataset(random_images(32, SHAPE), batch_size=8), epochs=1, verbose=0)  # updates 0-3
    computed = [gan.discriminator_step(random_images(32, SHAPE)[8 * i: 8 * i + 8], noise_step=i)["r1_penalty"]
                for i in (0, 3)]
    np.testing.assert_allclose(history.history["r1_penalty"][0], np.mean(computed), rtol=1e-4)
    assert gan.get_compile_config()["penalty_interval"] == 3


def test_the_discriminator_sees_augmented_examples_in_training_only():
    images = random_images(4, SHAPE, seed=2)
    plain, augmented = _gan(), _gan()
    plain.compile(d_optimizer=keras.optimizers.SGD(0.0))
    augmented.compile(augment="translation,cutout", d_optimizer=keras.optimizers.SGD(0.0))
    step = 3
    with_augmentation = augmented.discriminator_step(images, noise_step=step)["real_logits"]
    expected_inputs = tfgen_augment.augment(images, ("translation", "cutout"), augmented.seed, step, "augment_real")
    np.testing.assert_allclose(
        with_augmentation, tf.reshape(augmented.discriminator(expected_inputs, training=True), [-1]), rtol=1e-5
    )
    assert not np.allclose(with_augmentation, plain.discriminator_step(images, noise_step=step)["real_logits"])
    # Evaluation: no augmentation, so both models report the same real accuracy on the same weights.
    assert augmented.evaluate(_dataset(images), verbose=0, return_dict=True) == pytest.approx(
        plain.evaluate(_dataset(images), verbose=0, return_dict=True)
    )


def test_augmentation_at_probability_zero_changes_nothing():
    images = random_images(16, SHAPE, seed=3)
    plain, never = _gan(), _gan()
    plain.compile()
    never.compile(augment="color,translation,cutout", augment_probability=0.0)
    plain.fit(_dataset(images), epochs=1, verbose=0)
    never.fit(_dataset(images), epochs=1, verbose=0)
    for a, b in zip(plain.get_weights(), never.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bias, direction", [(5.0, 1.0), (-5.0, -1.0)])
def test_adaptive_probability_moves_with_the_overfitting_signal(bias, direction):
    # A discriminator that calls every real example real (bias 5: signal 1 > target 0.6)
    # must get more augmentation; one that calls them fake (signal -1) less.
    images_in = keras.Input(SHAPE)
    flat = keras.layers.Flatten()(images_in)
    logit = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(bias))(flat)
    gan = GAN(input_shape=SHAPE, latent_dim=8, base_filters=4, discriminator=keras.Model(images_in, logit), seed=0)
    gan.compile(augment="translation", augment_probability=0.5, ada_target=0.6, ada_images=80,
                d_optimizer=keras.optimizers.SGD(0.0))
    history = gan.fit(_dataset(random_images(16, SHAPE)), epochs=1, verbose=0)
    # Two discriminator updates of 8 images: 2 * 8 / 80 = 0.2.
    np.testing.assert_allclose(float(gan.adaptive_probability.numpy()), 0.5 + direction * 0.2, rtol=1e-6)
    assert "augment_probability" in history.history


def test_adaptive_probability_is_saved_and_restored(tmp_path):
    gan = _gan()
    gan.compile(loss="relativistic", augment="color", augment_probability=0.3, ada_target=0.6, ada_images=40)
    gan.fit(_dataset(random_images(16, SHAPE)), epochs=1, verbose=0)
    probability = float(gan.adaptive_probability.numpy())
    assert probability != pytest.approx(0.3)
    path = os.path.join(tmp_path, "gan.keras")
    gan.save(path)
    restored = keras.models.load_model(path)
    assert float(restored.adaptive_probability.numpy()) == probability
    assert restored.get_compile_config() == gan.get_compile_config()
    assert restored.get_compile_config()["augment"] == "color"


def test_ema_rampup_uses_the_smaller_decay_early():
    gan = _gan()
    gan.compile(ema_decay=0.999, ema_rampup=True)
    before = [w.numpy() for w in gan.ema_generator.weights]
    gan.generator_step(4, noise_step=0)  # update t = 0: decay min(0.999, 1 / 10) = 0.1
    for old, average, weight in zip(before, gan.ema_generator.weights, gan.generator.weights):
        if weight.trainable:
            np.testing.assert_allclose(average.numpy(), 0.1 * old + 0.9 * weight.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"augment": "mirror"}, "Unknown augmentation 'mirror'"),
        ({"augment_probability": 1.5}, "augment_probability"),
        ({"ada_target": 0.6}, "names none"),
        ({"augment": "color", "ada_target": -0.1}, "ada_target"),
        ({"augment": "color", "ada_images": 0}, "ada_images"),
        ({"r2_penalty": -1.0}, "r2_penalty"),
        ({"penalty_interval": 0}, "penalty_interval"),
    ],
)
def test_bad_recipe_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _gan().compile(**kwargs)


def test_augmentation_needs_images():
    gan = GAN(input_shape=(2,), latent_dim=4, hidden_units=(8,), seed=0)
    with pytest.raises(ValueError, match="transforms images"):
        gan.compile(augment="color")


def test_unknown_architecture_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown architecture 'stylegan'"):
        _gan(architecture="stylegan")
