"""GAN losses and penalties in tfgen.losses, against values worked out by hand.

Every flavour runs the same checks through ``_GANLossTestMixin`` (TF-GAN
style): per-example values for real logits ``[0, 2, -1]`` and fake logits
``[1, -2, 0.5]``, the ``[B, 1]`` -> ``[B]`` shape contract, the registry and
finite gradients.

softplus values used below: softplus(0) = log 2 = 0.6931472,
softplus(1) = 1.3132617, softplus(-1) = 0.3132617, softplus(2) = 2.1269280,
softplus(-2) = 0.1269280, softplus(0.5) = 0.9740770, softplus(-0.5) = 0.4740770,
softplus(4) = 4.0181499, softplus(-4) = 0.0181499, softplus(1.5) = 1.7014132,
softplus(-1.5) = 0.2014132.
"""

import unittest

import numpy as np
import pytest
import tensorflow as tf

from tfgen import losses

REAL = [0.0, 2.0, -1.0]
FAKE = [1.0, -2.0, 0.5]


class _GANLossTestMixin:
    """Set ``name``, ``expected_discriminator`` and ``expected_generator`` in subclasses."""

    name = None
    expected_discriminator = None
    expected_generator = None

    def setUp(self):
        self.real = tf.constant(REAL)
        self.fake = tf.constant(FAKE)
        self.loss = losses.get_gan_loss(self.name)

    def generator_loss(self, fake, real):
        if self.loss.pairs_with_real:
            return self.loss.generator_loss(fake, real)
        return self.loss.generator_loss(fake)

    def test_registry(self):
        self.assertIs(self.loss.discriminator_loss, getattr(losses, f"{self.name}_discriminator_loss"))
        self.assertIs(self.loss.generator_loss, getattr(losses, f"{self.name}_generator_loss"))

    def test_discriminator_loss_values(self):
        np.testing.assert_allclose(
            self.loss.discriminator_loss(self.real, self.fake), self.expected_discriminator, rtol=1e-6, atol=1e-6
        )

    def test_generator_loss_values(self):
        np.testing.assert_allclose(
            self.generator_loss(self.fake, self.real), self.expected_generator, rtol=1e-6, atol=1e-6)

    def test_column_logits_give_per_example_losses(self):
        d_loss = self.loss.discriminator_loss(self.real[:, None], self.fake[:, None])
        g_loss = self.generator_loss(self.fake[:, None], self.real[:, None])
        self.assertEqual(d_loss.shape, (3,))
        self.assertEqual(g_loss.shape, (3,))
        np.testing.assert_allclose(d_loss, self.expected_discriminator, rtol=1e-6, atol=1e-6)

    def test_float64_is_kept(self):
        d_loss = self.loss.discriminator_loss(tf.constant(REAL, tf.float64), tf.constant(FAKE, tf.float64))
        self.assertEqual(d_loss.dtype, tf.float64)

    def test_gradients_are_finite(self):
        real = tf.Variable(self.real * 30.0)  # large logits: saturated sigmoids
        fake = tf.Variable(self.fake * 30.0)
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(self.loss.discriminator_loss(real, fake)) + tf.reduce_sum(
                self.generator_loss(fake, real)
            )
        for gradient in tape.gradient(total, [real, fake]):
            self.assertTrue(np.all(np.isfinite(gradient)))

    def test_better_discriminator_has_lower_loss(self):
        confident = self.loss.discriminator_loss(tf.constant([0.9]), tf.constant([-0.9]))
        fooled = self.loss.discriminator_loss(tf.constant([-0.9]), tf.constant([0.9]))
        self.assertLess(float(confident[0]), float(fooled[0]))


class MinimaxTest(_GANLossTestMixin, unittest.TestCase):
    name = "minimax"
    # softplus(-real) + softplus(fake)
    expected_discriminator = [0.6931472 + 1.3132617, 0.1269280 + 0.1269280, 1.3132617 + 0.9740770]
    # -softplus(fake) = log(1 - sigmoid(fake))
    expected_generator = [-1.3132617, -0.1269280, -0.9740770]


class NonSaturatingTest(_GANLossTestMixin, unittest.TestCase):
    name = "non_saturating"
    expected_discriminator = MinimaxTest.expected_discriminator
    # softplus(-fake) = -log(sigmoid(fake))
    expected_generator = [0.3132617, 2.1269280, 0.4740770]


