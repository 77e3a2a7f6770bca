"""The generative adversarial network: ``tfgen.GAN``.

A :class:`tfgen.models.GenerativeModel` holding two plain functional networks,
a generator ``z (, labels) -> x`` and a discriminator ``x (, labels) -> logit``;
trained with plain ``model.fit``. The seed, step counter, sampling,
skip-if-not-finite updates and export endpoints come from the base class.

A train step runs ``d_steps_per_g_step`` discriminator updates, then one
generator update (``compile(update="alternating")``), or one of each from a
single generator forward (``"simultaneous"``, the TensorFlow DCGAN tutorial's
step). Every discriminator update reuses the step's real examples with fresh
noise; an update changes only its own network and optimizer (the other
network runs inside a ``keras.StatelessScope``, so its batch-norm statistics
are not written). Losses, penalties, logits and the EMA weights stay float32
under every precision policy.

Example:
```python
import tfgen
data = tfgen.data.load("ring8", batch_size=256, seed=0, repeat=True)  # [256, 2] points
gan = tfgen.GAN(input_shape=(2,), latent_dim=16, seed=0)
gan.compile(loss="hinge", ema_decay=0.999)
gan.fit(data, epochs=1, steps_per_epoch=2000)
points = gan.generate(2500, seed=1)                         # [2500, 2]
```
"""

import copy
import dataclasses

import keras
import tensorflow as tf

from tfgen import augment as tfgen_augment
from tfgen import distribute as tfgen_distribute
from tfgen import losses as tfgen_losses
from tfgen import random as tfgen_random
from tfgen import validation
from tfgen.models import gan_networks
from tfgen.models.base import GenerativeModel
from tfgen.models.config import UPDATE_SCHEMES, GANCompileConfig, GANConfig, default_gan_optimizer

