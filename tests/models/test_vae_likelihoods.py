"""The VAE's per-pixel decoder likelihoods: "gaussian_per_pixel" and "discretized_logistic".

Loss values against hand-worked numbers and independent references (NumPy's
PixelCNN++ formula, mpmath), a learned variance that recovers a known noise
level, and the IWAE bound of a discretised-logistic VAE.
"""

import math

import keras
import mpmath
import numpy as np
import pytest
import tensorflow as tf

import tfgen
from tfgen import losses
from tfgen.models.config import DECODER_PARAMETERS_PER_CHANNEL, LIKELIHOODS
from tests.helpers import digits_images

PIXEL_VALUES = np.arange(256) / 127.5 - 1.0  # the 8-bit grid of [-1, 1]
PER_PIXEL_LIKELIHOODS = ["gaussian_per_pixel", "discretized_logistic"]


def _as_images(values):
    """Values ``[N]`` -> one-pixel images ``[N, 1, 1, 1]``."""
    return np.asarray(values).reshape(-1, 1, 1, 1)


def _quantised(images):
    """Images in [-1, 1] rounded to the 8-bit grid ``k / 127.5 - 1``."""
    return (np.round((np.clip(images, -1, 1) + 1.0) * 127.5) / 127.5 - 1.0).astype("float32")


def _pixelcnn_reference(x, mean, log_scale):
    """``log P(x)`` of PixelCNN++'s ``discretized_logistic_mix_likelihood`` (one component), in float64 NumPy."""
    x, mean, log_scale = (np.asarray(v, np.float64) for v in (x, mean, log_scale))
    softplus = lambda v: np.logaddexp(0.0, v)
    sigmoid = lambda v: 1.0 / (1.0 + np.exp(-v))
    centred, inverse_scale = x - mean, np.exp(-log_scale)
    plus_in, min_in = inverse_scale * (centred + 1.0 / 255.0), inverse_scale * (centred - 1.0 / 255.0)
    cdf_delta = sigmoid(plus_in) - sigmoid(min_in)
    log_cdf_plus = plus_in - softplus(plus_in)
    log_one_minus_cdf_min = -softplus(min_in)
    mid_in = inverse_scale * centred
    log_pdf_mid = mid_in - log_scale - 2.0 * softplus(mid_in)
    with np.errstate(divide="ignore"):
        inner = np.where(cdf_delta > 1e-5, np.log(np.maximum(cdf_delta, 1e-12)), log_pdf_mid - np.log(127.5))
    log_probs = np.where(x < -0.999, log_cdf_plus, np.where(x > 0.999, log_one_minus_cdf_min, inner))
    return log_probs, cdf_delta > 1e-5


def _mpmath_log_mass(x, mean, log_scale):
    """``log P(x)`` of one pixel with 50 significant digits (mpmath)."""
    mpmath.mp.dps = 50
    x, mean, scale = mpmath.mpf(float(x)), mpmath.mpf(float(mean)), mpmath.exp(mpmath.mpf(float(log_scale)))
    half_bin = mpmath.mpf(1) / 255
    cdf = lambda v: 1 / (1 + mpmath.exp(-(v - mean) / scale))
    survival = lambda v: 1 / (1 + mpmath.exp((v - mean) / scale))  # 1 - cdf, exact in the right tail
    if x < -1 + half_bin:
        return float(mpmath.log(cdf(x + half_bin)))
    if x > 1 - half_bin:
        return float(mpmath.log(survival(x - half_bin)))
    if x <= mean:
        return float(mpmath.log(cdf(x + half_bin) - cdf(x - half_bin)))
    return float(mpmath.log(survival(x - half_bin) - survival(x + half_bin)))


# ------------------------------------------------------------------- registries
def test_every_likelihood_says_what_its_decoder_outputs():
    assert set(DECODER_PARAMETERS_PER_CHANNEL) == set(LIKELIHOODS)
    assert LIKELIHOODS["gaussian_per_pixel"] is losses.gaussian_reconstruction_loss  # one Gaussian density
    assert LIKELIHOODS["discretized_logistic"] is losses.discretized_logistic_reconstruction_loss


# ------------------------------------------------------------- loss values
def test_gaussian_per_pixel_loss_by_hand():
    images = np.array([[[[1.0], [-1.0]]]], "float32")  # [1, 1, 2, 1]
    means = np.array([[[[0.5], [0.0]]]], "float32")
    log_scales = np.log(np.array([[[[0.5], [2.0]]]], "float32"))
    # pixel 1: z = 1, sigma 0.5; pixel 2: z = -0.5, sigma 2
    expected = (0.5 * 1.0 + math.log(0.5)) + (0.5 * 0.25 + math.log(2.0)) + math.log(2 * math.pi)
    np.testing.assert_allclose(losses.gaussian_reconstruction_loss(images, means, log_scales), [expected], rtol=1e-6)