class WassersteinTest(_GANLossTestMixin, unittest.TestCase):
    name = "wasserstein"
    expected_discriminator = [1.0 - 0.0, -2.0 - 2.0, 0.5 + 1.0]  # fake - real
    expected_generator = [-1.0, 2.0, -0.5]  # -fake


class HingeTest(_GANLossTestMixin, unittest.TestCase):
    name = "hinge"
    # relu(1 - real) + relu(1 + fake)
    expected_discriminator = [1.0 + 2.0, 0.0 + 0.0, 2.0 + 1.5]
    expected_generator = [-1.0, 2.0, -0.5]


class LeastSquaresTest(_GANLossTestMixin, unittest.TestCase):
    name = "least_squares"
    # 0.5 (real - 1)^2 + 0.5 fake^2
    expected_discriminator = [0.5 + 0.5, 0.5 + 2.0, 2.0 + 0.125]
    # 0.5 (fake - 1)^2
    expected_generator = [0.0, 4.5, 0.125]

    def test_decision_threshold_is_halfway_between_targets(self):
        self.assertEqual(self.loss.decision_threshold, 0.5)


class RelativisticTest(_GANLossTestMixin, unittest.TestCase):
    name = "relativistic"
    # softplus(fake - real) = softplus([1, -4, 1.5])
    expected_discriminator = [1.3132617, 0.0181499, 1.7014132]
    # softplus(real - fake) = softplus([-1, 4, -1.5])
    expected_generator = [0.3132617, 4.0181499, 0.2014132]

    def test_pairs_with_real(self):
        self.assertTrue(self.loss.pairs_with_real)
        self.assertFalse(losses.get_gan_loss("non_saturating").pairs_with_real)

    def test_only_the_difference_matters(self):
        shifted = self.loss.discriminator_loss(self.real + 7.0, self.fake + 7.0)
        np.testing.assert_allclose(shifted, self.expected_discriminator, rtol=1e-5, atol=1e-5)


def test_unknown_loss_lists_valid_ones():
    with pytest.raises(ValueError) as error:
        losses.get_gan_loss("relativist")
    assert str(error.value) == (
        "Unknown loss 'relativist'. Valid losses: "
        "['hinge', 'least_squares', 'minimax', 'non_saturating', 'relativistic', 'wasserstein']"
    )


def _linear_critic(weights):
    return lambda x: tf.matmul(x, tf.reshape(weights, [-1, 1]))


def test_gradient_penalty_of_a_linear_critic():
    # grad D = w = [3, 4] everywhere: ||grad|| = 5, penalty (5 - 1)^2 = 16.
    real = tf.constant([[1.0, 2.0], [0.0, -1.0]])
    fake = tf.constant([[0.5, 0.5], [3.0, 1.0]])
    penalty = losses.gradient_penalty(_linear_critic(tf.constant([3.0, 4.0])), real, fake, tf.constant([0.3, 0.9]))
    np.testing.assert_allclose(penalty, [16.0, 16.0], rtol=1e-6)


