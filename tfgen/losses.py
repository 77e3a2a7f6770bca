"""Losses as pure functions of tensors.

Every function here returns a *per-example* loss of shape ``[batch]`` unless
its docstring says otherwise; models reduce it to the global-batch mean with
:func:`tfgen.distribute.global_mean` so that updates do not depend on the number
of replicas. One implementation of each idea lives here and both models use it.
"""

import collections
import math

import tensorflow as tf

_LOG_2PI = math.log(2.0 * math.pi)


def _flatten_sum(x):
    """Sums every axis but the first: ``[B, ...] -> [B]``."""
    return tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def _as_dtype(x, dtype):
    """``x`` as a tensor of ``dtype``; Python numbers convert straight to it (not through float32)."""
    return tf.cast(tf.convert_to_tensor(x, dtype_hint=dtype), dtype)


def kl_divergence(z_mean, z_log_var):
    """KL(q(z|x) || N(0, I)) for a diagonal Gaussian posterior, in nats.

    Args:
        z_mean: float ``[B, D]``, posterior means.
        z_log_var: float ``[B, D]``, posterior log-variances.

    Returns:
        float ``[B]``: ``0.5 * sum(mean^2 + exp(log_var) - 1 - log_var)``.
    """
    z_mean = tf.convert_to_tensor(z_mean)
    z_log_var = tf.cast(z_log_var, z_mean.dtype)
    return 0.5 * tf.reduce_sum(
        tf.square(z_mean) + tf.exp(z_log_var) - 1.0 - z_log_var, axis=-1
    )


def bernoulli_reconstruction_loss(images, logits):
    """Negative Bernoulli log-likelihood ``-log p(x|z)`` per image, in nats.

    Args:
        images: float ``[B, H, W, C]`` in [-1, 1]; mapped to probabilities
            ``(x + 1) / 2`` (binary data is {-1, 1}, i.e. {0, 1}).
        logits: float ``[B, H, W, C]``, decoder logits.

    Returns:
        float ``[B]``: summed sigmoid cross-entropy over pixels.
    """
    logits = tf.convert_to_tensor(logits)
    targets = (tf.cast(images, logits.dtype) + 1.0) / 2.0
    return _flatten_sum(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    )


def gaussian_reconstruction_loss(images, mean, log_scale):
    """Negative Gaussian log-density ``-log N(x; mean, exp(log_scale)^2)`` per image.

    Args:
        images: float ``[B, H, W, C]`` in [-1, 1].
        mean: float ``[B, H, W, C]``, decoder means.
        log_scale: scalar or broadcastable float, log standard deviation.

    Returns:
        float ``[B]``: summed over pixels, in nats (a density, so it can be
        negative).
    """
    mean = tf.convert_to_tensor(mean)
    images = _as_dtype(images, mean.dtype)
    log_scale = _as_dtype(log_scale, mean.dtype)
    nll = 0.5 * tf.square((images - mean) * tf.exp(-log_scale)) + log_scale + 0.5 * _LOG_2PI
    return _flatten_sum(nll + tf.zeros_like(mean))


# Bounds of a log-scale predicted per pixel (``bounded_log_scale``). Below:
# PixelCNN++ clips the logistic's log-scale at -7 (a scale of 0.0009, an
# eighth of an 8-bit bin of [-1, 1]) and the sigma-VAE soft-clips the
# Gaussian's at -6; without a floor a Gaussian's density on constant pixels
# grows without bound and its mean's gradients with it. Above: a scale of
# e^2 = 7.4 is flat over [-1, 1], and a far larger one makes a bin's width in
# scale units underflow to 0 in float32 (log 0 = -inf).
MIN_LOG_SCALE = -7.0
MAX_LOG_SCALE = 2.0


def bounded_log_scale(raw_log_scale, minimum=MIN_LOG_SCALE, maximum=MAX_LOG_SCALE):
    """Softly bounds a network's raw log-scale output to ``(minimum, maximum)``.

    ``minimum + softplus(maximum - softplus(maximum - raw) - minimum)``: close
    to ``raw`` inside the bounds (within 0.05 for raw in [-4, -1], the
    scales 0.02 to 0.37), smooth, with a non-zero gradient everywhere, and
    never outside
    ``(minimum, minimum + softplus(maximum - minimum))``, i.e. at most
    ``1.3e-4`` above ``maximum`` for the defaults.

    Args:
        raw_log_scale: float tensor, any shape, unbounded.
        minimum, maximum: the bounds (defaults ``MIN_LOG_SCALE = -7`` and
            ``MAX_LOG_SCALE = 2``).

    Returns:
        float tensor, same shape and dtype.
    """
    raw_log_scale = tf.convert_to_tensor(raw_log_scale)
    below_maximum = maximum - tf.nn.softplus(maximum - raw_log_scale)
    return minimum + tf.nn.softplus(below_maximum - minimum)