def test_discretized_logistic_loss_by_hand():
    # Mean 0, scale 1/255 (half a bin): the bin [-2/255, 0] of the value -1/255 holds
    # sigmoid(0) - sigmoid(-2), the first bin sigmoid((-1 + 1/255) * 255) = sigmoid(-254),
    # the last 1 - sigmoid((1 - 1/255) * 255) = sigmoid(-254).
    log_scale = math.log(1.0 / 255.0)
    sigmoid = lambda v: 1.0 / (1.0 + math.exp(-v))
    centre = 127.0 / 127.5 - 1.0  # -1/255, the grid value just below 0
    values = [centre, -1.0, 1.0]
    expected = [
        -math.log(sigmoid(0.0) - sigmoid(-2.0)),
        -(-254.0 - math.log1p(math.exp(-254.0))),  # -log sigmoid(-254)
        math.log1p(math.exp(-254.0)) + 254.0,  # -log(1 - sigmoid(254))
    ]
    got = losses.discretized_logistic_reconstruction_loss(
        _as_images(values).astype("float64"), np.zeros((3, 1, 1, 1)), log_scale
    ).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9)


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-9), ("float32", 2e-5)])
def test_discretized_logistic_sums_to_one_over_the_256_values(dtype, tolerance):
    # Every (mean, log-scale) pair, also means outside [-1, 1] and both ends of the bounded scales.
    means, log_scales = np.meshgrid([-1.3, -1.0, -0.5, 0.0, 0.3713, 1.0, 1.2], [-7.0, -4.5, -1.0, 0.0, 2.0])
    means, log_scales = means.reshape(-1, 1), log_scales.reshape(-1, 1)  # [35, 1] against the 256 values
    shape = (means.size, PIXEL_VALUES.size)
    log_probabilities = -losses.discretized_logistic_reconstruction_loss(
        _as_images(np.broadcast_to(PIXEL_VALUES, shape)).astype(dtype),
        _as_images(np.broadcast_to(means, shape)).astype(dtype),
        _as_images(np.broadcast_to(log_scales, shape)).astype(dtype),
    ).numpy().reshape(shape)
    assert np.all(np.isfinite(log_probabilities)) and np.all(log_probabilities <= 1e-6)
    totals = np.exp(log_probabilities.astype(np.float64)).sum(axis=1)
    np.testing.assert_allclose(totals, np.ones(means.size), atol=tolerance)


def test_discretized_logistic_matches_the_pixelcnn_formula():
    rng = np.random.default_rng(0)
    images = rng.choice(PIXEL_VALUES, size=(64, 4, 4, 3))
    images[:, 0, 0, 0], images[:, 0, 1, 0] = -1.0, 1.0  # the edge bins
    means = images + rng.normal(0.0, 0.3, images.shape)  # as a decoder would predict: near the pixels
    log_scales = rng.uniform(-5.0, 1.0, images.shape)
    reference, exact = _pixelcnn_reference(images, means, log_scales)
    per_pixel = []
    for row in range(images.shape[0]):  # one pixel per "image", to compare pixel by pixel
        flat = lambda v: v[row].reshape(-1, 1, 1, 1)
        per_pixel.append(-losses.discretized_logistic_reconstruction_loss(
            flat(images), flat(means), flat(log_scales)).numpy().reshape(images.shape[1:]))
    per_pixel = np.stack(per_pixel)
    assert exact.mean() > 0.75  # PixelCNN++'s fallback (mpmath is the reference there, below) covers the rest
    np.testing.assert_allclose(per_pixel[exact], reference[exact], rtol=1e-9, atol=1e-12)
    # Per image, in float32: the sum over pixels.
    got32 = losses.discretized_logistic_reconstruction_loss(
        images.astype("float32"), means.astype("float32"), log_scales.astype("float32")
    ).numpy()
    np.testing.assert_allclose(got32, -per_pixel.reshape(64, -1).sum(axis=1), rtol=1e-5)


