"""The generative adversarial network: ``tfgen.models.gan.GAN``.

A ``keras.Model`` that holds two plain functional networks, a generator
``z (, labels) -> x`` and a discriminator ``x (, labels) -> logit``, and owns
``train_step``/``test_step``. Trained with plain ``model.fit``.

One ``train_step`` runs ``d_steps_per_g_step`` discriminator updates and then
one generator update (``compile(update="alternating")``, the default), or,
with ``compile(update="simultaneous")``, one discriminator and one generator
update from a single generator forward, the generator's gradient taken
against the discriminator before its update (the TensorFlow DCGAN tutorial's
step, cheaper per step):

* every discriminator update reuses the same batch of real examples with fresh
  noise (as in the Keras WGAN-GP example); use a larger batch for more real
  data per update;
* a discriminator update changes only the discriminator's variables and its
  optimizer, a generator update only the generator's (the other network runs
  in training mode inside a ``keras.StatelessScope``, so its batch-norm
  statistics and spectral-norm vectors are not written);
* an update whose loss or gradients are not finite is skipped on every
  replica, so the weights keep their last finite values, and
  :class:`StopOnNonFiniteLoss` (added to ``fit`` automatically) stops training
  with a message naming the loss, epoch and batch;
* under the ``mixed_float16`` policy both optimizers are wrapped in
  ``keras.optimizers.LossScaleOptimizer`` (see :mod:`tfgen.precision`); a step
  whose scaled gradients overflow (loss finite) is skipped and halves the loss
  scale without stopping training. Losses, penalties, logits and the EMA
  weights stay float32 under every policy;
* every random draw comes from :mod:`tfgen.random`: row ``i`` of the global
  batch at step ``s`` gets noise ``f(seed, s, i)``, so runs are reproducible
  and every replica draws different noise.

Losses are reduced to the mean over the *global* batch with
:func:`tfgen.random.global_mean` (Keras sums gradients over replicas).

Example:
```python
import tfgen.data
from tfgen.models.gan import GAN
data = tfgen.data.load("ring8", batch_size=256, seed=0, repeat=True)  # [256, 2] points
gan = GAN(input_shape=(2,), latent_dim=16, seed=0)
gan.compile(loss="hinge", ema_decay=0.999)
gan.fit(data, epochs=1, steps_per_epoch=2000)
points = gan.generate(2500, seed=1)                         # [2500, 2]
```
"""

import copy
import math
import warnings

import keras
import numpy as np
import tensorflow as tf

from tfgen import distribute as tfgen_distribute
from tfgen import losses as tfgen_losses
from tfgen import precision as tfgen_precision
from tfgen import random as tfgen_random
from tfgen.models import gan_networks
from tfgen.models.vae import check_seed


# compile(update=...) -> the GAN method that runs one train step's updates.
UPDATE_SCHEMES = {
    # d_steps_per_g_step discriminator updates, then a generator update on
    # fresh noise against the updated discriminator (keras-io's DCGAN).
    "alternating": "_alternating_updates",
    # One generator forward shared by both updates; the generator's gradient
    # is taken against the discriminator before its update (the TensorFlow
    # DCGAN tutorial's step): fewer FLOPs per step.
    "simultaneous": "_simultaneous_updates",
}


def default_optimizer():
    """Adam(2e-4, beta_1=0.5), the DCGAN setting used for both networks by default."""
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)


def _all_finite(tensors):
    """True when every element of every (non-None) tensor is finite."""
    checks = [tf.reduce_all(tf.math.is_finite(t)) for t in tensors if t is not None]
    return tf.reduce_all(tf.stack(checks)) if checks else tf.constant(True)


def _finite_on_every_replica(finite):
    """All-reduces a per-replica ``finite`` flag so every replica takes the same branch."""
    if not tf.distribute.has_strategy():
        return finite
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return finite
    bad = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.logical_not(finite), tf.float32))
    return tf.equal(bad, 0.0)


def _run_if(condition, update_fn, *args):
    """Runs ``update_fn(*args)`` (optimizer updates, assignments) only if ``condition``.

    In a replica context of a strategy that synchronises with ``merge_call``
    (e.g. ``MirroredStrategy``), ``optimizer.apply`` cannot run inside a
    replica-level ``tf.cond``, so the condition is evaluated in the
    cross-replica context and ``update_fn`` runs on every replica from there
    (the approach of ``keras.optimizers.LossScaleOptimizer``). Pass every
    per-replica tensor ``update_fn`` needs through ``args``.
    """
    condition = _finite_on_every_replica(condition)

    def noop():
        return None

    if not tf.distribute.has_strategy() or tf.__internal__.distribute.strategy_supports_no_merge_call():
        tf.cond(condition, lambda: update_fn(*args), noop)
        return

    def merge_fn(strategy, condition, *args):
        condition = strategy.experimental_local_results(condition)[0]

        def apply_on_replicas():
            strategy.extended.call_for_each_replica(update_fn, args=args)

        tf.cond(condition, apply_on_replicas, noop)

    tf.distribute.get_replica_context().merge_call(merge_fn, args=(condition,) + args)