@keras.saving.register_keras_serializable(package="tfgen")
class GAN(GenerativeModel):
    """Generative adversarial network trained with ``model.fit``.

    Args:
        input_shape: shape of one example: ``(H, W, C)`` images with
            ``H == W`` in the architecture's sizes (DCGAN: 16, 28, 32, 64;
            ResNet: also 128 and 256), or ``(D,)`` vectors (2-D points).
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
        architecture: built-in image networks: a key of
            :data:`tfgen.models.gan_networks.ARCHITECTURES` (``"dcgan"`` or
            ``"resnet"``); vectors always use MLPs.
        spectral_norm: built-in discriminator only: spectral normalisation
            on every layer.
        base_filters: built-in image networks: filters of the outermost
            convolutions.
        hidden_units: built-in vector networks: widths of the hidden layers.
        dropout: built-in discriminator: dropout rate (0 disables it).
        seed: int seed of every random draw the model makes (initial weights
            of the built-in networks, training noise, ``generate``); ``None``
            draws one (repeatably after ``keras.utils.set_random_seed``) and
            stores it in the config.

    Defaults: :class:`GANConfig` and, for ``compile``, :class:`GANCompileConfig`.

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

    monitored_losses = ("d_loss", "g_loss")

    def __init__(
        self,
        input_shape=(28, 28, 1),
        latent_dim=GANConfig.latent_dim,
        num_classes=None,
        generator=None,
        discriminator=None,
        architecture=GANConfig.architecture,
        spectral_norm=GANConfig.spectral_norm,
        base_filters=GANConfig.base_filters,
        hidden_units=GANConfig.hidden_units,
        dropout=GANConfig.dropout,
        seed=None,
        **kwargs,
    ):
        super().__init__(seed=seed, **kwargs)
        # === Config ===
        self.latent_dim = validation.check_positive_int("latent_dim", latent_dim)
        validation.check_num_classes(num_classes)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.architecture = validation.check_choice("architecture", architecture, gan_networks.ARCHITECTURES)
        self.spectral_norm = bool(spectral_norm)
        self.base_filters = validation.check_positive_int("base_filters", base_filters)
        self.hidden_units = (
            tuple(int(u) for u in hidden_units) if isinstance(hidden_units, (list, tuple)) else int(hidden_units)
        )
        self.dropout = validation.check_number("dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True)
        # === Networks ===
        data_shape = gan_networks.infer_data_shape(
            input_shape, generator, discriminator, self.latent_dim, self.num_classes, architecture=self.architecture
        )
        if generator is None:
            generator = gan_networks.make_generator(
                data_shape, self.latent_dim, num_classes=self.num_classes, base_filters=self.base_filters,
                hidden_units=self.hidden_units, seed=self.seed, architecture=self.architecture,
            )
        if discriminator is None:
            discriminator = gan_networks.make_discriminator(
                data_shape, num_classes=self.num_classes, spectral_norm=self.spectral_norm,
                base_filters=self.base_filters, hidden_units=self.hidden_units, dropout=self.dropout,
                seed=self.seed + 1, architecture=self.architecture,
            )
        self.generator = generator
        self.discriminator = discriminator
        self.data_shape = gan_networks.check_networks(generator, discriminator, self.latent_dim, self.num_classes)
        # === Metric trackers (named like the keys train_step returns) ===
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.gradient_penalty_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.r1_penalty_tracker = keras.metrics.Mean(name="r1_penalty")
        self.r2_penalty_tracker = keras.metrics.Mean(name="r2_penalty")
        self.augment_probability_tracker = keras.metrics.Mean(name="augment_probability")
        self.real_accuracy_tracker = keras.metrics.Mean(name="real_accuracy")
        self.fake_accuracy_tracker = keras.metrics.Mean(name="fake_accuracy")
        # === Training configuration (set by compile) ===
        self.d_optimizer = None
        self.g_optimizer = None
        self.ema_generator = None
        self.loss_name = GANCompileConfig.loss
        self.gan_loss = tfgen_losses.get_gan_loss(self.loss_name)
        self.gradient_penalty_weight = 0.0
        self.r1_penalty_weight = 0.0
        self.r2_penalty_weight = 0.0
        self.penalty_interval = 1
        self.d_steps_per_g_step = 1
        self.ema_decay = None
        self.ema_rampup = GANCompileConfig.ema_rampup
        self.augment_policy = ()
        self.augment_probability = GANCompileConfig.augment_probability
        self.ada_target = None
        self.ada_images = GANCompileConfig.ada_images
        self.adaptive_probability = None  # a variable, created by compile(ada_target=...)
        self.update_scheme = GANCompileConfig.update
        self.built = True

    # ---------------------------------------------------------------- compile
    def compile(
        self,
        d_optimizer=None,
        g_optimizer=None,
        loss=GANCompileConfig.loss,
        gradient_penalty=GANCompileConfig.gradient_penalty,
        r1_penalty=GANCompileConfig.r1_penalty,
        r2_penalty=GANCompileConfig.r2_penalty,
        penalty_interval=GANCompileConfig.penalty_interval,
        d_steps_per_g_step=GANCompileConfig.d_steps_per_g_step,
        ema_decay=GANCompileConfig.ema_decay,
        ema_rampup=GANCompileConfig.ema_rampup,
        augment=GANCompileConfig.augment,
        augment_probability=GANCompileConfig.augment_probability,
        ada_target=GANCompileConfig.ada_target,
        ada_images=GANCompileConfig.ada_images,
        update=GANCompileConfig.update,
        **kwargs,
    ):
        """Configures training.

        ``g_optimizer`` also becomes ``self.optimizer``, so Keras callbacks
        that act on ``model.optimizer`` (learning-rate schedulers,
        TensorBoard's step count) see the generator's optimizer. Both
        optimizers are built here, on their network's trainable variables, so
        their state exists before the first (possibly distributed) step and is
        saved and restored with the model (keras-team/keras#19246).

        Args:
            d_optimizer: discriminator optimizer (instance, name or config);
                default :func:`tfgen.models.config.default_gan_optimizer`, Adam(2e-4, beta_1=0.5).
            g_optimizer: generator optimizer; same default. Must be a
                different instance from ``d_optimizer``.
            loss: a key of :data:`tfgen.losses.GAN_LOSSES`.
            gradient_penalty: weight ``lambda`` of the WGAN-GP penalty
                ``lambda * (||grad D(x_hat)|| - 1)^2`` (10 in the paper; 0 disables).
            r1_penalty: ``gamma`` of the R1 penalty ``gamma / 2 * ||grad D(x_real)||^2``
                (0 disables).
            r2_penalty: ``gamma`` of the R2 penalty ``gamma / 2 * ||grad D(x_fake)||^2``
                on generated examples (0 disables; R3GAN uses R1 and R2 with
                the same gamma and ``loss="relativistic"``).
            penalty_interval: lazy regularisation (StyleGAN2): R1 and R2 are
                computed on one discriminator update in ``penalty_interval``
                (those whose update index is a multiple of it), weighted
                ``penalty_interval`` times, and skipped on the others; 1 (the
                default) computes them on every update. They double a
                discriminator update's FLOPs, so 4 to 16 saves most of that.
            d_steps_per_g_step: discriminator updates per generator update.
            ema_decay: ``None``, or the decay in [0, 1) of an exponential moving
                average of the generator's weights (``self.ema_generator``),
                used by ``generate`` and the exports. The EMA copy is created,
                from the current generator weights, the first time ``compile``
                gets an ``ema_decay``; compiling again keeps its weights.
            ema_rampup: use ``min(ema_decay, (1 + t) / (10 + t))`` at
                generator update ``t``, so the average forgets its random
                initial weights within the first few hundred updates.
            augment: differentiable augmentation (:mod:`tfgen.augment`) of
                every example the discriminator sees in training, real and
                generated: a comma-separated string or list of names from
                :data:`tfgen.augment.AUGMENTATIONS` (``""``: none). Its draws
                are a function of (seed, step, row), like the noise.
            augment_probability: probability of each augmentation per
                example; the starting value when ``ada_target`` is set.
            ada_target: ``None``, or the target in [0, 1] of adaptive
                augmentation (Karras et al., 2020): after each discriminator
                update the probability moves by ``global batch / ada_images``
                towards more augmentation when the overfitting signal
                ``E[sign(real logit - threshold)]`` (relativistic loss:
                ``E[sign(real - fake)]``) is above the target, and towards
                less when it is below. The probability is a model variable:
                saved, restored and reported as ``augment_probability``.
            ada_images: number of images over which the adaptive probability
                can move by 1.
            update: a key of :data:`UPDATE_SCHEMES`; ``"simultaneous"`` needs
                ``d_steps_per_g_step=1``.
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
        gradient_penalty = validation.check_number("gradient_penalty", gradient_penalty, minimum=0.0)
        r1_penalty = validation.check_number("r1_penalty", r1_penalty, minimum=0.0)
        r2_penalty = validation.check_number("r2_penalty", r2_penalty, minimum=0.0)
        penalty_interval = validation.check_positive_int("penalty_interval", penalty_interval)
        augment_policy = tfgen_augment.parse_policy(augment)
        augment_probability = validation.check_number(
            "augment_probability", augment_probability, minimum=0.0, maximum=1.0
        )
        ada_target = validation.check_number("ada_target", ada_target, minimum=0.0, maximum=1.0, allow_none=True)
        ada_images = validation.check_positive_int("ada_images", ada_images)
        if augment_policy and len(self.data_shape) != 3:
            raise ValueError(
                f"augment={augment!r} transforms images, but this GAN's examples have shape {self.data_shape}; "
                "pass augment='' for vectors."
            )
        if ada_target is not None and not augment_policy:
            raise ValueError(
                f"ada_target={ada_target!r} adapts the probability of augmentations, but augment={augment!r} "
                "names none; pass e.g. augment='translation,cutout,color'."
            )
        d_steps_per_g_step = validation.check_positive_int("d_steps_per_g_step", d_steps_per_g_step)
        validation.check_choice("update", update, UPDATE_SCHEMES)
        if update == "simultaneous" and d_steps_per_g_step != 1:
            raise ValueError(
                f"update='simultaneous' shares one generator forward between one discriminator and one "
                f"generator update; it needs d_steps_per_g_step=1, got {d_steps_per_g_step!r}."
            )
        ema_decay = validation.check_number(
            "ema_decay", ema_decay, minimum=0.0, maximum=1.0, exclusive_maximum=True, allow_none=True
        )

        if d_optimizer is not None and d_optimizer is g_optimizer:
            raise ValueError(
                "d_optimizer and g_optimizer must be different optimizer instances (each keeps state for its own network)."
            )
        # Each network's optimizer is loss-scaled under float16 (Keras would wrap only self.optimizer).
        auto_scale_loss = kwargs.get("auto_scale_loss", True)
        self.d_optimizer = self.prepare_optimizer(
            d_optimizer, default_gan_optimizer, self.discriminator.trainable_variables, [self.discriminator],
            auto_scale_loss,
        )
        self.g_optimizer = self.prepare_optimizer(
            g_optimizer, default_gan_optimizer, self.generator.trainable_variables,
            [self.generator, self.discriminator], auto_scale_loss,
        )
        with self.distribute_strategy.scope():
            super().compile(optimizer=self.g_optimizer, **kwargs)  # Keras' fit machinery uses self.optimizer
            if ema_decay is not None and self.ema_generator is None:
                self.ema_generator = self._make_ema_generator()
            if ada_target is not None and self.adaptive_probability is None:
                # Like the step counter: every replica computes the same new
                # value (from global means), so the first replica's is kept.
                self.adaptive_probability = self.add_weight(
                    shape=(), dtype="float32", initializer=keras.initializers.Constant(augment_probability),
                    trainable=False, aggregation="only_first_replica", name="augment_probability",
                )

        self.loss_name = loss
        self.gan_loss = gan_loss
        self.gradient_penalty_weight = gradient_penalty
        self.r1_penalty_weight = r1_penalty
        self.r2_penalty_weight = r2_penalty
        self.penalty_interval = penalty_interval
        self.d_steps_per_g_step = d_steps_per_g_step
        self.ema_decay = ema_decay
        self.ema_rampup = bool(ema_rampup)
        self.augment_policy = augment_policy
        self.augment_probability = augment_probability
        self.ada_target = ada_target
        self.ada_images = ada_images
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
            "r2_penalty": self.r2_penalty_weight,
            "penalty_interval": self.penalty_interval,
            "d_steps_per_g_step": self.d_steps_per_g_step,
            "ema_decay": self.ema_decay,
            "ema_rampup": self.ema_rampup,
            "augment": ",".join(self.augment_policy),
            "augment_probability": self.augment_probability,
            "ada_target": self.ada_target,
            "ada_images": self.ada_images,
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
        if self.r2_penalty_weight > 0:
            metrics.append(self.r2_penalty_tracker)
        if self.ada_target is not None:
            metrics.append(self.augment_probability_tracker)
        return metrics + [self.real_accuracy_tracker, self.fake_accuracy_tracker]

    # ------------------------------------------------------------- train step
    def train_step(self, data):
        """One training step: the discriminator update(s), then the generator update.

        Args:
            data: ``examples``, ``(examples,)`` or ``(examples, labels)``; labels
                are required when conditional and ignored otherwise.

        Returns:
            dict: ``d_loss``, ``g_loss``, ``gradient_penalty``/``r1_penalty``/
            ``r2_penalty`` (when enabled, unweighted), ``augment_probability``
            (adaptive augmentation), ``real_accuracy``, ``fake_accuracy``:
            running means over the epoch.
        """
        examples, labels = self.unpack_batch(data)
        step = self.step_counter.value
        if self.update_scheme == "simultaneous":
            # Both updates from one generator forward.
            results = self._simultaneous_update(examples, labels, noise_step=step)
            self._update_discriminator_trackers(results)
        else:
            for d_step in range(self.d_steps_per_g_step):
                results = self._discriminator_update(
                    examples, labels, noise_step=step * self.d_steps_per_g_step + d_step
                )
                self._update_discriminator_trackers(results)
            results = self._generator_update(tf.shape(examples)[0], labels, noise_step=step, examples=examples)
        self.g_loss_tracker.update_state(results["g_loss"])
        self.step_counter.assign_add(1)
        return tfgen_distribute.step_logs({m.name: m.result() for m in self.metrics})

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
        return self._discriminator_update(*self.unpack_batch((examples, labels)), noise_step=noise_step)

    def generator_step(self, batch_size, labels=None, noise_step=0, real_examples=None):
        """One generator update; changes only the generator, ``g_optimizer`` and the EMA copy.

        The discriminator runs in training mode inside a ``keras.StatelessScope``
        (its state is not written); the generator's batch-norm statistics are
        written only if the update is applied (loss and gradients finite).

        Args:
            batch_size: number of fakes (per replica).
            labels: int ``[batch_size]`` when conditional, else ``None``.
            noise_step: int, selects the noise (with the model's seed).
            real_examples: float ``[batch_size, *shape]``; needed by the
                relativistic loss, which pairs each fake with a real example.

        Returns:
            dict of float32 ``[B]`` tensors: ``g_loss``, ``fake_logits``.

        Raises:
            ValueError: a conditional GAN without labels, or the relativistic
                loss without ``real_examples``.
        """
        self._check_compiled()
        if self.gan_loss.pairs_with_real:
            if real_examples is None:
                raise ValueError(
                    f"loss={self.loss_name!r} pairs each fake with a real example: pass real_examples "
                    f"[{batch_size}, {', '.join(map(str, self.data_shape))}]."
                )
            real_examples, labels = self.unpack_batch((real_examples, labels))
        elif self.num_classes is not None:
            if labels is None:
                raise ValueError(f"This GAN is conditional (num_classes={self.num_classes}): pass labels.")
            labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
        return self._generator_update(batch_size, labels, noise_step, examples=real_examples)

    def simultaneous_step(self, examples, labels=None, noise_step=0):
        """One discriminator and one generator update from one generator forward.

        The generator's gradient is taken against the discriminator as it
        was before this step's discriminator update (the TensorFlow DCGAN
        tutorial's step). Each update is skipped on its own if its loss or
        gradients are not finite; the generator's batch-norm statistics and
        the EMA copy change only with the generator's update.

        Returns:
            dict of float32 ``[B]`` tensors: as :meth:`discriminator_step`,
            plus ``g_loss``.
        """
        return self._simultaneous_update(*self.unpack_batch((examples, labels)), noise_step=noise_step)

    def _discriminator_update(self, examples, labels, noise_step):
        self._check_compiled()
        batch_size = tf.shape(examples)[0]
        latents = tfgen_random.replica_normal(batch_size, (self.latent_dim,), self.seed, noise_step, "latent")
        with keras.StatelessScope():
            fake = tf.stop_gradient(tf.cast(self._generate(latents, labels, training=True), examples.dtype))
        interpolation_weights = self._interpolation_weights(batch_size, noise_step)
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            results = self._discriminator_losses(
                examples, labels, fake, interpolation_weights, training=True, noise_step=noise_step
            )
            loss = tfgen_distribute.global_mean(results["d_loss"])
            scaled_loss = self.d_optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, variables)
        self.apply_if_finite(self.d_optimizer, loss, gradients, variables)
        self._adapt_augment_probability(results)
        return results

    def _generator_update(self, batch_size, labels, noise_step, examples=None):
        latents = tfgen_random.replica_normal(
            batch_size, (self.latent_dim,), self.seed, noise_step, "latent_generator_step"
        )
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            with keras.StatelessScope() as scope:
                fake = self._generate(latents, labels, training=True)
                fake_logits = self._discriminate(fake, labels, True, noise_step, "augment_generator")
                real_logits = None
                if self.gan_loss.pairs_with_real:
                    real_logits = tf.stop_gradient(
                        self._discriminate(examples, labels, True, noise_step, "augment_real")
                    )
            per_example = self._generator_loss(fake_logits, real_logits)
            loss = tfgen_distribute.global_mean(per_example)
            scaled_loss = self.g_optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, variables)
        state, new_state = self._generator_state_written_in(scope)
        self.apply_if_finite(
            self.g_optimizer, loss, gradients, variables, state=state, state_values=new_state,
            after_apply=self._update_ema,
        )
        return {"g_loss": per_example, "fake_logits": tf.reshape(fake_logits, [-1])}

    def _simultaneous_update(self, examples, labels, noise_step):
        self._check_compiled()
        batch_size = tf.shape(examples)[0]
        latents = tfgen_random.replica_normal(batch_size, (self.latent_dim,), self.seed, noise_step, "latent")
        interpolation_weights = self._interpolation_weights(batch_size, noise_step)
        d_variables = self.discriminator.trainable_variables
        g_variables = self.generator.trainable_variables
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            with keras.StatelessScope() as scope:
                fake = tf.cast(self._generate(latents, labels, training=True), examples.dtype)
            results = self._discriminator_losses(
                examples, labels, fake, interpolation_weights, training=True, noise_step=noise_step
            )
            d_loss = tfgen_distribute.global_mean(results["d_loss"])
            scaled_d_loss = self.d_optimizer.scale_loss(d_loss)
            g_per_example = self._generator_loss(results["fake_logits"], results["real_logits"])
            g_loss = tfgen_distribute.global_mean(g_per_example)
            scaled_g_loss = self.g_optimizer.scale_loss(g_loss)
        # Both gradients exist before either update: the generator's was
        # taken against the discriminator's old weights.
        d_gradients = d_tape.gradient(scaled_d_loss, d_variables)
        g_gradients = g_tape.gradient(scaled_g_loss, g_variables)
        state, new_state = self._generator_state_written_in(scope)
        self.apply_if_finite(self.d_optimizer, d_loss, d_gradients, d_variables)
        self._adapt_augment_probability(results)
        self.apply_if_finite(
            self.g_optimizer, g_loss, g_gradients, g_variables, state=state, state_values=new_state,
            after_apply=self._update_ema,
        )
        results["g_loss"] = g_per_example
        return results

    def _update_ema(self):
        """``ema = decay * ema + (1 - decay) * w`` for trainable weights; copies the rest.

        The rest are the batch-norm moving statistics, themselves averages.
        With ``ema_rampup`` the decay at generator update ``t`` (the step
        counter) is ``min(ema_decay, (1 + t) / (10 + t))``.
        """
        if self.ema_decay is None or self.ema_generator is None:
            return
        decay = self.ema_decay
        if self.ema_rampup:
            updates = tf.cast(self.step_counter.value, tf.float32)
            decay = tf.minimum(decay, (1.0 + updates) / (10.0 + updates))
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            if weight.trainable:
                average.assign(decay * average.value + (1.0 - decay) * weight.value)
            else:
                average.assign(weight.value)

    def _update_discriminator_trackers(self, results):
        # Per-example values: under tf.distribute the trackers' totals and
        # counts are summed over replicas, so results are global means.
        self.d_loss_tracker.update_state(results["d_loss"])
        for key in ("gradient_penalty", "r1_penalty", "r2_penalty"):
            if key in results:  # a lazy penalty is averaged over the updates that computed it
                getattr(self, f"{key}_tracker").update_state(results[key], sample_weight=results.get(f"{key}_applied"))
        real, fake = self._accuracies(results["real_logits"], results["fake_logits"])
        self.real_accuracy_tracker.update_state(real)
        self.fake_accuracy_tracker.update_state(fake)
        if self.ada_target is not None:
            self.augment_probability_tracker.update_state(self.adaptive_probability.value)

    def _overfitting_signal(self, real_logits, fake_logits):
        """ADA's ``r_t`` per example: ``sign(real - threshold)``, or ``sign(real - fake)`` when relativistic."""
        if self.gan_loss.pairs_with_real:
            return tf.sign(real_logits - fake_logits)
        return tf.sign(real_logits - self.gan_loss.decision_threshold)

    def _adapt_augment_probability(self, results):
        """Adaptive augmentation: one step of the probability towards ``ada_target`` (see ``compile``)."""
        if self.ada_target is None:
            return
        signal = tfgen_distribute.all_replicas_mean(self._overfitting_signal(results["real_logits"], results["fake_logits"]))
        global_batch = tf.cast(tf.shape(results["real_logits"])[0] * tfgen_distribute.num_replicas_in_sync(), tf.float32)
        change = tf.sign(signal - self.ada_target) * global_batch / float(self.ada_images)
        change = tf.where(tf.math.is_finite(change), change, 0.0)
        self.adaptive_probability.assign(tf.clip_by_value(self.adaptive_probability.value + change, 0.0, 1.0))

    def test_step(self, data):
        """The losses and accuracies of ``train_step`` without any update (fixed evaluation noise).

        The discriminator sees the examples without augmentation.
        """
        examples, labels = self.unpack_batch(data)
        batch_size = tf.shape(examples)[0]
        latents = tfgen_random.replica_normal(batch_size, (self.latent_dim,), self.seed, 0, "evaluation")
        interpolation_weights = tfgen_random.replica_uniform(batch_size, (), self.seed, 1, "evaluation")
        fake = tf.cast(self._generate(latents, labels, training=False), examples.dtype)
        results = self._discriminator_losses(examples, labels, fake, interpolation_weights, training=False)
        self._update_discriminator_trackers(results)
        self.g_loss_tracker.update_state(self._generator_loss(results["fake_logits"], results["real_logits"]))
        return tfgen_distribute.step_logs({m.name: m.result() for m in self.metrics})

    def call(self, inputs, training=False):
        """The generator: ``latents [B, latent_dim]`` (or ``[latents, labels]``) -> ``[B, *shape]``."""
        return self.generator(inputs, training=training)

    # ---------------------------------------------------------------- helpers
    def _generate(self, latents, labels, training, network=None):
        network = self.generator if network is None else network
        return network(gan_networks.network_inputs(latents, labels, self.num_classes), training=training)

    def _discriminate(self, examples, labels, training, noise_step=None, augment_stream=None):
        """The discriminator's float32 logits ``[B, 1]``; augmented first when ``augment_stream`` is given.

        Augmentation (``compile(augment=...)``) draws from ``augment_stream``
        at ``noise_step``; without a stream (test step) examples go in as they are.
        """
        if augment_stream is not None and self.augment_policy:
            probability = self.augment_probability if self.adaptive_probability is None or self.ada_target is None \
                else self.adaptive_probability.value
            examples = tfgen_augment.augment(
                examples, self.augment_policy, self.seed, noise_step, augment_stream, probability
            )
        inputs = gan_networks.network_inputs(examples, labels, self.num_classes)
        return tf.cast(self.discriminator(inputs, training=training), tf.float32)

    def _generator_loss(self, fake_logits, real_logits):
        """The generator's per-example loss; the relativistic loss pairs each fake with a real example."""
        if self.gan_loss.pairs_with_real:
            return self.gan_loss.generator_loss(fake_logits, real_logits)
        return self.gan_loss.generator_loss(fake_logits)

    def _accuracies(self, real_logits, fake_logits):
        """Per-example 0/1: real called real (logit above the loss's threshold), fake called fake.

        For the relativistic loss both are "the real example of the pair scored above its fake".
        """
        if self.gan_loss.pairs_with_real:
            correct = tf.cast(real_logits > fake_logits, tf.float32)
            return correct, correct
        threshold = self.gan_loss.decision_threshold
        return tf.cast(real_logits > threshold, tf.float32), tf.cast(fake_logits < threshold, tf.float32)

    def _discriminator_losses(self, examples, labels, fake, interpolation_weights, training, noise_step=None):
        """Per-example discriminator objective and its parts, each float32 ``[B]``.

        With ``noise_step`` (a train step) and an augmentation policy, real
        and generated examples are augmented with their own draws, and the
        penalties differentiate through the augmentation (as StyleGAN2-ADA's R1).
        """
        real_stream = "augment_real" if noise_step is not None else None
        fake_stream = "augment_fake" if noise_step is not None else None

        def real_critic(x):
            return self._discriminate(x, labels, training, noise_step, real_stream)

        def fake_critic(x):
            return self._discriminate(x, labels, training, noise_step, fake_stream)

        real_logits = real_critic(examples)
        fake_logits = fake_critic(fake)
        total = self.gan_loss.discriminator_loss(real_logits, fake_logits)
        results = {"real_logits": tf.reshape(real_logits, [-1]), "fake_logits": tf.reshape(fake_logits, [-1])}
        if self.gradient_penalty_weight > 0:
            penalty = tfgen_losses.gradient_penalty(real_critic, examples, fake, interpolation_weights)
            total += self.gradient_penalty_weight * penalty
            results["gradient_penalty"] = penalty
        # Lazy regularisation: R1 and R2 on one update in penalty_interval (the
        # update index is the same on every replica), weighted up to match.
        lazy = noise_step is not None and self.penalty_interval > 1
        applied = tf.equal(tf.math.floormod(tf.cast(noise_step, tf.int64), self.penalty_interval), 0) if lazy else None
        for key, weight, penalty_fn, critic, points in (
            ("r1_penalty", self.r1_penalty_weight, tfgen_losses.r1_penalty, real_critic, examples),
            ("r2_penalty", self.r2_penalty_weight, tfgen_losses.r2_penalty, fake_critic, fake),
        ):
            if weight <= 0:
                continue
            if lazy:
                penalty = tf.cond(
                    applied,
                    lambda penalty_fn=penalty_fn, critic=critic, points=points: penalty_fn(critic, points),
                    lambda points=points: tf.zeros(tf.shape(points)[:1], tf.float32),
                )
                total += 0.5 * weight * self.penalty_interval * penalty
                results[f"{key}_applied"] = tf.cast(applied, tf.float32)
            else:
                penalty = penalty_fn(critic, points)
                total += 0.5 * weight * penalty
            results[key] = penalty
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
        """``(variables, new values)`` of the generator's non-trainable state written inside ``scope``."""
        state = [v for v in self.generator.non_trainable_variables if scope.get_current_value(v) is not None]
        return state, [scope.get_current_value(v) for v in state]

    # -------------------------------------------------------------- inference
    @property
    def sampling_generator(self):
        """The network ``generate`` and the exports use: the EMA generator when enabled, else the generator."""
        if self.ema_decay is not None and self.ema_generator is not None:
            return self.ema_generator
        return self.generator

    def generate_from_latents(self, latents, labels=None, use_ema=None):
        """Examples for latents ``[N, latent_dim]`` (and labels ``[N]``): float32 ``[N, *shape]``.

        Args:
            use_ema: ``None`` (default): :attr:`sampling_generator`; ``True``:
                the EMA generator (a ``ValueError`` without ``ema_decay``);
                ``False``: the raw generator.
        """
        network = self.sampling_generator if use_ema in (None, True) else self.generator
        if use_ema and network is self.generator:
            raise ValueError("use_ema=True but the GAN was not compiled with ema_decay.")
        return tf.cast(self._generate(latents, labels, False, network), tf.float32)

    def model_card(self):
        card = super().model_card()
        card.update(
            {
                "input_shape": [self.latent_dim],
                "ema": self.ema_generator is not None and self.ema_decay is not None,
                "loss": self.loss_name,
                "architecture": self.architecture,
            }
        )
        return card

    # ---------------------------------------------------------- serialisation
    network_arguments = ("generator", "discriminator")

    def get_config(self):
        config = super().get_config()
        config.update({field.name: getattr(self, field.name) for field in dataclasses.fields(GANConfig)})
        if isinstance(self.hidden_units, tuple):
            config["hidden_units"] = list(self.hidden_units)
        config.update({"input_shape": list(self.data_shape), "num_classes": self.num_classes})
        return config