@pytest.mark.parametrize(
    "x, mean, log_scale",
    [
        (0.0, 0.9, -7.0),  # far into the left tail, narrowest scale: PixelCNN++ falls back to the mid-bin density
        (0.5, -0.5, -5.0),  # far into the right tail
        (0.2, 0.2 + 1e-4, -7.0),  # almost all the mass in this bin
        (-1.0, 0.6, -6.0),  # the first bin, far from the mean
        (1.0, -0.6, -6.0),  # the last bin
        (0.0, 0.0, 2.0),  # the widest scale: a bin holds ~1/(4 * 127.5 * e^2) of the mass
    ],
)
def test_discretized_logistic_is_accurate_where_pixelcnn_falls_back(x, mean, log_scale):
    expected = _mpmath_log_mass(x, mean, log_scale)
    for dtype, rtol in (("float64", 1e-12), ("float32", 1e-5)):
        got = -losses.discretized_logistic_reconstruction_loss(
            _as_images([x]).astype(dtype), _as_images([mean]).astype(dtype), np.asarray(log_scale, dtype)
        ).numpy()[0]
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-6 if dtype == "float32" else 0)


def test_discretized_logistic_gradients_are_finite_at_the_bounds():
    images = tf.constant(_as_images([-1.0, 1.0, 0.0, 0.0, 0.5]), tf.float32)
    means = tf.Variable(_as_images([0.9, -0.9, 0.0, 1.0, -1.0]).astype("float32"))
    raw = tf.Variable(_as_images([-1e4, 1e4, -50.0, 50.0, 0.0]).astype("float32"))
    with tf.GradientTape() as tape:
        log_scales = losses.bounded_log_scale(raw)
        loss = tf.reduce_sum(losses.discretized_logistic_reconstruction_loss(images, means, log_scales))
    gradients = tape.gradient(loss, [means, raw])
    assert np.isfinite(loss.numpy()) and all(np.all(np.isfinite(g.numpy())) for g in gradients)


def test_bounded_log_scale():
    raw = np.array([-1e6, -50.0, -7.0, -3.0, -2.0, 0.0, 2.0, 50.0, 1e6], "float32")
    bounded = losses.bounded_log_scale(raw).numpy()
    assert np.all(np.diff(bounded) >= -1e-6)  # non-decreasing (to float32 rounding at the flat ends)
    assert bounded.min() >= losses.MIN_LOG_SCALE and bounded.max() <= losses.MAX_LOG_SCALE + 2e-4
    np.testing.assert_allclose(bounded[[0, -1]], [losses.MIN_LOG_SCALE, losses.MAX_LOG_SCALE], atol=2e-4)
    np.testing.assert_allclose(bounded[3:5], raw[3:5], atol=0.02)  # close to the identity inside
    variable = tf.Variable(raw)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(losses.bounded_log_scale(variable))
    gradient = tape.gradient(total, variable).numpy()
    assert np.all(np.isfinite(gradient)) and np.all(gradient >= 0) and np.all(gradient[2:-2] > 0)


# --------------------------------------------------------------- the model
@pytest.mark.parametrize("likelihood", PER_PIXEL_LIKELIHOODS)
@pytest.mark.parametrize("shape, architecture", [((16, 16, 3), "conv"), ((8, 8, 1), "mlp")])
def test_decoder_outputs_means_then_log_scales(likelihood, shape, architecture):
    vae = tfgen.VAE(input_shape=shape, latent_dim=3, architecture=architecture, likelihood=likelihood,
                    base_filters=4, hidden_units=16, seed=0)
    assert vae.decoder.output_shape == (None,) + shape[:2] + (2 * shape[2],)
    z = vae.sample_latents(4, seed=1)
    output = vae.decoder(z)
    means, log_scales = vae.likelihood_parameters(output)
    assert means.shape == log_scales.shape == (4,) + shape
    assert float(tf.reduce_min(log_scales)) > losses.MIN_LOG_SCALE
    assert float(tf.reduce_max(log_scales)) < losses.MAX_LOG_SCALE + 2e-4
    np.testing.assert_array_equal(vae.decode(z), np.clip(output[..., : shape[2]], -1, 1))
    np.testing.assert_array_equal(vae.generate(4, seed=1), vae.decode(z))
    images = _quantised(np.random.default_rng(0).uniform(-1, 1, (4,) + shape))
    reconstructions = vae.reconstruct(images).numpy()
    assert reconstructions.shape == (4,) + shape and reconstructions.min() >= -1 and reconstructions.max() <= 1


@pytest.mark.parametrize("likelihood", PER_PIXEL_LIKELIHOODS + ["bernoulli"])
def test_observation_std_is_for_the_gaussian_likelihood_only(likelihood):
    with pytest.raises(ValueError, match=f"observation_std applies to likelihood='gaussian' only.*{likelihood!r}"):
        tfgen.VAE(input_shape=(8, 8, 1), architecture="mlp", likelihood=likelihood, observation_std=0.1)