def _record_overflow(optimizer, loss, gradients, variables):
    """Float16 loss scaling: lowers a ``LossScaleOptimizer``'s scale after an overflow.

    With a finite loss, non-finite gradients of the *scaled* loss mean the
    loss scale is too large, not that training diverged. The step's own
    guard (``_run_if``) has skipped the update; this hands non-finite
    gradients to the ``LossScaleOptimizer`` on every replica, so that it
    halves its scale (and skips, as Keras does) instead of never learning of
    the overflow. The logged loss is finite, so :class:`StopOnNonFiniteLoss`
    does not stop training. No-op for other optimizers.
    """
    if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return
    loss_finite = _finite_on_every_replica(tf.math.is_finite(loss))
    gradients_finite = _finite_on_every_replica(_all_finite(gradients))
    overflow = tf.logical_and(loss_finite, tf.logical_not(gradients_finite))

    def lower_scale(gradients):
        # Non-finite on every replica, so every replica takes the LossScaleOptimizer's skip branch.
        nan = float("nan")
        optimizer.apply([None if g is None else g + tf.constant(nan, g.dtype) for g in gradients], variables)

    _run_if(overflow, lower_scale, gradients)


def _unpack(data):
    """``images``, ``(images,)``, ``(images, labels[, ...])`` -> ``(images, labels or None)``."""
    if isinstance(data, (tuple, list)):
        if not data:
            raise ValueError("Expected a batch of examples, got an empty tuple.")
        return data[0], (data[1] if len(data) > 1 else None)
    if isinstance(data, dict):
        raise ValueError(
            f"Expected a batch of examples or (examples, labels), got a dict with keys {sorted(data)}."
        )
    return data, None


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training when a monitored loss becomes NaN or infinite.

    ``GAN.train_step`` already skips updates whose loss is not finite, so the
    weights (and anything ``ModelCheckpoint`` saves) keep their last finite
    values; this callback ends ``fit`` and says where it happened. The
    message is kept in ``self.message``, printed and issued as a
    ``RuntimeWarning``. ``GAN.fit`` adds one automatically.

    Args:
        monitor: names of the logs to check.
    """

    def __init__(self, monitor=("d_loss", "g_loss")):
        super().__init__()
        self.monitor = tuple(monitor)
        self.message = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        for name in self.monitor:
            if name not in logs:
                continue
            value = float(np.asarray(logs[name]))
            if not math.isfinite(value):
                self.message = (
                    f"{name} became {value} at epoch {self._epoch} batch {batch}; stopping training. "
                    "Updates with non-finite losses were skipped, so the weights (and the last good "
                    "checkpoint) keep their last finite values."
                )
                print(self.message, flush=True)
                warnings.warn(self.message, RuntimeWarning, stacklevel=2)
                self.model.stop_training = True
                return


@keras.saving.register_keras_serializable(package="tfgen")
class GAN(keras.Model):
    """Generative adversarial network trained with ``model.fit``.

    Args:
        input_shape: shape of one example: ``(H, W, C)`` images with
            ``H == W`` in 16, 28, 32 or 64, or ``(D,)`` vectors (2-D points).
            Ignored when ``generator`` is given (its output shape is used).
        latent_dim: size of the latent vector ``z ~ N(0, I)``.
        num_classes: ``None`` (unconditional) or the number of classes; then
            both networks take int labels ``[B]`` and batches are
            ``(examples, labels)``.
        generator: optional ``keras.Model`` mapping ``[B, latent_dim]`` (and
            labels ``[B]`` when conditional, as a second input) to
            ``[B, *shape]``. Default: :func:`gan_networks.make_generator`.
        discriminator: optional ``keras.Model`` mapping ``[B, *shape]`` (and
            labels) to logits ``[B, 1]``. It must not use batch statistics
            (no batch norm) for the gradient penalty/R1 to be valid. Default:
            :func:`gan_networks.make_discriminator`.
        spectral_norm: built-in discriminator only: spectral normalisation
            on every layer.
        base_filters: built-in image networks: filters of the outermost
            convolutions.
        hidden_units: built-in vector networks: widths of the hidden layers.
        dropout: built-in discriminator: dropout rate (0 disables it).
        seed: int seed of every random draw the model makes (initial weights
            of the built-in networks, training noise, ``generate``); ``None``
            draws one and stores it in the config so a reloaded model
            reproduces the original.

    Raises:
        ValueError: unsupported shapes, invalid sizes, or networks whose
            shapes do not fit together (the message says which).

    Example:
    ```python
    gan = GAN(input_shape=(28, 28, 1), latent_dim=64, num_classes=10, seed=0)
    gan.compile(loss="non_saturating", r1_penalty=1.0, ema_decay=0.999)
    gan.fit(dataset_of_images_and_labels, epochs=10)
    images = gan.generate(16, seed=1, labels=[3] * 16)   # [16, 28, 28, 1] in [-1, 1]
    ```
    """

    def __init__(
        self,
        input_shape=(28, 28, 1),
        latent_dim=64,
        num_classes=None,
        generator=None,
        discriminator=None,
        spectral_norm=False,
        base_filters=64,
        hidden_units=(256, 256, 256),
        dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, (int, np.integer)) or latent_dim < 1:
            raise ValueError(f"Expected latent_dim to be a positive int, got {latent_dim!r}.")
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2
        ):
            raise ValueError(f"Expected num_classes to be None or an int >= 2, got {num_classes!r}.")
        # === Config ===
        self.latent_dim = int(latent_dim)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.spectral_norm = bool(spectral_norm)
        self.base_filters = int(base_filters)
        self.hidden_units = (
            [int(u) for u in hidden_units] if isinstance(hidden_units, (list, tuple)) else int(hidden_units)
        )
        self.dropout = float(dropout)
        self.seed = check_seed(seed)
        # === Networks ===
        self.data_shape = self._infer_data_shape(input_shape, generator, discriminator)
        if generator is None:
            generator = gan_networks.make_generator(
                self.data_shape,
                self.latent_dim,
                num_classes=self.num_classes,
                base_filters=self.base_filters,
                hidden_units=self.hidden_units,
                seed=self.seed,
            )
        if discriminator is None:
            discriminator = gan_networks.make_discriminator(
                self.data_shape,
                num_classes=self.num_classes,
                spectral_norm=self.spectral_norm,
                base_filters=self.base_filters,
                hidden_units=self.hidden_units,
                dropout=self.dropout,
                seed=self.seed + 1,
            )
        self.generator = generator
        self.discriminator = discriminator
        self._check_networks()
        # Number of train steps run; with the seed it determines all training noise.
        self.step_counter = self.add_weight(
            shape=(),
            dtype="int64",
            initializer="zeros",
            trainable=False,
            aggregation="only_first_replica",
            name="step_counter",
        )
        # === Metric trackers (named like the keys train_step returns) ===
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.gradient_penalty_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.r1_penalty_tracker = keras.metrics.Mean(name="r1_penalty")
        self.real_accuracy_tracker = keras.metrics.Mean(name="real_accuracy")
        self.fake_accuracy_tracker = keras.metrics.Mean(name="fake_accuracy")
        # === Training configuration (set by compile) ===
        self.d_optimizer = None
        self.g_optimizer = None
        self.ema_generator = None
        self.loss_name = "non_saturating"
        self.gan_loss = tfgen_losses.get_gan_loss(self.loss_name)
        self.gradient_penalty_weight = 0.0
        self.r1_penalty_weight = 0.0
        self.d_steps_per_g_step = 1
        self.ema_decay = None
        self.update_scheme = "alternating"
        self.built = True

    # ------------------------------------------------------------------ setup
    def _infer_data_shape(self, input_shape, generator, discriminator):
        """The example shape: the generator's output, else the discriminator's input, else ``input_shape``."""
        for network, tensors in ((generator, "outputs"), (discriminator, "inputs")):
            if network is None:
                continue
            known = getattr(network, tensors, None)
            if known:
                shape = tuple(known[0].shape[1:])
                if None not in shape:
                    return tuple(int(d) for d in shape)
            if network is generator:
                return tuple(int(d) for d in self._probe_generator(generator).shape[1:])
        return gan_networks.check_data_shape(input_shape)

    def _network_inputs(self, main, labels):
        return [main, labels] if self.num_classes is not None else main

    def _probe_generator(self, generator):
        """The generator's output for a batch of 2 zero latents (and labels), or a ValueError."""
        probe = self._network_inputs(tf.zeros((2, self.latent_dim)), tf.zeros((2,), tf.int32))
        try:
            return generator(probe, training=False)
        except Exception as error:  # the user's network rejected our inputs
            raise ValueError(
                f"The generator could not take latent vectors of shape (None, {self.latent_dim})"
                f"{' and labels (None,)' if self.num_classes else ''}: {error}"
            ) from error

    def _check_networks(self):
        inputs = getattr(self.generator, "inputs", None)
        if inputs and inputs[0].shape[-1] is not None and inputs[0].shape[-1] != self.latent_dim:
            raise ValueError(
                f"The generator takes latent vectors of size {inputs[0].shape[-1]} but "
                f"latent_dim={self.latent_dim}; pass latent_dim={inputs[0].shape[-1]}."
            )
        inputs = getattr(self.discriminator, "inputs", None)
        if inputs and None not in inputs[0].shape[1:] and tuple(inputs[0].shape[1:]) != self.data_shape:
            raise ValueError(
                f"The generator outputs examples of shape {self.data_shape} but the discriminator "
                f"expects {tuple(inputs[0].shape[1:])}."
            )
        labels = tf.zeros((2,), tf.int32)
        fake = self._probe_generator(self.generator)
        if tuple(fake.shape[1:]) != self.data_shape:
            raise ValueError(
                f"The generator outputs examples of shape {tuple(fake.shape[1:])}, expected {self.data_shape}."
            )
        try:
            logits = self.discriminator(self._network_inputs(fake, labels), training=False)
        except Exception as error:
            raise ValueError(
                f"The discriminator could not take the generator's output of shape "
                f"{(None,) + self.data_shape}{' and labels (None,)' if self.num_classes else ''}: {error}"
            ) from error
        if tuple(logits.shape) != (2, 1):
            raise ValueError(
                f"Expected the discriminator to output one logit per example, shape (batch, 1), "
                f"got {tuple(logits.shape)} for a batch of 2."
            )

    # ---------------------------------------------------------------- compile
    def compile(
        self,
        d_optimizer=None,
        g_optimizer=None,
        loss="non_saturating",
        gradient_penalty=0.0,
        r1_penalty=0.0,
        d_steps_per_g_step=1,
        ema_decay=None,
        update="alternating",
        **kwargs,
    ):
        """Configures training.

        ``g_optimizer`` also becomes ``self.optimizer``, so Keras callbacks
        that act on ``model.optimizer`` (learning-rate schedulers,
        TensorBoard's step count) see the generator's optimizer. Both
        optimizers are built here, on their network's trainable variables, so
        their state exists before the first (possibly distributed) step and is
        saved and restored with the model.

        Args:
            d_optimizer: discriminator optimizer (instance, name or config);
                default Adam(2e-4, beta_1=0.5).
            g_optimizer: generator optimizer; same default. Must be a
                different instance from ``d_optimizer``.
            loss: a key of :data:`tfgen.losses.GAN_LOSSES`: ``"non_saturating"``,
                ``"minimax"``, ``"wasserstein"``, ``"hinge"``, ``"least_squares"``.
            gradient_penalty: weight ``lambda`` of the WGAN-GP penalty
                ``lambda * (||grad D(x_hat)|| - 1)^2`` (10 in the paper; 0 disables).
            r1_penalty: ``gamma`` of the R1 penalty ``gamma / 2 * ||grad D(x_real)||^2``
                (0 disables).
            d_steps_per_g_step: discriminator updates per generator update.
            ema_decay: ``None``, or the decay in [0, 1) of an exponential moving
                average of the generator's weights (``self.ema_generator``),
                used by ``generate``. The EMA copy is created, from the
                current generator weights, the first time ``compile`` gets an
                ``ema_decay``; compiling again keeps its weights.
            update: a key of :data:`UPDATE_SCHEMES`. ``"alternating"``
                (default): discriminator update(s), then a generator update
                on fresh noise against the updated discriminator.
                ``"simultaneous"``: one generator forward feeds both updates
                and the generator's gradient is taken against the
                discriminator before its update, as in the TensorFlow DCGAN
                tutorial (about 20% fewer FLOPs per step with DCGAN networks);
                needs ``d_steps_per_g_step=1``.
            **kwargs: passed to ``keras.Model.compile`` (``run_eagerly``,
                ``steps_per_execution``, ``jit_compile``).

        Raises:
            ValueError: invalid values, or Keras arguments that do not apply
                to a GAN (``optimizer``, ``loss_weights``, ``metrics``).
        """
        for key in ("optimizer", "loss_weights", "metrics", "weighted_metrics"):
            if kwargs.get(key) is not None:
                raise ValueError(
                    f"GAN.compile does not take {key}={kwargs[key]!r}; use d_optimizer and g_optimizer "
                    "(the losses and metrics are fixed by the GAN)."
                )
            kwargs.pop(key, None)
        gan_loss = tfgen_losses.get_gan_loss(loss)
        for name, value in (("gradient_penalty", gradient_penalty), ("r1_penalty", r1_penalty)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"Expected {name} to be a non-negative number, got {value!r}.")
        if (
            isinstance(d_steps_per_g_step, bool)
            or not isinstance(d_steps_per_g_step, (int, np.integer))
            or d_steps_per_g_step < 1
        ):
            raise ValueError(f"Expected d_steps_per_g_step to be a positive int, got {d_steps_per_g_step!r}.")
        if update not in UPDATE_SCHEMES:
            raise ValueError(f"Unknown update {update!r}. Valid updates: {sorted(UPDATE_SCHEMES)}")
        if update == "simultaneous" and d_steps_per_g_step != 1:
            raise ValueError(
                f"update='simultaneous' shares one generator forward between one discriminator and one "
                f"generator update; it needs d_steps_per_g_step=1, got {d_steps_per_g_step!r}."
            )
        if ema_decay is not None and (
            isinstance(ema_decay, bool) or not isinstance(ema_decay, (int, float)) or not 0 <= ema_decay < 1
        ):
            raise ValueError(f"Expected ema_decay to be None or a number in [0, 1), got {ema_decay!r}.")

        with self.distribute_strategy.scope():
            d_optimizer = default_optimizer() if d_optimizer is None else keras.optimizers.get(d_optimizer)
            g_optimizer = default_optimizer() if g_optimizer is None else keras.optimizers.get(g_optimizer)
            if d_optimizer is g_optimizer:
                raise ValueError(
                    "d_optimizer and g_optimizer must be different optimizer instances "
                    "(each keeps state for its own network)."
                )
            if kwargs.get("auto_scale_loss", True):
                # mixed_float16: dynamic loss scaling for each network (Keras
                # would wrap only self.optimizer).
                d_optimizer = tfgen_precision.with_loss_scaling(d_optimizer, self.discriminator)
                g_optimizer = tfgen_precision.with_loss_scaling(g_optimizer, self.generator, self.discriminator)
            # Keras' fit machinery and callbacks use self.optimizer.
            super().compile(optimizer=g_optimizer, **kwargs)
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            # Build now, not lazily in the first (traced, maybe distributed)
            # step: see keras-team/keras#19246. Building also lets .keras
            # files restore the optimizers' state.
            if not d_optimizer.built:
                d_optimizer.build(self.discriminator.trainable_variables)
            if not g_optimizer.built:
                g_optimizer.build(self.generator.trainable_variables)
            if ema_decay is not None and self.ema_generator is None:
                self.ema_generator = self._make_ema_generator()

        self.loss_name = loss
        self.gan_loss = gan_loss
        self.gradient_penalty_weight = float(gradient_penalty)
        self.r1_penalty_weight = float(r1_penalty)
        self.d_steps_per_g_step = int(d_steps_per_g_step)
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.update_scheme = update

    def _make_ema_generator(self):
        try:
            ema = keras.models.clone_model(self.generator)
        except Exception as error:
            raise ValueError(
                "ema_decay needs a generator that keras.models.clone_model can copy (a functional or "
                f"Sequential model, or one implementing get_config): {error}"
            ) from error
        ema.set_weights(self.generator.get_weights())
        ema.trainable = False
        return ema

    def get_compile_config(self):
        if not self.compiled or self.d_optimizer is None:
            return None
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "loss": self.loss_name,
            "gradient_penalty": self.gradient_penalty_weight,
            "r1_penalty": self.r1_penalty_weight,
            "d_steps_per_g_step": self.d_steps_per_g_step,
            "ema_decay": self.ema_decay,
            "update": self.update_scheme,
            "run_eagerly": self.run_eagerly,
            "steps_per_execution": self.steps_per_execution,
            "jit_compile": self.jit_compile,
        }

    def compile_from_config(self, config):
        config = copy.deepcopy(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        self.compile(**config)

    @property
    def metrics(self):
        metrics = [self.d_loss_tracker, self.g_loss_tracker]
        if self.gradient_penalty_weight > 0:
            metrics.append(self.gradient_penalty_tracker)
        if self.r1_penalty_weight > 0:
            metrics.append(self.r1_penalty_tracker)
        return metrics + [self.real_accuracy_tracker, self.fake_accuracy_tracker]

    def fit(self, *args, **kwargs):
        """``keras.Model.fit`` plus a :class:`StopOnNonFiniteLoss` unless one is passed."""
        args = list(args)
        positional = len(args) > 5  # fit(x, y, batch_size, epochs, verbose, callbacks, ...)
        callbacks = args[5] if positional else kwargs.get("callbacks")
        if isinstance(callbacks, keras.callbacks.CallbackList):  # already assembled: leave it
            return super().fit(*args, **kwargs)
        callbacks = list(callbacks or [])
        if not any(isinstance(c, StopOnNonFiniteLoss) for c in callbacks):
            callbacks.append(StopOnNonFiniteLoss())
        if positional:
            args[5] = callbacks
        else:
            kwargs["callbacks"] = callbacks
        return super().fit(*args, **kwargs)

    # ---------------------------------------------------------------- helpers
    def _check_batch(self, examples, labels):
        examples = tf.convert_to_tensor(examples)
        if examples.shape.rank is not None and tuple(examples.shape[1:]) != self.data_shape:
            raise ValueError(
                f"Expected batches of shape (batch, {', '.join(map(str, self.data_shape))}), "
                f"got {tuple(examples.shape)}."
            )
        # float32 also under mixed precision: the networks cast to their
        # compute dtype in their first layer, and the penalties interpolate
        # and differentiate with respect to float32 examples.
        examples = tf.cast(examples, tf.float32)
        if self.num_classes is None:
            return examples, None
        if labels is None:
            raise ValueError(
                f"This GAN is conditional (num_classes={self.num_classes}): batches must be "
                "(examples, labels) with int labels [batch]."
            )
        return examples, tf.reshape(tf.cast(labels, tf.int32), [-1])

    def _generate(self, latents, labels, training, network=None):
        network = self.generator if network is None else network
        return network(self._network_inputs(latents, labels), training=training)

    def _discriminate(self, examples, labels, training):
        logits = self.discriminator(self._network_inputs(examples, labels), training=training)
        return tf.cast(logits, tf.float32)

    def _accuracies(self, real_logits, fake_logits):
        """Per-example 0/1: real called real (logit above the loss's threshold), fake called fake."""
        threshold = self.gan_loss.decision_threshold
        return tf.cast(real_logits > threshold, tf.float32), tf.cast(fake_logits < threshold, tf.float32)

    def _discriminator_losses(self, examples, labels, fake, interpolation_weights, training):
        """Per-example discriminator objective and its parts, each float32 ``[B]``."""
        real_logits = self._discriminate(examples, labels, training)
        fake_logits = self._discriminate(fake, labels, training)
        total = self.gan_loss.discriminator_loss(real_logits, fake_logits)
        results = {"real_logits": tf.reshape(real_logits, [-1]), "fake_logits": tf.reshape(fake_logits, [-1])}

        def critic(x):
            return self._discriminate(x, labels, training)

        if self.gradient_penalty_weight > 0:
            penalty = tfgen_losses.gradient_penalty(critic, examples, fake, interpolation_weights)
            total += self.gradient_penalty_weight * penalty
            results["gradient_penalty"] = penalty
        if self.r1_penalty_weight > 0:
            penalty = tfgen_losses.r1_penalty(critic, examples)
            total += 0.5 * self.r1_penalty_weight * penalty
            results["r1_penalty"] = penalty
        results["d_loss"] = total
        return results

    def _check_compiled(self):
        if self.d_optimizer is None:
            raise ValueError("Call GAN.compile() before training.")

    def _interpolation_weights(self, batch_size, noise_step):
        """WGAN-GP interpolation weights ``[B]`` for this step, or ``None`` without the penalty."""
        if self.gradient_penalty_weight <= 0:
            return None
        return tfgen_random.replica_uniform(batch_size, (), self.seed, noise_step, "interpolation")

    def _generator_state_written_in(self, scope):
        """``(variables, new values)`` of the generator's non-trainable state written inside ``scope``.

        The generator runs inside a ``keras.StatelessScope``; its batch-norm
        statistics are assigned from these only if its update is applied.
        """
        state = [v for v in self.generator.non_trainable_variables if scope.get_current_value(v) is not None]
        return state, [scope.get_current_value(v) for v in state]

    # -------------------------------------------------------- training steps
    def discriminator_step(self, examples, labels=None, noise_step=0):
        """One discriminator update on a batch; changes only the discriminator and ``d_optimizer``.

        Fakes come from the generator in training mode inside a
        ``keras.StatelessScope`` (its batch-norm statistics are not updated).
        The update is skipped if the loss or a gradient is not finite.

        Args:
            examples: float ``[B, *shape]`` real examples (images in [-1, 1]).
            labels: int ``[B]`` when conditional, else ``None``.
            noise_step: int, selects the noise (with the model's seed).

        Returns:
            dict of float32 ``[B]`` tensors: ``d_loss`` (the objective,
            penalties included), ``gradient_penalty``/``r1_penalty`` (unweighted,
            when enabled), ``real_logits``, ``fake_logits``.
        """
        self._check_compiled()
        examples, labels = self._check_batch(examples, labels)
        batch_size = tf.shape(examples)[0]
        latents = tfgen_random.replica_normal(batch_size, (self.latent_dim,), self.seed, noise_step, "latent")
        with keras.StatelessScope():
            fake = tf.stop_gradient(tf.cast(self._generate(latents, labels, training=True), examples.dtype))
        interpolation_weights = self._interpolation_weights(batch_size, noise_step)
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            results = self._discriminator_losses(examples, labels, fake, interpolation_weights, training=True)
            loss = tfgen_random.global_mean(results["d_loss"])
            scaled_loss = self.d_optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, variables)
        finite = tf.logical_and(tf.math.is_finite(loss), _all_finite(gradients))

        def update(gradients):
            self.d_optimizer.apply(gradients, variables)

        _run_if(finite, update, gradients)
        _record_overflow(self.d_optimizer, loss, gradients, variables)
        return results

    def generator_step(self, batch_size, labels=None, noise_step=0):
        """One generator update; changes only the generator, ``g_optimizer`` and the EMA copy.

        The discriminator runs in training mode inside a ``keras.StatelessScope``
        (its state is not written); the generator's batch-norm statistics are
        written only if the update is applied (loss and gradients finite).

        Args:
            batch_size: number of fakes (per replica).
            labels: int ``[batch_size]`` when conditional, else ``None``.
            noise_step: int, selects the noise (with the model's seed).

        Returns:
            dict of float32 ``[B]`` tensors: ``g_loss``, ``fake_logits``.
        """
        self._check_compiled()
        if self.num_classes is not None:
            if labels is None:
                raise ValueError(f"This GAN is conditional (num_classes={self.num_classes}): pass labels.")
            labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
        latents = tfgen_random.replica_normal(
            batch_size, (self.latent_dim,), self.seed, noise_step, "latent_generator_step"
        )
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            with keras.StatelessScope() as scope:
                fake = self._generate(latents, labels, training=True)
                fake_logits = self._discriminate(fake, labels, training=True)
            per_example = self.gan_loss.generator_loss(fake_logits)
            loss = tfgen_random.global_mean(per_example)
            scaled_loss = self.g_optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, variables)
        state, new_state = self._generator_state_written_in(scope)
        finite = tf.logical_and(tf.math.is_finite(loss), _all_finite(gradients + new_state))

        def update(gradients, new_state):
            self.g_optimizer.apply(gradients, variables)
            for variable, value in zip(state, new_state):
                variable.assign(value)
            self._update_ema()

        _run_if(finite, update, gradients, new_state)
        _record_overflow(self.g_optimizer, loss, gradients, variables)
        return {"g_loss": per_example, "fake_logits": tf.reshape(fake_logits, [-1])}

    def simultaneous_step(self, examples, labels=None, noise_step=0):
        """One discriminator and one generator update from one generator forward.

        The generator's gradient is taken against the discriminator as it
        was before this step's discriminator update (the TensorFlow DCGAN
        tutorial's step). Each update is skipped on its own if its loss or
        gradients are not finite; the generator's batch-norm statistics and
        the EMA copy change only with the generator's update.

        Args:
            examples: float ``[B, *shape]`` real examples (images in [-1, 1]).
            labels: int ``[B]`` when conditional, else ``None``.
            noise_step: int, selects the noise (with the model's seed).

        Returns:
            dict of float32 ``[B]`` tensors: as :meth:`discriminator_step`,
            plus ``g_loss``.
        """
        self._check_compiled()
        examples, labels = self._check_batch(examples, labels)
        batch_size = tf.shape(examples)[0]
        latents = tfgen_random.replica_normal(batch_size, (self.latent_dim,), self.seed, noise_step, "latent")
        interpolation_weights = self._interpolation_weights(batch_size, noise_step)
        d_variables = self.discriminator.trainable_variables
        g_variables = self.generator.trainable_variables
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            with keras.StatelessScope() as scope:
                fake = tf.cast(self._generate(latents, labels, training=True), examples.dtype)
            results = self._discriminator_losses(examples, labels, fake, interpolation_weights, training=True)
            d_loss = tfgen_random.global_mean(results["d_loss"])
            scaled_d_loss = self.d_optimizer.scale_loss(d_loss)
            g_per_example = self.gan_loss.generator_loss(results["fake_logits"])
            g_loss = tfgen_random.global_mean(g_per_example)
            scaled_g_loss = self.g_optimizer.scale_loss(g_loss)
        d_gradients = d_tape.gradient(scaled_d_loss, d_variables)
        g_gradients = g_tape.gradient(scaled_g_loss, g_variables)
        state, new_state = self._generator_state_written_in(scope)
        d_finite = tf.logical_and(tf.math.is_finite(d_loss), _all_finite(d_gradients))
        g_finite = tf.logical_and(tf.math.is_finite(g_loss), _all_finite(g_gradients + new_state))

        def update_discriminator(gradients):
            self.d_optimizer.apply(gradients, d_variables)

        def update_generator(gradients, new_state):
            self.g_optimizer.apply(gradients, g_variables)
            for variable, value in zip(state, new_state):
                variable.assign(value)
            self._update_ema()

        # Both gradients exist before either update: the generator's was
        # taken against the discriminator's old weights.
        _run_if(d_finite, update_discriminator, d_gradients)
        _record_overflow(self.d_optimizer, d_loss, d_gradients, d_variables)
        _run_if(g_finite, update_generator, g_gradients, new_state)
        _record_overflow(self.g_optimizer, g_loss, g_gradients, g_variables)
        results["g_loss"] = g_per_example
        return results

    def _update_ema(self):
        """``ema = decay * ema + (1 - decay) * w`` for trainable weights; copies the rest.

        The rest are the batch-norm moving statistics, themselves averages.
        """
        if self.ema_decay is None or self.ema_generator is None:
            return
        decay = self.ema_decay
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            if weight.trainable:
                average.assign(decay * average.value + (1.0 - decay) * weight.value)
            else:
                average.assign(weight.value)

    def train_step(self, data):
        """One training step: the updates of ``compile(update=...)``.

        ``"alternating"``: ``d_steps_per_g_step`` discriminator updates, then
        one generator update. ``"simultaneous"``: one discriminator and one
        generator update from a shared generator forward.

        Args:
            data: ``examples``, ``(examples,)`` or ``(examples, labels)``; labels
                are required when conditional and ignored otherwise.

        Returns:
            dict: ``d_loss``, ``g_loss``, ``gradient_penalty``/``r1_penalty``
            (when enabled, unweighted), ``real_accuracy``, ``fake_accuracy``:
            running means over the epoch.
        """
        examples, labels = self._check_batch(*_unpack(data))
        step = tf.convert_to_tensor(self.step_counter.value)
        getattr(self, UPDATE_SCHEMES[self.update_scheme])(examples, labels, step)
        self.step_counter.assign_add(1)
        return tfgen_distribute.step_logs({m.name: m.result() for m in self.metrics})

    def _alternating_updates(self, examples, labels, step):
        for d_step in range(self.d_steps_per_g_step):
            results = self.discriminator_step(
                examples, labels, noise_step=step * self.d_steps_per_g_step + d_step
            )
            self._update_discriminator_trackers(results)
        results = self.generator_step(tf.shape(examples)[0], labels, noise_step=step)
        self.g_loss_tracker.update_state(results["g_loss"])

    def _simultaneous_updates(self, examples, labels, step):
        results = self.simultaneous_step(examples, labels, noise_step=step)
        self._update_discriminator_trackers(results)
        self.g_loss_tracker.update_state(results["g_loss"])

    def _update_discriminator_trackers(self, results):
        # Per-example values: under tf.distribute the trackers' totals and
        # counts are summed over replicas, so results are global means.
        self.d_loss_tracker.update_state(results["d_loss"])
        for key in ("gradient_penalty", "r1_penalty"):
            if key in results:
                getattr(self, f"{key}_tracker").update_state(results[key])
        real, fake = self._accuracies(results["real_logits"], results["fake_logits"])
        self.real_accuracy_tracker.update_state(real)
        self.fake_accuracy_tracker.update_state(fake)

    def test_step(self, data):
        """The losses and accuracies of ``train_step`` without any update (fixed evaluation noise)."""
        examples, labels = self._check_batch(*_unpack(data))
        batch_size = tf.shape(examples)[0]
        latents = tfgen_random.replica_normal(batch_size, (self.latent_dim,), self.seed, 0, "evaluation")
        interpolation_weights = tfgen_random.replica_uniform(batch_size, (), self.seed, 1, "evaluation")
        fake = tf.cast(self._generate(latents, labels, training=False), examples.dtype)
        results = self._discriminator_losses(examples, labels, fake, interpolation_weights, training=False)
        self._update_discriminator_trackers(results)
        self.g_loss_tracker.update_state(self.gan_loss.generator_loss(results["fake_logits"]))
        return tfgen_distribute.step_logs({m.name: m.result() for m in self.metrics})

    def call(self, inputs, training=False):
        """The generator: ``latents [B, latent_dim]`` (or ``[latents, labels]``) -> ``[B, *shape]``."""
        return self.generator(inputs, training=training)

    # -------------------------------------------------------------- inference
    @property
    def sampling_generator(self):
        """The network ``generate`` uses: the EMA generator when enabled, else the generator."""
        if self.ema_decay is not None and self.ema_generator is not None:
            return self.ema_generator
        return self.generator

    def sample_latents(self, num_samples, seed=None):
        """Draws ``num_samples`` latent vectors ``N(0, I)``: float32 ``[N, latent_dim]``.

        Stateless: the same ``seed`` (default: the model's seed) gives the same vectors.
        """
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
            raise ValueError(f"Expected num_samples to be a positive int, got {num_samples!r}.")
        seed = self.seed if seed is None else check_seed(seed)
        return tf.random.stateless_normal(
            (int(num_samples), self.latent_dim), seed=tfgen_random.stateless_seed(seed, 0, "generate")
        )

    def _check_labels(self, labels, num_samples):
        if self.num_classes is None:
            if labels is not None:
                raise ValueError("This GAN is unconditional (num_classes=None); do not pass labels.")
            return None
        if labels is None:
            return tf.constant(np.arange(num_samples) % self.num_classes, tf.int32)
        array = np.asarray(labels)
        if array.shape != (num_samples,) or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                f"Expected labels to be ints of shape ({num_samples},), got dtype {array.dtype} "
                f"and shape {array.shape}."
            )
        if array.min() < 0 or array.max() >= self.num_classes:
            raise ValueError(
                f"Expected labels in [0, {self.num_classes - 1}] (num_classes={self.num_classes}), "
                f"got values from {array.min()} to {array.max()}."
            )
        return tf.constant(array, tf.int32)

    def generate(self, num_samples, seed=None, labels=None, use_ema=None, batch_size=256):
        """Samples examples: float32 ``[num_samples, *shape]``; images in [-1, 1].

        Args:
            num_samples: how many examples.
            seed: seed of the latent vectors (default: the model's seed); the
                same seed gives the same output.
            labels: conditional GANs only: ints ``[num_samples]`` in
                ``[0, num_classes)``; default cycles ``0, 1, ..., num_classes - 1, 0, ...``.
            use_ema: use the EMA generator (default: when compiled with ``ema_decay``).
            batch_size: examples per generator call.

        Raises:
            ValueError: invalid ``num_samples``, ``seed`` or ``labels``.
        """
        latents = self.sample_latents(num_samples, seed)
        labels = self._check_labels(labels, int(num_samples))
        network = self.sampling_generator if use_ema in (None, True) else self.generator
        if use_ema and network is self.generator:
            raise ValueError("use_ema=True but the GAN was not compiled with ema_decay.")
        outputs = []
        for start in range(0, int(num_samples), batch_size):
            chunk_labels = None if labels is None else labels[start : start + batch_size]
            chunk = self._generate(latents[start : start + batch_size], chunk_labels, False, network)
            outputs.append(tf.cast(chunk, tf.float32))
        return tf.concat(outputs, axis=0)

    # ---------------------------------------------------------- serialisation
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_shape": list(self.data_shape),
                "latent_dim": self.latent_dim,
                "num_classes": self.num_classes,
                "spectral_norm": self.spectral_norm,
                "base_filters": self.base_filters,
                "hidden_units": list(self.hidden_units)
                if isinstance(self.hidden_units, (list, tuple))
                else self.hidden_units,
                "dropout": self.dropout,
                "seed": self.seed,
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)  # deserialisation consumes nested dicts
        for key in ("generator", "discriminator"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        if config.get("input_shape") is not None:
            config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)