def test_gradient_penalty_interpolates():
    # D(x) = sum(x^2): grad = 2 x_hat. x_hat = w real + (1 - w) fake.
    # Row 0: w = 0.5, x_hat = [0.5, 0], ||grad|| = 1 -> 0.
    # Row 1: w = 1, x_hat = [1, 0], ||grad|| = 2 -> 1.
    # Row 2: w = 0, x_hat = fake = [0, 1.5], ||grad|| = 3 -> 4.
    real = tf.constant([[1.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    fake = tf.constant([[0.0, 0.0], [7.0, 7.0], [0.0, 1.5]])

    def critic(x):
        return tf.reduce_sum(tf.square(x), axis=1, keepdims=True)

    penalty = losses.gradient_penalty(critic, real, fake, tf.constant([0.5, 1.0, 0.0]))
    np.testing.assert_allclose(penalty, [0.0, 1.0, 4.0], atol=1e-5)


def test_gradient_penalty_image_shaped_weights():
    real = tf.ones((2, 4, 4, 1))
    fake = -tf.ones((2, 4, 4, 1))

    def critic(x):
        return tf.reduce_sum(x, axis=[1, 2, 3])[:, None]  # grad = 1 per pixel, ||grad|| = 4

    flat = losses.gradient_penalty(critic, real, fake, tf.constant([0.2, 0.7]))
    shaped = losses.gradient_penalty(critic, real, fake, tf.constant([0.2, 0.7])[:, None, None, None])
    np.testing.assert_allclose(flat, [9.0, 9.0], rtol=1e-6)
    np.testing.assert_allclose(shaped, flat)


def test_gradient_penalty_trains_the_critic():
    # penalty = (||w|| - 1)^2 per example; d/dw = 2 (||w|| - 1) w / ||w|| = 2 * 4 * [0.6, 0.8].
    weights = tf.Variable([3.0, 4.0])
    real, fake = tf.ones((2, 2)), tf.zeros((2, 2))
    with tf.GradientTape() as tape:
        penalty = losses.gradient_penalty(_linear_critic(weights), real, fake, tf.constant([0.1, 0.6]))
        total = tf.reduce_mean(penalty)
    np.testing.assert_allclose(tape.gradient(total, weights), [4.8, 6.4], rtol=1e-5)


def test_gradient_penalty_has_no_nan_gradient_when_the_input_gradient_is_zero():
    # relu(x . v) with x . v < 0: grad D(x_hat) is exactly zero.
    weights = tf.Variable([-1.0, -1.0])

    def critic(x):
        return tf.nn.relu(tf.matmul(x, tf.reshape(weights, [-1, 1])))

    real, fake = tf.ones((3, 2)), 2.0 * tf.ones((3, 2))
    with tf.GradientTape() as tape:
        penalty = losses.gradient_penalty(critic, real, fake, tf.constant([0.0, 0.5, 1.0]))
        total = tf.reduce_sum(penalty)
    np.testing.assert_allclose(penalty, [1.0, 1.0, 1.0], atol=1e-5)
    np.testing.assert_allclose(tape.gradient(total, weights), [0.0, 0.0])

    # The naive tf.norm version is what this guards against.
    with tf.GradientTape() as tape:
        with tf.GradientTape() as inner:
            x_hat = tf.ones((3, 2))
            inner.watch(x_hat)
            total = tf.reduce_sum(critic(x_hat))
        naive = tf.reduce_sum(tf.square(tf.norm(inner.gradient(total, x_hat), axis=1) - 1.0))
    assert np.any(np.isnan(tape.gradient(naive, weights)))


def test_r1_penalty():
    # Linear critic: ||grad||^2 = 3^2 + 4^2 = 25. Quadratic: grad = 2x = [2, 4] -> 20.
    real = tf.constant([[1.0, 2.0], [-3.0, 0.0]])
    np.testing.assert_allclose(losses.r1_penalty(_linear_critic(tf.constant([3.0, 4.0])), real), [25.0, 25.0])

    def quadratic(x):
        return tf.reduce_sum(tf.square(x), axis=1, keepdims=True)

    np.testing.assert_allclose(losses.r1_penalty(quadratic, real[:1]), [20.0], rtol=1e-6)


def test_r1_penalty_gradient_is_finite_at_zero():
    weights = tf.Variable([0.0, 0.0])
    with tf.GradientTape() as tape:
        penalty = losses.r1_penalty(_linear_critic(weights), tf.ones((2, 2)))
        total = tf.reduce_sum(penalty)
    np.testing.assert_allclose(penalty, [0.0, 0.0])
    np.testing.assert_allclose(tape.gradient(total, weights), [0.0, 0.0])


def test_r2_penalty_is_the_squared_gradient_norm_at_the_fakes():
    # D(x) = sum(x^3): grad = 3 x^2. Row [1, -2]: [3, 12] -> 9 + 144 = 153; row [0, 0]: 0.
    def cubic(x):
        return tf.reduce_sum(x**3, axis=1, keepdims=True)

    fake = tf.constant([[1.0, -2.0], [0.0, 0.0]])
    np.testing.assert_allclose(losses.r2_penalty(cubic, fake), [153.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(losses.r1_penalty(cubic, fake), losses.r2_penalty(cubic, fake))


def test_r2_penalty_is_differentiable_in_the_critic_weights():
    # D(x) = w . x: penalty ||w||^2, d/dw = 2 w.
    weights = tf.Variable([3.0, -1.0])
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(losses.r2_penalty(_linear_critic(weights), tf.ones((4, 2))))
    np.testing.assert_allclose(tape.gradient(total, weights), [4 * 6.0, 4 * -2.0])