def _log_one_minus_exp(x):
    """``log(1 - exp(-x))`` for ``x > 0``, accurate for small and large ``x`` (Maechler, 2012)."""
    return tf.where(
        x < math.log(2.0),
        tf.math.log(-tf.math.expm1(-x)),
        tf.math.log1p(-tf.exp(-x)),
    )


def discretized_logistic_reconstruction_loss(images, mean, log_scale, num_bins=256):
    """Negative log-probability of 8-bit images under a discretised logistic per pixel, in nats.

    PixelCNN++'s likelihood (Salimans et al., 2017) without the mixture: the
    ``num_bins`` pixel values ``k / 127.5 - 1`` of [-1, 1] each own a bin of
    width ``2 / (num_bins - 1)``, and ``P(x) = CDF(x + 1/255) - CDF(x - 1/255)``
    for the logistic ``CDF(v) = sigmoid((v - mean) / exp(log_scale))``; the
    first bin extends to -inf and the last to +inf, so the probabilities of
    the ``num_bins`` values sum to 1 and the result is a real ``-log P(x)``
    of 8-bit data.

    Numerics: with ``a, b = (x - mean ± 1/255) / scale``, the bin's log-mass
    is computed as ``log sigmoid(a) + log sigmoid(-b) + log(1 - exp(b - a))``
    (an exact identity, all terms softplus-based), which never subtracts two
    nearly equal CDF values. PixelCNN++'s formula needs a fallback to the
    density at the bin centre where that subtraction underflows; this one is
    accurate there too (both agree wherever PixelCNN++ uses its exact branch).

    Args:
        images: float ``[B, H, W, C]`` in [-1, 1], on the 8-bit grid
            ``k / 127.5 - 1`` (values off the grid get the mass of a bin
            centred on them).
        mean: float ``[B, H, W, C]``, the logistic's location (also its mean
            and median).
        log_scale: float, broadcastable to ``mean``: log of the logistic's
            scale (its standard deviation is ``scale * pi / sqrt(3)``). Keep it
            within about [-7, 2] (:func:`bounded_log_scale`): a far larger one
            underflows the bin width in scale units to 0.
        num_bins: number of pixel values (256 for 8 bits).

    Returns:
        float ``[B]``: ``-sum log P(x)`` over pixels, in nats (>= 0).
    """
    mean = tf.convert_to_tensor(mean)
    images = _as_dtype(images, mean.dtype)
    log_scale = _as_dtype(log_scale, mean.dtype) + tf.zeros_like(mean)
    half_bin = 1.0 / (num_bins - 1)
    inverse_scale = tf.exp(-log_scale)
    centred = images - mean
    upper = inverse_scale * (centred + half_bin)
    lower = inverse_scale * (centred - half_bin)
    log_cdf_upper = -tf.nn.softplus(-upper)  # log CDF(x + half_bin): the first bin's mass
    log_survival_lower = -tf.nn.softplus(lower)  # log (1 - CDF(x - half_bin)): the last bin's
    log_bin = log_cdf_upper + log_survival_lower + _log_one_minus_exp(2.0 * half_bin * inverse_scale)
    log_probability = tf.where(
        images < -1.0 + half_bin,
        log_cdf_upper,
        tf.where(images > 1.0 - half_bin, log_survival_lower, log_bin),
    )
    return -_flatten_sum(log_probability)


def gaussian_log_density(x, mean, log_var):
    """``log N(x; mean, diag(exp(log_var)))`` summed over the last axis: ``[..., D] -> [...]``."""
    x = tf.convert_to_tensor(x)
    mean = tf.cast(mean, x.dtype)
    log_var = tf.cast(log_var, x.dtype)
    return -0.5 * tf.reduce_sum(
        _LOG_2PI + log_var + tf.square(x - mean) * tf.exp(-log_var), axis=-1
    )


