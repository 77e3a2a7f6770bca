"""The variational autoencoder: ``tfgen.VAE``.

A ``keras.Model`` that wraps two plain functional networks (an encoder
``images -> (z_mean, z_log_var)`` and a decoder ``z -> image parameters``)
and owns ``train_step``/``test_step``. Trained with plain ``model.fit``.

The loss per image is ``-log p(x|z) + beta * KL(q(z|x) || N(0, I))`` in nats
(a negative ELBO when ``beta == 1``), reduced to the mean over the *global*
batch so that updates do not depend on the number of replicas.

The decoder likelihood ``p(x|z)`` is one of ``tfgen.models.config.LIKELIHOODS``:
``"bernoulli"`` (binary data), ``"gaussian"`` (one scale, fixed or learned),
``"gaussian_per_pixel"`` (the decoder predicts a variance per pixel) or
``"discretized_logistic"`` (PixelCNN++'s likelihood of 8-bit pixels, whose
``log_likelihood`` is a real log-probability, comparable across models).

With ``num_classes`` it is a conditional VAE (Sohn et al., 2015): the
encoder ``q(z|x, y)`` and the decoder ``p(x|z, y)`` both take the int label
``y``, batches are ``(images, labels)`` and ``generate`` draws ``x ~ p(x|z, y)``
for the labels asked for.

Example:
```python
import tfgen
data = tfgen.data.load("digits", batch_size=64, seed=0)
vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=8, seed=0)
vae.compile(optimizer="adam")
vae.fit(data, epochs=5)
images = vae.generate(16, seed=1)     # [16, 16, 16, 1] in [-1, 1]

data = tfgen.data.load("digits", batch_size=64, seed=0, with_labels=True)
cvae = tfgen.VAE(input_shape=(16, 16, 1), likelihood="discretized_logistic", num_classes=10, seed=0)
cvae.compile(optimizer="adam")
cvae.fit(data, epochs=5)
sevens = cvae.generate(8, seed=1, labels=[7] * 8)
```
"""

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from tfgen import distribute as tfgen_distribute
from tfgen import losses as tfgen_losses
from tfgen import random as tfgen_random
from tfgen import validation
from tfgen.models import vae_networks
from tfgen.models.base import Endpoint, GenerativeModel
from tfgen.models.config import DECODER_PARAMETERS_PER_CHANNEL, LIKELIHOODS, VAEConfig, default_vae_optimizer

# Tolerance of the 8-bit grid check of log_likelihood's images, in pixel units
# (x / 127.5 - 1 in float32 is off the grid by about 1e-5 pixel units).
PIXEL_GRID_TOLERANCE = 1e-3

