"""The variational autoencoder: ``tfgen.VAE``.

A ``keras.Model`` that wraps two plain functional networks (an encoder
``images -> (z_mean, z_log_var)`` and a decoder ``z -> image parameters``)
and owns ``train_step``/``test_step``. Trained with plain ``model.fit``.

The loss per image is ``-log p(x|z) + beta * KL(q(z|x) || N(0, I))`` in nats
(a negative ELBO when ``beta == 1``), reduced to the mean over the *global*
batch so that updates do not depend on the number of replicas.

Example:
```python
import tfgen
data = tfgen.data.load("digits", batch_size=64, seed=0)
vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=8, seed=0)
vae.compile(optimizer="adam")
vae.fit(data, epochs=5)
images = vae.generate(16, seed=1)     # [16, 16, 16, 1] in [-1, 1]
```
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from tfgen import distribute as tfgen_distribute
from tfgen import losses as tfgen_losses
from tfgen import precision as tfgen_precision
from tfgen import random as tfgen_random
from tfgen.models import vae_networks

LIKELIHOODS = ("bernoulli", "gaussian")


def random_seed():
    """A fresh non-negative int32 seed, drawn when the user passes ``seed=None``."""
    return int(np.random.SeedSequence().generate_state(1)[0] % (2**31 - 1))


def check_seed(seed):
    """Returns ``seed`` as an int (drawing one for ``None``) or raises ``ValueError``."""
    if seed is None:
        return random_seed()
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Expected seed to be None or a non-negative int, got {seed!r}.")
    return int(seed)


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


def _images_from(data):
    """Accepts ``images``, ``(images,)``, ``(images, labels[, weights])``."""
    if isinstance(data, (tuple, list)):
        if not data:
            raise ValueError("Expected a batch of images, got an empty tuple.")
        return data[0]
    return data


@keras.saving.register_keras_serializable(package="tfgen")
class VAE(keras.Model):
    """Variational autoencoder with a reparameterised Gaussian posterior.

    Args:
        input_shape: ``(H, W, C)`` of the images. Ignored when ``encoder`` is
            given (its input shape is used).
        latent_dim: size of the latent vector.
        architecture: ``"conv"`` (default) or ``"mlp"`` for the built-in
            networks (see :mod:`tfgen.models.vae_networks`).
        likelihood: ``"bernoulli"`` (decoder outputs logits; for binary or
            binarised data) or ``"gaussian"`` (decoder outputs means; for
            continuous data).
        beta: weight of the KL term (1.0 gives the ELBO).
        base_filters: filters of the first convolution of the built-in networks.
        hidden_units: width of the dense layers of the built-in networks.
        observation_std: Gaussian likelihood only: a fixed observation
            standard deviation, or ``None`` to learn one scalar (the optimal
            "sigma-VAE" scale).
        encoder: optional ``keras.Model`` mapping images ``[B, H, W, C]`` to
            ``(z_mean, z_log_var)``, each ``[B, latent_dim]``.
        decoder: optional ``keras.Model`` mapping ``[B, latent_dim]`` to
            ``[B, H, W, C]`` logits (Bernoulli) or means (Gaussian).
        seed: int seed of every random draw the model makes (initial weights
            of the built-in networks, training noise, ``generate``,
            ``log_likelihood``); ``None`` draws one and stores it
            in the config, so a reloaded model reproduces the original.

    Raises:
        ValueError: unknown ``likelihood``/``architecture``, non-positive
            ``latent_dim`` or ``beta``, or networks whose shapes do not match.
    """

    def __init__(
        self,
        input_shape=(28, 28, 1),
        latent_dim=16,
        architecture="conv",
        likelihood="bernoulli",
        beta=1.0,
        base_filters=32,
        hidden_units=256,
        observation_std=None,
        encoder=None,
        decoder=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(latent_dim, (int, np.integer)) or latent_dim < 1:
            raise ValueError(f"Expected latent_dim to be a positive int, got {latent_dim!r}.")
        if likelihood not in LIKELIHOODS:
            raise ValueError(
                f"Unknown likelihood {likelihood!r}. Valid likelihoods: {sorted(LIKELIHOODS)}"
            )
        if not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(f"Expected beta to be a non-negative number, got {beta!r}.")
        if observation_std is not None and (
            not isinstance(observation_std, (int, float)) or observation_std <= 0
        ):
            raise ValueError(
                f"Expected observation_std to be None or a positive number, got {observation_std!r}."
            )
        # === Config ===
        self.latent_dim = int(latent_dim)
        self.architecture = architecture
        self.likelihood = likelihood
        self.beta = float(beta)
        self.base_filters = base_filters
        self.hidden_units = hidden_units
        self.observation_std = observation_std
        self.seed = check_seed(seed)
        # === Networks ===
        if (encoder is None) != (decoder is None):
            raise ValueError(
                "Pass both encoder and decoder, or neither "
                f"(got encoder={'set' if encoder is not None else None}, "
                f"decoder={'set' if decoder is not None else None})."
            )
        if encoder is None:
            self.image_shape = vae_networks._check_image_shape(tuple(input_shape))
            encoder = vae_networks.make_encoder(
                self.image_shape, self.latent_dim, architecture, base_filters, hidden_units,
                seed=self.seed,
            )
            decoder = vae_networks.make_decoder(
                self.image_shape, self.latent_dim, architecture, base_filters, hidden_units,
                seed=self.seed + 1,
            )
        else:
            self.image_shape = self._infer_image_shape(encoder, input_shape)
        self.encoder = encoder
        self.decoder = decoder
        self._check_networks()
        # float32 under mixed precision, like the encoder's outputs it combines.
        self.sampling = Sampling(seed=self.seed, dtype="float32", name="sampling")
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
                return vae_networks._check_image_shape(tuple(int(d) for d in shape))
        return vae_networks._check_image_shape(tuple(input_shape))

    def _check_networks(self):
        probe = ops.zeros((2,) + self.image_shape)
        try:
            outputs = self.encoder(probe, training=False)
        except Exception as error:  # the user's network rejected our images
            raise ValueError(
                f"The encoder could not take images of shape {(None,) + self.image_shape}: {error}"
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
            decoded = self.decoder(ops.zeros((2, self.latent_dim)), training=False)
        except Exception as error:
            raise ValueError(
                f"The decoder could not take latent vectors of shape (None, {self.latent_dim}): {error}"
            ) from error
        if tuple(decoded.shape[1:]) != self.image_shape:
            raise ValueError(
                f"Expected the decoder to output images of shape {self.image_shape} "
                f"(the encoder's input), got {tuple(decoded.shape[1:])}."
            )

    def compile(self, optimizer="adam", **kwargs):
        """Configures the optimizer and builds its state right away.

        Building here (inside the caller's strategy scope) means the
        optimizer's variables exist before ``fit``, ``load_weights`` or a
        backup restore, and are mirrored correctly under ``tf.distribute``.
        Extra keyword arguments go to ``keras.Model.compile``; the VAE's
        loss is its own, so ``loss`` must not be given.
        """
        if kwargs.get("loss") is not None:
            raise ValueError(
                f"The VAE computes its own loss (reconstruction + beta * KL); got loss={kwargs['loss']!r}."
            )
        if kwargs.get("auto_scale_loss", True):
            # mixed_float16 networks: dynamic loss scaling (train_step scales
            # the loss, apply_gradients unscales and skips overflowing steps).
            optimizer = tfgen_precision.with_loss_scaling(
                keras.optimizers.get(optimizer), self.encoder, self.decoder
            )
        super().compile(optimizer=optimizer, **kwargs)
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
    def _reconstruction_loss(self, images, decoder_output):
        decoder_output = ops.cast(decoder_output, "float32")
        if self.likelihood == "bernoulli":
            return tfgen_losses.bernoulli_reconstruction_loss(images, decoder_output)
        return tfgen_losses.gaussian_reconstruction_loss(
            images, decoder_output, ops.cast(self.log_scale, "float32")
        )

    def _per_example_losses(self, images, noise, training):
        """Returns per-image ``(total, reconstruction, kl)``, each float32 ``[B]``."""
        z_mean, z_log_var = self.encoder(images, training=training)
        z = self.sampling([z_mean, z_log_var], noise=noise)
        decoder_output = self.decoder(z, training=training)
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
        # float32 also under mixed precision: the encoder casts to its compute
        # dtype in its first layer, and the likelihood compares float32 targets.
        images = ops.cast(_images_from(data), "float32")
        batch_size = tf.shape(images)[0]
        noise = tfgen_random.replica_normal(
            batch_size, (self.latent_dim,), self.seed, self.optimizer.iterations, "posterior"
        )
        with tf.GradientTape() as tape:
            total, reconstruction, kl = self._per_example_losses(images, noise, training=True)
            loss = tfgen_random.global_mean(total)
            scaled_loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled_loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._update_trackers(total, reconstruction, kl)

    def test_step(self, data):
        images = ops.cast(_images_from(data), "float32")
        noise = tfgen_random.replica_normal(
            tf.shape(images)[0], (self.latent_dim,), self.seed, 0, "evaluation"
        )
        total, reconstruction, kl = self._per_example_losses(images, noise, training=False)
        return self._update_trackers(total, reconstruction, kl)

    def call(self, inputs, training=False):
        """Deterministic reconstruction parameters: ``decoder(z_mean(inputs))``."""
        z_mean, _ = self.encoder(inputs, training=training)
        return self.decoder(z_mean, training=training)

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

    def decoder_output_to_images(self, decoder_output):
        """Maps decoder output (logits or means) to mean images in [-1, 1]."""
        decoder_output = tf.cast(decoder_output, "float32")
        if self.likelihood == "bernoulli":
            return 2.0 * tf.sigmoid(decoder_output) - 1.0
        return tf.clip_by_value(decoder_output, -1.0, 1.0)

    def encode(self, images):
        """Posterior parameters of ``images``.

        Args:
            images: float ``[N, H, W, C]`` in [-1, 1].

        Returns:
            ``(z_mean, z_log_var)``, float32 tensors ``[N, latent_dim]``.
        """
        z_mean, z_log_var = self.encoder(self._check_images(images), training=False)
        return tf.cast(z_mean, "float32"), tf.cast(z_log_var, "float32")

    def decode(self, z):
        """Mean images for latent vectors ``z`` float ``[N, latent_dim]``: float32 ``[N, H, W, C]`` in [-1, 1]."""
        return self.decoder_output_to_images(self.decoder(self._check_latents(z), training=False))

    def reconstruct(self, images):
        """``decode(z_mean)`` for ``images`` float ``[N, H, W, C]`` in [-1, 1]; same shape out, in [-1, 1]."""
        z_mean, _ = self.encode(images)
        return self.decode(z_mean)

    def sample_latents(self, num_samples, seed=None):
        """Draws ``num_samples`` prior latent vectors ``N(0, I)``: float32 ``[N, latent_dim]``."""
        if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
            raise ValueError(f"Expected num_samples to be a positive int, got {num_samples!r}.")
        seed = self.seed if seed is None else check_seed(seed)
        return tf.random.stateless_normal(
            (int(num_samples), self.latent_dim),
            seed=tfgen_random.stateless_seed(seed, 0, "latent"),
        )

    def generate(self, num_samples, seed=None):
        """Samples images from the prior: float32 ``[num_samples, H, W, C]`` in [-1, 1].

        The same ``seed`` (default: the model's seed) gives the same images.
        """
        return self.decode(self.sample_latents(num_samples, seed))

    def elbo(self, images, seed=None, batch_size=256):
        """Single-sample ELBO ``log p(x|z) - KL`` per image, in nats: float64 NumPy ``[N]``."""
        return self.log_likelihood(images, num_samples=1, seed=seed, batch_size=batch_size)

    @tf.function(reduce_retracing=True)
    def _log_weights(self, images, noise):
        """``log p(x|z) + log p(z) - log q(z|x)`` for noise ``[K, B, D]`` -> ``[K, B]``."""
        z_mean, z_log_var = self.encoder(images, training=False)
        z_mean = tf.cast(z_mean, "float32")
        z_log_var = tf.cast(z_log_var, "float32")
        num_draws = tf.shape(noise)[0]
        batch_size = tf.shape(images)[0]
        z = z_mean[None] + tf.exp(0.5 * z_log_var)[None] * noise  # [K, B, D]
        flat_z = tf.reshape(z, [-1, self.latent_dim])
        decoder_output = self.decoder(flat_z, training=False)
        tiled = tf.reshape(
            tf.tile(images[None], [num_draws, 1, 1, 1, 1]), (-1,) + self.image_shape
        )
        log_px_z = -tf.reshape(self._reconstruction_loss(tiled, decoder_output), [num_draws, batch_size])
        log_pz = tfgen_losses.standard_normal_log_density(z)
        log_qz_x = tfgen_losses.gaussian_log_density(z, z_mean[None], z_log_var[None])
        return log_px_z + log_pz - log_qz_x

    def log_likelihood(self, images, num_samples=100, seed=None, batch_size=256):
        """Importance-weighted (IWAE) estimate of ``log p(x)`` per image, in nats.

        ``log p(x) ~= logsumexp_k(log p(x|z_k) + log p(z_k) - log q(z_k|x)) - log K``
        with ``z_k ~ q(z|x)``: a lower bound that equals the ELBO for K = 1 and
        rises towards ``log p(x)`` as K grows (Burda et al., 2016). For the
        Gaussian likelihood it is a log-density.

        Args:
            images: float ``[N, H, W, C]`` in [-1, 1] (binary {-1, 1} data for
                a Bernoulli model).
            num_samples: K, importance samples per image.
            seed: seed of the importance samples (default: the model's seed).
            batch_size: images per decoder call; each call decodes at most
                ``batch_size`` latent vectors.

        Returns:
            float64 NumPy ``[N]``. Average it for nats per image.
        """
        if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
            raise ValueError(f"Expected num_samples to be a positive int, got {num_samples!r}.")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"Expected batch_size to be a positive int, got {batch_size!r}.")
        images = self._check_images(images)
        seed = self.seed if seed is None else check_seed(seed)
        num_images = int(images.shape[0])
        # Split K into draws of at most batch_size latent vectors per call.
        images_per_call = max(1, min(num_images, batch_size))
        draws_per_call = max(1, batch_size // images_per_call)
        results = []
        for start in range(0, num_images, images_per_call):
            chunk = images[start : start + images_per_call]
            log_weights = []
            for draw_start in range(0, num_samples, draws_per_call):
                draws = min(draws_per_call, num_samples - draw_start)
                noise = tf.random.stateless_normal(
                    (draws, int(chunk.shape[0]), self.latent_dim),
                    seed=tfgen_random.stateless_seed(
                        seed, start * num_samples + draw_start, "evaluation"
                    ),
                )
                log_weights.append(self._log_weights(chunk, noise).numpy().astype(np.float64))
            log_weights = np.concatenate(log_weights, axis=0)  # [K, b]
            peak = log_weights.max(axis=0)
            results.append(
                peak + np.log(np.mean(np.exp(log_weights - peak), axis=0))
            )
        return np.concatenate(results)

    # ---------------------------------------------------------- serialisation
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_shape": list(self.image_shape),
                "latent_dim": self.latent_dim,
                "architecture": self.architecture,
                "likelihood": self.likelihood,
                "beta": self.beta,
                "base_filters": self.base_filters,
                "hidden_units": self.hidden_units,
                "observation_std": self.observation_std,
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        if config.get("input_shape") is not None:
            config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)