def standard_normal_log_density(x):
    """``log N(x; 0, I)`` summed over the last axis: ``[..., D] -> [...]``."""
    x = tf.convert_to_tensor(x)
    return -0.5 * tf.reduce_sum(_LOG_2PI + tf.square(x), axis=-1)


# Decoder likelihoods: the name -> ``loss(images, *parameters)``, the per-image
# ``-log p(x|z)``. "gaussian" has one scale, a model weight; "gaussian_per_pixel"
# (the same density) and "discretized_logistic" take a log-scale per pixel that
# the decoder predicts (see ``tfgen.models.config.DECODER_PARAMETERS_PER_CHANNEL``).
RECONSTRUCTION_LOSSES = {
    "bernoulli": bernoulli_reconstruction_loss,
    "gaussian": gaussian_reconstruction_loss,
    "gaussian_per_pixel": gaussian_reconstruction_loss,
    "discretized_logistic": discretized_logistic_reconstruction_loss,
}


# ---------------------------------------------------------------------------
# GAN losses (TF-GAN naming). ``*_logits`` are the discriminator's raw outputs
# ``[B]`` or ``[B, ...]`` (e.g. ``[B, 1]``); extra axes are averaged so every
# function returns a per-example loss ``[B]``. Discriminator losses are the
# real term plus the fake term of each (real, fake) pair of examples.
# ---------------------------------------------------------------------------