def test_a_user_decoder_must_output_two_maps_per_channel():
    encoder = tfgen.models.make_encoder((8, 8, 2), 3, architecture="mlp", hidden_units=8)
    one_map = tfgen.models.make_decoder((8, 8, 2), 3, architecture="mlp", hidden_units=8)
    with pytest.raises(ValueError, match=r"2 maps per image channel .* of shape \(8, 8, 4\).*got \(8, 8, 2\)"):
        tfgen.VAE(encoder=encoder, decoder=one_map, latent_dim=3, likelihood="discretized_logistic")
    two_maps = tfgen.models.make_decoder((8, 8, 2), 3, architecture="mlp", hidden_units=8, parameters_per_channel=2)
    vae = tfgen.VAE(encoder=encoder, decoder=two_maps, latent_dim=3, likelihood="discretized_logistic", seed=0)
    assert vae.generate(2).shape == (2, 8, 8, 2)


@pytest.mark.parametrize(
    "likelihood, scale_to_std", [("gaussian_per_pixel", 1.0), ("discretized_logistic", math.pi / math.sqrt(3.0))]
)
def test_the_learned_variance_recovers_a_known_noise_level(likelihood, scale_to_std):
    # A fixed pattern plus N(0, sigma^2) noise, sigma 0.05 in the left half and 0.2 in the right half.
    rng = np.random.default_rng(0)
    pattern = rng.uniform(-0.5, 0.5, (8, 8, 1))
    sigma = np.where(np.arange(8)[None, :, None] < 4, 0.05, 0.2) * np.ones((8, 8, 1))
    data = _quantised(pattern + sigma * rng.normal(size=(1024, 8, 8, 1)))
    vae = tfgen.VAE(input_shape=(8, 8, 1), latent_dim=2, architecture="mlp", hidden_units=32,
                    likelihood=likelihood, seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    vae.fit(tf.data.Dataset.from_tensor_slices(data).batch(128), epochs=20, verbose=0)  # 160 steps
    means, log_scales = vae.likelihood_parameters(vae.decoder(vae.encode(data[:256])[0]))
    learned_std = np.exp(log_scales.numpy()) * scale_to_std
    np.testing.assert_allclose(np.median(learned_std[:, :, :4]), 0.05, rtol=0.2)
    np.testing.assert_allclose(np.median(learned_std[:, :, 4:]), 0.2, rtol=0.2)
    assert np.abs(np.median(means.numpy(), axis=0) - pattern).max() < 0.1


@pytest.fixture(scope="module")
def logistic_vae():
    images = _quantised(digits_images(600))
    vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, architecture="mlp", hidden_units=64,
                    likelihood="discretized_logistic", seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(2e-3))
    vae.fit(tf.data.Dataset.from_tensor_slices(images[:500]).batch(50), epochs=10, verbose=0)  # 100 steps
    return vae, images[500:]


def test_iwae_bound_of_a_discretized_logistic_vae(logistic_vae):
    vae, images = logistic_vae
    images = images[:50]
    np.testing.assert_array_equal(vae.elbo(images, seed=1), vae.log_likelihood(images, num_samples=1, seed=1))
    estimates = [vae.log_likelihood(images, num_samples=k, seed=1) for k in (1, 10, 100)]
    means = [e.mean() for e in estimates]
    assert means[0] < means[1] < means[2], means
    mean_elbo = np.mean([vae.elbo(images, seed=s).mean() for s in range(5)])
    assert mean_elbo < means[2]
    # A log-probability of 8-bit pixels: negative, and better than the uniform 8 bits per pixel after training.
    assert np.all(estimates[2] < 0)
    bits_per_pixel = -means[2] / (16 * 16 * math.log(2.0))
    assert 0 < bits_per_pixel < 8, bits_per_pixel


def test_discretized_logistic_log_likelihood_wants_8_bit_images(logistic_vae):
    vae, images = logistic_vae
    off_grid = images[:2].copy()
    off_grid[1, 5, 5, 0] = 0.123
    with pytest.raises(ValueError, match=r"8-bit images: expected values k / 127.5 - 1 .* got 0.123"):
        vae.log_likelihood(off_grid, num_samples=2)
    binary = np.where(images[:2] > 0, 1.0, -1.0).astype("float32")  # binarised data is on the grid
    assert np.all(np.isfinite(vae.log_likelihood(binary, num_samples=2)))