@keras.saving.register_keras_serializable(package="tfgen")
class Sampling(layers.Layer):
    """Reparameterised sample ``z = z_mean + exp(0.5 * z_log_var) * noise``.

    Gradients flow to ``z_mean`` and ``z_log_var`` through the sample. The
    VAE passes ``noise`` it drew from its replica-aware stateless generator;
    used on its own, the layer draws standard normal noise from its seed.

    Args:
        seed: int or None, seed of the layer's own noise (used only when
            ``noise`` is not passed to ``call``).

    Call arguments:
        inputs: ``(z_mean, z_log_var)``, each float ``[B, D]``.
        noise: optional float ``[B, D]`` standard normal noise.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, noise=None):
        z_mean, z_log_var = inputs
        if noise is None:
            noise = keras.random.normal(
                ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator
            )
        return z_mean + ops.exp(0.5 * z_log_var) * ops.cast(noise, z_mean.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="tfgen")
class VAE(GenerativeModel):
    """Variational autoencoder with a reparameterised Gaussian posterior.

    Args:
        input_shape: ``(H, W, C)`` of the images. Ignored when ``encoder`` is
            given (its input shape is used).
        latent_dim: size of the latent vector.
        architecture: ``"conv"`` (default) or ``"mlp"`` for the built-in
            networks (see :mod:`tfgen.models.vae_networks`).
        likelihood: the decoder likelihood, a key of ``LIKELIHOODS``:
            ``"bernoulli"`` (decoder outputs logits; for binary or binarised
            data), ``"gaussian"`` (decoder outputs means; one scale for all
            pixels, see ``observation_std``), ``"gaussian_per_pixel"``
            (decoder outputs means and a log standard deviation per pixel)
            or ``"discretized_logistic"`` (decoder outputs the logistic's
            location and log-scale per pixel; for 8-bit images, PixelCNN++).
            The per-pixel log-scales are softly bounded to (-7, 2)
            (:func:`tfgen.losses.bounded_log_scale`).
        beta: weight of the KL term (1.0 gives the ELBO).
        base_filters: filters of the first convolution of the built-in networks.
        hidden_units: width of the dense layers of the built-in networks.
        observation_std: ``"gaussian"`` likelihood only: a fixed observation
            standard deviation, or ``None`` to learn one scalar (the optimal
            "sigma-VAE" scale).
        encoder: optional ``keras.Model`` mapping images ``[B, H, W, C]``
            (and int labels ``[B]`` as a second input when conditional) to
            ``(z_mean, z_log_var)``, each ``[B, latent_dim]``.
        decoder: optional ``keras.Model`` mapping ``[B, latent_dim]`` (and
            labels) to ``[B, H, W, C]`` logits (``"bernoulli"``) or means
            (``"gaussian"``), or to ``[B, H, W, 2C]``, the means then the raw
            log-scales (the per-pixel likelihoods).
        num_classes: ``None`` (unconditional) or the number of classes (>= 2):
            both networks take int labels ``[B]`` in ``[0, num_classes)``,
            batches are ``(images, labels)``, and ``encode``, ``decode``,
            ``reconstruct`` and ``log_likelihood`` need ``labels``.
        seed: int seed of every random draw the model makes (initial weights
            of the built-in networks, training noise, ``generate``,
            ``log_likelihood``); ``None`` draws one (repeatably after
            ``keras.utils.set_random_seed``) and stores it in the config, so a
            reloaded model reproduces the original.

    Defaults: :class:`VAEConfig`.

    Raises:
        ValueError: unknown ``likelihood``/``architecture``, non-positive
            ``latent_dim`` or ``beta``, ``observation_std`` with a likelihood
            other than ``"gaussian"``, a ``num_classes`` that is not an int
            >= 2, or networks whose shapes do not match.
    """

    def __init__(
        self,
        input_shape=(28, 28, 1),
        latent_dim=VAEConfig.latent_dim,
        architecture=VAEConfig.architecture,
        likelihood=VAEConfig.likelihood,
        beta=VAEConfig.beta,
        base_filters=VAEConfig.base_filters,
        hidden_units=VAEConfig.hidden_units,
        observation_std=VAEConfig.observation_std,
        encoder=None,
        decoder=None,
        num_classes=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(seed=seed, **kwargs)
        # === Config ===
        self.latent_dim = validation.check_positive_int("latent_dim", latent_dim)
        validation.check_num_classes(num_classes)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.architecture = architecture
        self.likelihood = validation.check_choice("likelihood", likelihood, LIKELIHOODS)
        # Maps per image channel in the decoder's output (2: means, then log-scales).
        self.parameters_per_channel = DECODER_PARAMETERS_PER_CHANNEL.get(self.likelihood, 1)
        self.beta = validation.check_number("beta", beta, minimum=0.0)
        self.base_filters = base_filters
        self.hidden_units = hidden_units
        self.observation_std = validation.check_number(
            "observation_std", observation_std, minimum=0.0, exclusive_minimum=True, allow_none=True
        )
        if self.observation_std is not None and self.likelihood != "gaussian":
            raise ValueError(
                f"observation_std applies to likelihood='gaussian' only, got observation_std={observation_std!r} "
                f"with likelihood={self.likelihood!r} (the per-pixel likelihoods learn their scales)."
            )
        # === Networks ===
        if (encoder is None) != (decoder is None):
            raise ValueError(
                "Pass both encoder and decoder, or neither "
                f"(got encoder={'set' if encoder is not None else None}, "
                f"decoder={'set' if decoder is not None else None})."
            )
        if encoder is None:
            self.image_shape = vae_networks.check_image_shape(tuple(input_shape))
            encoder = vae_networks.make_encoder(
                self.image_shape, self.latent_dim, architecture, base_filters, hidden_units,
                seed=self.seed, num_classes=self.num_classes,
            )
            decoder = vae_networks.make_decoder(
                self.image_shape, self.latent_dim, architecture, base_filters, hidden_units,
                seed=self.seed + 1, num_classes=self.num_classes,
                parameters_per_channel=self.parameters_per_channel,
            )
        else:
            self.image_shape = self._infer_image_shape(encoder, input_shape)
        self.data_shape = self.image_shape
        self.encoder = encoder
        self.decoder = decoder
        self._check_networks()
        # float32 under mixed precision, like the encoder's outputs it combines.
        self.sampling = Sampling(seed=self.seed, dtype="float32", name="sampling")
        # It has no weights: built now, so that every layer is built and Keras
        # never traces `call` to build the model (under a strategy's scope it
        # would, with the images alone, which a conditional VAE cannot take).
        self.sampling.build([(None, self.latent_dim), (None, self.latent_dim)])
        if likelihood == "gaussian":
            initial = 0.0 if observation_std is None else math.log(observation_std)
            self.log_scale = self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(initial),
                trainable=observation_std is None,
                name="log_scale",
            )
        else:
            self.log_scale = None
        # === Metric trackers (named like the keys train_step returns) ===
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self.built = True

    # ------------------------------------------------------------------ setup
    @staticmethod
    def _infer_image_shape(encoder, input_shape):
        inputs = getattr(encoder, "inputs", None)
        if inputs:
            shape = tuple(inputs[0].shape[1:])
            if None not in shape:
                return vae_networks.check_image_shape(tuple(int(d) for d in shape))
        return vae_networks.check_image_shape(tuple(input_shape))

    def _network_inputs(self, main, labels):
        """A network's inputs: ``main`` alone, or ``[main, labels]`` (int32) when conditional."""
        return main if self.num_classes is None else [main, tf.cast(labels, tf.int32)]

    def _check_networks(self):
        probe = ops.zeros((2,) + self.image_shape)
        labels = tf.zeros((2,), tf.int32)
        and_labels = "" if self.num_classes is None else " and labels of shape (None,)"
        try:
            outputs = self.encoder(self._network_inputs(probe, labels), training=False)
        except Exception as error:  # the user's network rejected our images
            raise ValueError(
                f"The encoder could not take images of shape {(None,) + self.image_shape}{and_labels}: {error}"
            ) from error
        if not isinstance(outputs, (tuple, list)) or len(outputs) != 2:
            raise ValueError(
                "Expected the encoder to return (z_mean, z_log_var), "
                f"got {type(outputs).__name__} with "
                f"{len(outputs) if isinstance(outputs, (tuple, list)) else 1} output(s)."
            )
        for name, tensor in zip(("z_mean", "z_log_var"), outputs):
            if tuple(tensor.shape) != (2, self.latent_dim):
                raise ValueError(
                    f"Expected the encoder's {name} to have shape (batch, {self.latent_dim}) "
                    f"for latent_dim={self.latent_dim}, got {tuple(tensor.shape)[1:]} per example."
                )
        try:
            decoded = self.decoder(self._network_inputs(ops.zeros((2, self.latent_dim)), labels), training=False)
        except Exception as error:
            raise ValueError(
                f"The decoder could not take latent vectors of shape (None, {self.latent_dim}){and_labels}: {error}"
            ) from error
        height, width, channels = self.image_shape
        expected = (height, width, self.parameters_per_channel * channels)
        if tuple(decoded.shape[1:]) != expected:
            what = "images" if self.parameters_per_channel == 1 else (
                f"{self.parameters_per_channel} maps per image channel (means, then log-scales) for "
                f"likelihood={self.likelihood!r},"
            )
            raise ValueError(
                f"Expected the decoder to output {what} of shape {expected} "
                f"(from the encoder's input {self.image_shape}), got {tuple(decoded.shape[1:])}."
            )

    def compile(self, optimizer=None, **kwargs):
        """Configures the optimizer and builds its state right away (:meth:`prepare_optimizer`).

        Args:
            optimizer: instance, name or config; default
                :func:`tfgen.models.config.default_vae_optimizer`, Adam(1e-3).
            **kwargs: passed to ``keras.Model.compile``; the VAE's loss is its
                own, so ``loss`` must not be given.
        """
        if kwargs.get("loss") is not None:
            raise ValueError(
                f"The VAE computes its own loss (reconstruction + beta * KL); got loss={kwargs['loss']!r}."
            )
        # mixed_float16 networks: dynamic loss scaling (train_step scales the
        # loss, apply_if_finite unscales and skips overflowing steps).
        optimizer = self.prepare_optimizer(
            optimizer, default_vae_optimizer, self.trainable_variables, [self.encoder, self.decoder],
            kwargs.get("auto_scale_loss", True),
        )
        super().compile(optimizer=optimizer, **kwargs)
        if not self.optimizer.built:  # Keras wrapped it for mixed_float16 after all
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):
        # Keras skips compile_from_config for overridden compile methods
        # unless the subclass provides it; this keeps optimizer state on reload.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    # ----------------------------------------------------------------- losses
    def likelihood_parameters(self, decoder_output):
        """The parameters of ``p(x|z)`` for the decoder's output: a tuple of float32 tensors.

        They are the arguments after ``images`` of the likelihood's loss,
        ``LIKELIHOODS[likelihood](images, *parameters)``:

        * ``"bernoulli"``: ``(logits,)``, ``[B, H, W, C]``;
        * ``"gaussian"``: ``(means, log_scale)``, the model's scalar ``log_scale``;
        * ``"gaussian_per_pixel"``, ``"discretized_logistic"``: ``(means,
          log_scales)``, each ``[B, H, W, C]``: the decoder's first ``C``
          channels, and its last ``C`` softly bounded to (-7, 2) by
          :func:`tfgen.losses.bounded_log_scale`.

        Args:
            decoder_output: the decoder's output ``[B, H, W, C]`` or ``[B, H, W, 2C]``.
        """
        decoder_output = tf.cast(decoder_output, "float32")
        if self.parameters_per_channel == 2:
            means, raw_log_scales = tf.split(decoder_output, 2, axis=-1)
            return means, tfgen_losses.bounded_log_scale(raw_log_scales)
        if self.log_scale is not None:
            return decoder_output, ops.cast(self.log_scale, "float32")
        return (decoder_output,)

    def _reconstruction_loss(self, images, decoder_output):
        return LIKELIHOODS[self.likelihood](images, *self.likelihood_parameters(decoder_output))

    def _per_example_losses(self, images, labels, noise, training):
        """Returns per-image ``(total, reconstruction, kl)``, each float32 ``[B]``."""
        z_mean, z_log_var = self.encoder(self._network_inputs(images, labels), training=training)
        z = self.sampling([z_mean, z_log_var], noise=noise)
        decoder_output = self.decoder(self._network_inputs(z, labels), training=training)
        reconstruction = self._reconstruction_loss(images, decoder_output)
        kl = tfgen_losses.kl_divergence(
            ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")
        )
        return reconstruction + self.beta * kl, reconstruction, kl

    def _update_trackers(self, total, reconstruction, kl):
        # Per-example values: under tf.distribute the trackers' totals and
        # counts are summed over replicas, so results are global means.
        self.loss_tracker.update_state(total)
        self.reconstruction_loss_tracker.update_state(reconstruction)
        self.kl_loss_tracker.update_state(kl)
        return tfgen_distribute.step_logs({m.name: m.result() for m in self.metrics})

    def train_step(self, data):
        """One update on a batch of images; skipped if its loss or gradients are not finite.

        Args:
            data: ``images``, ``(images,)`` or ``(images, labels)``; labels
                (int ``[B]``) are required when conditional and ignored otherwise.

        Returns:
            dict: ``loss`` (reconstruction + beta * KL), ``reconstruction_loss``,
            ``kl_loss``: running means over the epoch, in nats per image.
        """
        images, labels = self.unpack_batch(data)
        batch_size = tf.shape(images)[0]
        noise = tfgen_random.replica_normal(
            batch_size, (self.latent_dim,), self.seed, self.step_counter.value, "posterior"
        )
        with tf.GradientTape() as tape:
            total, reconstruction, kl = self._per_example_losses(images, labels, noise, training=True)
            loss = tfgen_distribute.global_mean(total)
            scaled_loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled_loss, variables)
        self.apply_if_finite(self.optimizer, loss, gradients, variables)
        self.step_counter.assign_add(1)
        return self._update_trackers(total, reconstruction, kl)

    def test_step(self, data):
        images, labels = self.unpack_batch(data)
        noise = tfgen_random.replica_normal(
            tf.shape(images)[0], (self.latent_dim,), self.seed, 0, "evaluation"
        )
        total, reconstruction, kl = self._per_example_losses(images, labels, noise, training=False)
        return self._update_trackers(total, reconstruction, kl)

    def call(self, inputs, training=False):
        """Deterministic reconstruction parameters ``decoder(z_mean)`` (the decoder's raw output).

        ``inputs``: images ``[B, H, W, C]``, or ``[images, labels]`` when conditional.
        """
        images, labels = (inputs, None) if self.num_classes is None else inputs
        z_mean, _ = self.encoder(self._network_inputs(images, labels), training=training)
        return self.decoder(self._network_inputs(z_mean, labels), training=training)

    # -------------------------------------------------------------- inference
    def _check_images(self, images):
        images = tf.convert_to_tensor(images)
        if not images.dtype.is_floating:
            raise ValueError(
                f"Expected float images in [-1, 1], got dtype {images.dtype.name}. "
                "Scale uint8 pixels with x / 127.5 - 1."
            )
        if images.shape.rank != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"Expected images of shape (batch, {', '.join(map(str, self.image_shape))}), "
                f"got {tuple(images.shape)}."
            )
        return tf.cast(images, "float32")

    def _check_latents(self, z):
        z = tf.cast(tf.convert_to_tensor(z), "float32")
        if z.shape.rank != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"Expected latent vectors of shape (batch, {self.latent_dim}), got {tuple(z.shape)}."
            )
        return z

    def _check_labels(self, labels, examples, method):
        """User labels for a batch of ``examples``: int32 ``[N]`` when conditional, else ``None``.

        Raises:
            ValueError: missing labels for a conditional model, labels for an
                unconditional one, or labels of the wrong shape, dtype or range.
        """
        if self.num_classes is None and labels is None:
            return None
        num_examples = int(examples.shape[0])
        if labels is None:
            raise ValueError(
                f"This VAE is conditional (num_classes={self.num_classes}): {method} needs labels, ints "
                f"of shape ({num_examples},) in [0, {self.num_classes - 1}]."
            )
        return self.check_labels(labels, num_examples)

    def _assert_labels(self, labels):
        """``labels`` int32 ``[N]`` with in-graph range checks (the exports' ``labels`` inputs), or ``None``."""
        if labels is None:
            return None
        checks = [
            tf.debugging.assert_non_negative(labels, message="labels must be >= 0"),
            tf.debugging.assert_less(
                labels, self.num_classes, message=f"labels must be < num_classes={self.num_classes}"
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(labels)

    def decoder_output_to_images(self, decoder_output):
        """Maps decoder output to the images it describes: float32 ``[N, H, W, C]`` in [-1, 1].

        ``2 * sigmoid(logits) - 1`` for ``"bernoulli"`` (the mean image), else
        the means (for the logistic also its median), clipped to [-1, 1].
        """
        if self.likelihood == "bernoulli":
            return 2.0 * tf.sigmoid(tf.cast(decoder_output, "float32")) - 1.0
        return tf.clip_by_value(self.likelihood_parameters(decoder_output)[0], -1.0, 1.0)

    def _encode(self, images, labels):
        z_mean, z_log_var = self.encoder(self._network_inputs(images, labels), training=False)
        return tf.cast(z_mean, "float32"), tf.cast(z_log_var, "float32")

    def _decode(self, z, labels):
        return self.decoder_output_to_images(self.decoder(self._network_inputs(z, labels), training=False))

    def encode(self, images, labels=None):
        """Posterior parameters of ``images``.

        Args:
            images: float ``[N, H, W, C]`` in [-1, 1].
            labels: conditional models only (and required): ints ``[N]`` in
                ``[0, num_classes)``, the images' classes.

        Returns:
            ``(z_mean, z_log_var)``, float32 tensors ``[N, latent_dim]``.

        Raises:
            ValueError: images of the wrong shape or dtype, missing labels
                (conditional) or labels given (unconditional), labels of the
                wrong shape or out of range.
        """
        images = self._check_images(images)
        return self._encode(images, self._check_labels(labels, images, "encode"))

    def decode(self, z, labels=None):
        """Images for latent vectors: float32 ``[N, H, W, C]`` in [-1, 1] (see :meth:`decoder_output_to_images`).

        Args:
            z: float ``[N, latent_dim]``.
            labels: conditional models only (and required): ints ``[N]`` in ``[0, num_classes)``.
        """
        z = self._check_latents(z)
        return self._decode(z, self._check_labels(labels, z, "decode"))

    def reconstruct(self, images, labels=None):
        """``decode(z_mean, labels)`` for ``images`` float ``[N, H, W, C]`` in [-1, 1]; same shape out, in [-1, 1].

        ``labels``: as for :meth:`encode`.
        """
        images = self._check_images(images)
        labels = self._check_labels(labels, images, "reconstruct")
        z_mean, _ = self._encode(images, labels)
        return self._decode(z_mean, labels)

    def generate_from_latents(self, latents, labels=None):
        """Images ``[N, H, W, C]`` in [-1, 1] for prior latents ``[N, latent_dim]`` (and int32 labels ``[N]``).

        Labels are not validated here: :meth:`generate` and the exports check them.
        """
        return self._decode(self._check_latents(latents), labels)

    def elbo(self, images, seed=None, batch_size=256, verbose=0, labels=None):
        """Single-sample ELBO ``log p(x|z) - KL`` per image, in nats: float64 NumPy ``[N]``."""
        return self.log_likelihood(
            images, num_samples=1, seed=seed, batch_size=batch_size, verbose=verbose, labels=labels
        )

    @tf.function(reduce_retracing=True)
    def _log_weights(self, images, noise, labels=None):
        """``log p(x|z) + log p(z) - log q(z|x)`` for noise ``[K, B, D]`` -> ``[K, B]``."""
        z_mean, z_log_var = self._encode(images, labels)
        num_draws = tf.shape(noise)[0]
        batch_size = tf.shape(images)[0]
        z = z_mean[None] + tf.exp(0.5 * z_log_var)[None] * noise  # [K, B, D]
        flat_z = tf.reshape(z, [-1, self.latent_dim])
        flat_labels = None if labels is None else tf.tile(labels, [num_draws])  # row k * B + b: labels[b]
        decoder_output = self.decoder(self._network_inputs(flat_z, flat_labels), training=False)
        tiled = tf.reshape(
            tf.tile(images[None], [num_draws, 1, 1, 1, 1]), (-1,) + self.image_shape
        )
        log_px_z = -tf.reshape(self._reconstruction_loss(tiled, decoder_output), [num_draws, batch_size])
        log_pz = tfgen_losses.standard_normal_log_density(z)
        log_qz_x = tfgen_losses.gaussian_log_density(z, z_mean[None], z_log_var[None])
        return log_px_z + log_pz - log_qz_x

    def log_likelihood(self, images, num_samples=100, seed=None, batch_size=256, verbose=0, labels=None):
        """Importance-weighted (IWAE) estimate of ``log p(x)`` per image, in nats.

        ``log p(x) ~= logsumexp_k(log p(x|z_k) + log p(z_k) - log q(z_k|x)) - log K``
        with ``z_k ~ q(z|x)``: a lower bound that equals the ELBO for K = 1 and
        rises towards ``log p(x)`` as K grows (Burda et al., 2016). For the
        Gaussian likelihoods it is a log-density (not comparable with a
        probability); for ``"discretized_logistic"`` it is the log-probability
        of the 8-bit images, comparable across models (bits per dimension:
        ``-log_likelihood / (H * W * C * ln 2)``). A conditional model gives
        ``log p(x | y)`` for the ``labels`` ``y``.

        Args:
            images: float ``[N, H, W, C]`` in [-1, 1] (binary {-1, 1} data for
                a Bernoulli model; 8-bit values ``k / 127.5 - 1`` for a
                discretised logistic one).
            num_samples: K, importance samples per image.
            seed: seed of the importance samples (default: the model's seed).
            batch_size: images per decoder call; each call decodes at most
                ``batch_size`` latent vectors.
            verbose: 1 shows a progress bar (images done).
            labels: conditional models only (and required): ints ``[N]`` in
                ``[0, num_classes)``, the images' classes.

        Returns:
            float64 NumPy ``[N]``. Average it for nats per image.

        Raises:
            ValueError: bad arguments, labels as for :meth:`encode`, or (for
                ``"discretized_logistic"``) images off the 8-bit grid.
        """
        num_samples = validation.check_positive_int("num_samples", num_samples)
        batch_size = validation.check_positive_int("batch_size", batch_size)
        images = self._check_images(images)
        labels = self._check_labels(labels, images, "log_likelihood")
        if self.likelihood == "discretized_logistic":
            self._check_8_bit(images)
        seed = self.seed if seed is None else validation.check_seed("seed", seed)
        num_images = int(images.shape[0])
        progress = keras.utils.Progbar(num_images, unit_name="image") if verbose else None
        # Split K into draws of at most batch_size latent vectors per call.
        images_per_call = max(1, min(num_images, batch_size))
        draws_per_call = max(1, batch_size // images_per_call)
        results = []
        for start in range(0, num_images, images_per_call):
            chunk = images[start : start + images_per_call]
            chunk_labels = None if labels is None else labels[start : start + images_per_call]
            log_weights = []
            for draw_start in range(0, num_samples, draws_per_call):
                draws = min(draws_per_call, num_samples - draw_start)
                noise = tf.random.stateless_normal(
                    (draws, int(chunk.shape[0]), self.latent_dim),
                    seed=tfgen_random.stateless_seed(
                        seed, start * num_samples + draw_start, "evaluation"
                    ),
                )
                log_weights.append(self._log_weights(chunk, noise, chunk_labels).numpy().astype(np.float64))
            log_weights = np.concatenate(log_weights, axis=0)  # [K, b]
            peak = log_weights.max(axis=0)
            results.append(
                peak + np.log(np.mean(np.exp(log_weights - peak), axis=0))
            )
            if progress is not None:
                progress.add(int(chunk.shape[0]))
        return np.concatenate(results)

    @staticmethod
    def _check_8_bit(images):
        """Raises ``ValueError`` unless every value of ``images`` is one of the 256 levels ``k / 127.5 - 1``."""
        pixels = (images.numpy().astype(np.float64) + 1.0) * 127.5
        off_grid = (np.abs(pixels - np.round(pixels)) > PIXEL_GRID_TOLERANCE) | (pixels < -0.5) | (pixels > 255.5)
        if off_grid.any():
            value = float(images.numpy()[off_grid][0])
            raise ValueError(
                "likelihood='discretized_logistic' gives probabilities of 8-bit images: expected values "
                f"k / 127.5 - 1 for k in 0..255 (x / 127.5 - 1 of uint8 pixels), got {value!r} "
                f"({int(off_grid.sum())} values off that grid)."
            )

    # -------------------------------------------------------------- exporting
    def serving_endpoints(self):
        """The shared endpoints, plus ``decode``, ``encode`` and ``reconstruct``.

        * ``decode``: ``latent`` ``[N, latent_dim]`` -> ``images`` ``[N, H, W, C]`` in [-1, 1];
        * ``encode``: ``images`` -> ``z_mean``, ``z_log_var`` ``[N, latent_dim]``;
        * ``reconstruct``: ``images`` -> ``images`` (``decode(z_mean)``).

        A conditional model's take ``labels`` int32 ``[N]`` too, checked to be
        in ``[0, num_classes)``.
        """
        images_spec = tf.TensorSpec((None,) + tuple(self.image_shape), tf.float32, name="images")
        latent_spec = tf.TensorSpec((None, self.latent_dim), tf.float32, name="latent")
        labels_specs = [] if self.num_classes is None else [tf.TensorSpec((None,), tf.int32, name="labels")]

        def decode(latent, labels=None):
            return {"images": self._decode(self._check_latents(latent), self._assert_labels(labels))}

        def encode(images, labels=None):
            z_mean, z_log_var = self._encode(self._check_images(images), self._assert_labels(labels))
            return {"z_mean": z_mean, "z_log_var": z_log_var}

        def reconstruct(images, labels=None):
            labels = self._assert_labels(labels)
            z_mean, _ = self._encode(self._check_images(images), labels)
            return {"images": self._decode(z_mean, labels)}

        return super().serving_endpoints() + [
            Endpoint("decode", decode, [latent_spec, *labels_specs]),
            Endpoint("encode", encode, [images_spec, *labels_specs]),
            Endpoint("reconstruct", reconstruct, [images_spec, *labels_specs]),
        ]

    def model_card(self):
        card = super().model_card()
        card.update({"input_shape": list(self.image_shape), "likelihood": self.likelihood})
        return card

    # ---------------------------------------------------------- serialisation
    network_arguments = ("encoder", "decoder")

    def get_config(self):
        config = super().get_config()
        config.update({field.name: getattr(self, field.name) for field in dataclasses.fields(VAEConfig)})
        config["input_shape"] = list(self.image_shape)
        config["num_classes"] = self.num_classes
        return config