def _per_example_mean(x):
    """Averages every axis but the first: ``[B, ...] -> [B]`` (``[B]`` unchanged)."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank == 1:
        return x
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def _logits_pair(real_logits, fake_logits):
    real_logits = _per_example_mean(real_logits)
    fake_logits = tf.cast(_per_example_mean(fake_logits), real_logits.dtype)
    return real_logits, fake_logits


def minimax_discriminator_loss(real_logits, fake_logits):
    """``-log D(x) - log(1 - D(G(z)))`` with ``D = sigmoid(logits)`` (Goodfellow et al., 2014).

    Args:
        real_logits: float ``[B]`` or ``[B, ...]``, logits of real examples.
        fake_logits: float, same shape, logits of generated examples.

    Returns:
        float ``[B]``: ``softplus(-real) + softplus(fake)``.
    """
    real_logits, fake_logits = _logits_pair(real_logits, fake_logits)
    return tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits)


def minimax_generator_loss(fake_logits):
    """``log(1 - D(G(z)))``, the original (saturating) generator loss.

    Returns:
        float ``[B]``: ``-softplus(fake)``; its gradient vanishes when the
        discriminator confidently rejects the fakes, hence ``non_saturating``.
    """
    return -tf.nn.softplus(_per_example_mean(fake_logits))


def non_saturating_discriminator_loss(real_logits, fake_logits):
    """Same as :func:`minimax_discriminator_loss` (binary cross-entropy)."""
    return minimax_discriminator_loss(real_logits, fake_logits)


def non_saturating_generator_loss(fake_logits):
    """``-log D(G(z))``: float ``[B]``, ``softplus(-fake)``."""
    return tf.nn.softplus(-_per_example_mean(fake_logits))


def wasserstein_discriminator_loss(real_logits, fake_logits):
    """Critic loss of WGAN (Arjovsky et al., 2017): float ``[B]``, ``fake - real``.

    Only meaningful with a Lipschitz constraint on the critic (use a gradient
    penalty or spectral normalisation).
    """
    real_logits, fake_logits = _logits_pair(real_logits, fake_logits)
    return fake_logits - real_logits


def wasserstein_generator_loss(fake_logits):
    """WGAN generator loss: float ``[B]``, ``-fake``."""
    return -_per_example_mean(fake_logits)


def hinge_discriminator_loss(real_logits, fake_logits):
    """Hinge loss (Lim & Ye, 2017; Miyato et al., 2018): ``relu(1 - real) + relu(1 + fake)``."""
    real_logits, fake_logits = _logits_pair(real_logits, fake_logits)
    return tf.nn.relu(1.0 - real_logits) + tf.nn.relu(1.0 + fake_logits)


def hinge_generator_loss(fake_logits):
    """Hinge generator loss: float ``[B]``, ``-fake`` (the Wasserstein generator loss)."""
    return wasserstein_generator_loss(fake_logits)


def least_squares_discriminator_loss(real_logits, fake_logits):
    """LSGAN (Mao et al., 2017) with labels real=1, fake=0: ``0.5 (real - 1)^2 + 0.5 fake^2``."""
    real_logits, fake_logits = _logits_pair(real_logits, fake_logits)
    return 0.5 * tf.square(real_logits - 1.0) + 0.5 * tf.square(fake_logits)


def least_squares_generator_loss(fake_logits):
    """LSGAN generator loss: float ``[B]``, ``0.5 (fake - 1)^2``."""
    return 0.5 * tf.square(_per_example_mean(fake_logits) - 1.0)


def relativistic_discriminator_loss(real_logits, fake_logits):
    """Relativistic pairing loss, RpGAN (Jolicoeur-Martineau, 2019; Huang et al., 2024).

    Each real example is paired with the generated example in the same row:
    ``-log sigmoid(real - fake) = softplus(fake - real)``. The discriminator
    is asked only that a real example look more real than its fake partner,
    which removes the mode-dropping optimum of the classic loss (R3GAN
    trains with it plus R1 and R2 penalties).

    Args:
        real_logits: float ``[B]`` or ``[B, ...]``, logits of real examples.
        fake_logits: float, same shape, logits of generated examples (row
            ``i`` is paired with real row ``i``).

    Returns:
        float ``[B]``.
    """
    real_logits, fake_logits = _logits_pair(real_logits, fake_logits)
    return tf.nn.softplus(fake_logits - real_logits)


def relativistic_generator_loss(fake_logits, real_logits):
    """RpGAN generator loss: float ``[B]``, ``-log sigmoid(fake - real) = softplus(real - fake)``.

    Unlike the other generator losses it needs the real examples' logits
    (``GANLoss.pairs_with_real``); their gradient is not needed, the
    discriminator's weights are not updated by the generator's step.
    """
    real_logits, fake_logits = _logits_pair(real_logits, fake_logits)
    return tf.nn.softplus(real_logits - fake_logits)


def _input_gradients(discriminator_fn, inputs):
    """``d sum(D(inputs)) / d inputs``: the per-example input gradient ``[B, ...]``.

    Each example's logit depends only on its own input (no batch statistics in
    the discriminator), so the gradient of the sum is the per-example gradient.
    The computation is recorded by any enclosing tape, so penalties built on it
    can be differentiated with respect to the discriminator's weights.

    Computed in float32 whatever the network's compute dtype: ``inputs`` are
    float32 (a mixed-precision network casts them to its compute dtype in its
    first layer, and the gradient flows back through that cast), and the
    gradient is returned as float32.
    """
    inputs = tf.cast(inputs, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        logits = discriminator_fn(inputs)
        total = tf.reduce_sum(tf.cast(logits, tf.float32))
    return tf.cast(tape.gradient(total, inputs), tf.float32)


def gradient_penalty(discriminator_fn, real, fake, interpolation_weights, epsilon=1e-12):
    """WGAN-GP penalty (Gulrajani et al., 2017): ``(||grad D(x_hat)||_2 - 1)^2`` per example.

    ``x_hat = w * real + (1 - w) * fake``. The norm is
    ``sqrt(sum(grad^2) + epsilon)`` so the penalty's own gradient stays
    finite when ``grad D(x_hat)`` is exactly zero (``tf.norm`` would give NaN).
    The discriminator must treat examples independently (no batch norm).

    Args:
        discriminator_fn: callable ``x -> logits [B, 1]``; close over labels
            for a conditional discriminator.
        real: float ``[B, ...]`` real examples.
        fake: float ``[B, ...]`` generated examples, same shape.
        interpolation_weights: float ``[B]`` (or broadcastable ``[B, 1, ...]``)
            in [0, 1], usually ``Uniform(0, 1)``.
        epsilon: small constant inside the square root.

    Returns:
        float ``[B]``, unweighted; multiply by the penalty weight (10 in the paper).

    Example:
    ```python
    penalty = gradient_penalty(critic, real, fake, tf.random.uniform([batch]))
    loss = tf.reduce_mean(wasserstein_discriminator_loss(r, f) + 10.0 * penalty)
    ```
    """
    # float32 throughout, also under mixed precision: the squared norm sums
    # over every input element.
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    weights = tf.cast(interpolation_weights, tf.float32)
    if weights.shape.rank == 1:
        weights = tf.reshape(weights, [-1] + [1] * (real.shape.rank - 1))
    interpolated = weights * real + (1.0 - weights) * fake
    gradients = _input_gradients(discriminator_fn, interpolated)
    norm = tf.sqrt(_flatten_sum(tf.square(gradients)) + epsilon)
    return tf.square(norm - 1.0)


def squared_gradient_norm(discriminator_fn, examples):
    """``||grad_x D(x)||_2^2`` per example: float32 ``[B]``, non-negative.

    The quantity behind R1 and R2 (one implementation for both). No square
    root, so no NaN gradient at zero; computed in float32 under mixed precision.

    Args:
        discriminator_fn: callable ``x -> logits [B, 1]``; each logit must
            depend on its own example only (no batch statistics).
        examples: float ``[B, ...]``.
    """
    examples = tf.cast(examples, tf.float32)
    return _flatten_sum(tf.square(_input_gradients(discriminator_fn, examples)))


def r1_penalty(discriminator_fn, real):
    """R1 penalty (Mescheder et al., 2018): ``||grad D(x)||_2^2`` per real example.

    The regulariser is ``gamma / 2 * E[||grad D(x)||^2]``; this function
    returns the per-example squared norm and the caller multiplies by
    ``gamma / 2`` (``GAN.compile(r1_penalty=gamma)`` does).

    Args:
        discriminator_fn: callable ``x -> logits [B, 1]``.
        real: float ``[B, ...]`` real examples.

    Returns:
        float32 ``[B]``, non-negative (computed in float32 under mixed precision).
    """
    return squared_gradient_norm(discriminator_fn, real)


def r2_penalty(discriminator_fn, fake):
    """R2 penalty: ``||grad D(x)||_2^2`` per *generated* example (Huang et al., 2024).

    R1's twin on the fake distribution: with both, the discriminator is
    smooth around real and generated data, which is what makes the RpGAN
    loss converge locally (R3GAN). Pass the fakes with their gradient to the
    generator stopped; the caller multiplies by ``gamma / 2``
    (``GAN.compile(r2_penalty=gamma)``).

    Returns:
        float32 ``[B]``, non-negative.
    """
    return squared_gradient_norm(discriminator_fn, fake)


GANLoss = collections.namedtuple(
    "GANLoss", ["discriminator_loss", "generator_loss", "decision_threshold", "pairs_with_real"],
    defaults=(0.0, False),
)
GANLoss.__doc__ = """One GAN loss flavour: ``(discriminator_loss, generator_loss, decision_threshold, pairs_with_real)``.

``decision_threshold`` is the logit above which the discriminator calls an
example real: 0 for the logistic, hinge and Wasserstein losses, 0.5 for least
squares (targets 1 and 0). Only the accuracy metrics (and adaptive
augmentation's overfitting signal) use it. ``pairs_with_real``: the loss
compares each fake with a real example (relativistic), so the generator loss
is ``generator_loss(fake_logits, real_logits)`` and accuracy means "the real
example of a pair scored above its fake"; otherwise ``generator_loss(fake_logits)``.
"""


GAN_LOSSES = {
    "minimax": GANLoss(minimax_discriminator_loss, minimax_generator_loss),
    "non_saturating": GANLoss(non_saturating_discriminator_loss, non_saturating_generator_loss),
    "wasserstein": GANLoss(wasserstein_discriminator_loss, wasserstein_generator_loss),
    "hinge": GANLoss(hinge_discriminator_loss, hinge_generator_loss),
    "least_squares": GANLoss(
        least_squares_discriminator_loss, least_squares_generator_loss, decision_threshold=0.5
    ),
    "relativistic": GANLoss(
        relativistic_discriminator_loss, relativistic_generator_loss, pairs_with_real=True
    ),
}


def get_gan_loss(name):
    """Returns the :class:`GANLoss` registered under ``name`` in ``GAN_LOSSES``.

    Raises:
        ValueError: ``name`` is not a key of ``GAN_LOSSES``.
    """
    if not isinstance(name, str) or name not in GAN_LOSSES:
        raise ValueError(f"Unknown loss {name!r}. Valid losses: {sorted(GAN_LOSSES)}")
    return GAN_LOSSES[name]
