"""What every tfgen model shares: ``tfgen.models.GenerativeModel``.

A model family (``VAE``, ``GAN``, the ones to come) subclasses
:class:`GenerativeModel` and gets, without copying a line:

* **the seed**: ``seed=None`` draws one the way Keras does, so
  ``keras.utils.set_random_seed`` makes the run repeatable
  (:func:`tfgen.random.resolve_seed`); it is stored in the config;
* **one step counter**, ``step_counter``: the number of train steps run. It
  selects the training noise (with the seed), is saved with the weights, and
  is what :class:`tfgen.callbacks.TrainingBackup` and
  :class:`StopOnNonFiniteLoss` report, so a resumed run continues exactly;
* **sampling**: :meth:`sample_latents` (the ``"generate"`` noise stream) and a
  batched :meth:`generate` for every family, labels included;
* **skip-if-not-finite updates**: :meth:`apply_if_finite` is how every
  optimizer step of every model is applied, and :meth:`fit` adds
  :class:`StopOnNonFiniteLoss`, which stops training with a message when a
  loss becomes NaN or infinite (an update skipped because only its gradients
  were not finite is skipped without stopping, as Keras' loss scaling does);
* **the default precision**: every subclass's ``__init__`` runs inside
  :func:`tfgen.precision.default_policy_scope`, so built-in networks
  compute in bfloat16 where it is native (``"auto"``) unless the user chose
  a precision (``policy_scope``, a Keras global mixed policy,
  ``$TFGEN_PRECISION``); networks passed in keep their own policy;
* **serving endpoints**: :meth:`serving_endpoints` lists the SavedModel
  signatures (``generate``, ``sample``, ``generate_png`` for images) that
  :func:`tfgen.export_saved_model` writes, and :meth:`model_card` the card's
  fields; a family adds its own (the VAE's ``encode``/``decode``/``reconstruct``).

A subclass implements ``generate_from_latents(latents, labels)`` and sets
``latent_dim``, ``data_shape`` and ``num_classes`` before calling
:meth:`generate`; its ``train_step`` draws noise with
``tfgen.random.replica_normal(..., self.seed, self.step_counter.value, ...)``
and ends with ``self.step_counter.assign_add(1)``.

Example:
```python
class MyModel(GenerativeModel):
    monitored_losses = ("loss",)

    def __init__(self, latent_dim=8, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.latent_dim, self.data_shape, self.num_classes = latent_dim, (2,), None
        self.network = keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(2)])

    def generate_from_latents(self, latents, labels=None):
        return self.network(latents)
```
"""

import collections
import copy
import functools
import inspect
import math
import warnings

import keras
import numpy as np
import tensorflow as tf

from tfgen import precision as tfgen_precision
from tfgen import random as tfgen_random
from tfgen import validation
from tfgen.models import finite_updates

# One SavedModel signature: its name, the function, and its named input specs.
Endpoint = collections.namedtuple("Endpoint", ["name", "function", "input_signature"])

PNG_SIGNATURE_NAME = "generate_png"
# TensorFlow Serving's REST API base64-encodes a string output only when its
# name ends in "_bytes"; any other name would be written as raw (invalid) text.
PNG_OUTPUT_KEY = "images_bytes"
# Channel counts a PNG can hold (grey, RGB, RGBA).
PNG_CHANNELS = (1, 3, 4)
DEFAULT_GENERATE_BATCH_SIZE = 256


def images_to_png(images):
    """Encodes a batch of images as PNG files, inside a TensorFlow graph.

    Args:
        images: float tensor ``[N, H, W, C]`` in [-1, 1] with ``C`` in
            {1, 3, 4}. Pixels become uint8 ``round((x + 1) * 127.5)``; values
            outside [-1, 1] are clipped first.

    Returns:
        A string tensor ``[N]``: the bytes of one PNG file per image.
    """
    images = tf.clip_by_value(tf.cast(images, tf.float32), -1.0, 1.0)
    pixels = tf.cast(tf.round((images + 1.0) * 127.5), tf.uint8)
    return tf.map_fn(tf.io.encode_png, pixels, fn_output_signature=tf.TensorSpec([], tf.string))


def png_endpoint(endpoint, name=PNG_SIGNATURE_NAME):
    """An endpoint returning PNG files, from one that returns ``{"images": [N, H, W, C]}``.

    Args:
        endpoint: an :data:`Endpoint` whose function returns float images in [-1, 1].
        name: the new signature's name, ``"generate_png"`` by default.

    Returns:
        An :data:`Endpoint` with the same inputs whose function returns
        ``{"images_bytes": string [N]}``.
    """

    def generate_png(*tensors):
        return {PNG_OUTPUT_KEY: images_to_png(endpoint.function(*tensors)["images"])}

    return Endpoint(name, generate_png, list(endpoint.input_signature))


def without_autotune_stall(dataset):
    """``dataset`` with tf.data's model-based autotuning off, unless its options already set it.

    With autotuning on, destroying an iterator can wait for tf.data's
    optimisation thread, and ``fit`` drops its iterator at the end of every
    epoch of a finite dataset and of every ``fit`` call: tfgen's own pipelines
    turn it off for that reason (``tfgen/data/pipeline.py``). ``AUTOTUNE``
    parallelism then falls back to the core count. A dataset whose options set
    ``autotune.enabled`` either way is returned unchanged.
    """
    if dataset.options().autotune.enabled is not None:
        return dataset
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training when a monitored loss becomes NaN or infinite.

    The models' ``train_step`` already skips updates whose loss or gradients
    are not finite (:meth:`GenerativeModel.apply_if_finite`), so the weights,
    and anything ``ModelCheckpoint`` saves, keep their last finite values;
    this callback ends ``fit`` and says where it happened. The message is
    kept in ``self.message``, printed and issued as a ``RuntimeWarning``.
    :meth:`GenerativeModel.fit` adds one, monitoring the model's
    ``monitored_losses``, unless one is passed.

    Args:
        monitor: names of the logs to check; default (``None``): the
            model's ``monitored_losses``; ``()`` checks nothing.
    """

    def __init__(self, monitor=None):
        super().__init__()
        self.monitor = None if monitor is None else tuple(monitor)
        self.message = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        monitor = self.monitor if self.monitor is not None else getattr(self.model, "monitored_losses", ())
        for name in monitor:
            if name not in logs:
                continue
            value = float(np.asarray(logs[name]).reshape(-1)[0])
            if math.isfinite(value):
                continue
            step = getattr(self.model, "step_counter", None)
            where = f"epoch {self._epoch} batch {batch}"
            if step is not None:
                where += f" (train step {int(step.numpy())})"
            self.message = (
                f"{name} became {value} at {where}; stopping training. Updates with non-finite "
                "losses were skipped, so the weights (and the last good checkpoint) keep their "
                "last finite values."
            )
            print(self.message, flush=True)
            warnings.warn(self.message, RuntimeWarning, stacklevel=2)
            self.model.stop_training = True
            return


class GenerativeModel(keras.Model):
    """Base class of tfgen's models: seed, step counter, sampling, finite updates, endpoints.

    Args:
        seed: int >= 0 seeding every random draw the model makes, or ``None``
            to draw one (repeatably after ``keras.utils.set_random_seed``).
        **kwargs: passed to ``keras.Model`` (``name``, ``dtype``).

    Subclasses set ``latent_dim`` (int), ``data_shape`` (tuple, one example)
    and ``num_classes`` (``None`` or int) and implement
    :meth:`generate_from_latents`; ``monitored_losses`` names the logs that
    stop training when they stop being finite.
    """

    monitored_losses = ("loss",)

    def __init_subclass__(cls, **kwargs):
        """Runs each subclass's own ``__init__`` under tfgen's default precision (see the module docstring)."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return

        @functools.wraps(init)
        def __init__(self, *args, **init_kwargs):
            with tfgen_precision.default_policy_scope():
                init(self, *args, **init_kwargs)

        # Keras reads the constructor's arguments with getfullargspec, which
        # ignores __wrapped__ but honours __signature__.
        __init__.__signature__ = inspect.signature(init)
        cls.__init__ = __init__

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = tfgen_random.resolve_seed(seed)
        self.num_classes = None
        # Train steps run; with the seed it determines all training noise.
        self.step_counter = self.add_weight(
            shape=(),
            dtype="int64",
            initializer="zeros",
            trainable=False,
            aggregation="only_first_replica",
            name="step_counter",
        )

    # ------------------------------------------------------------- training
    def prepare_optimizer(self, optimizer, default, variables, networks, auto_scale_loss=True):
        """An optimizer ready for ``fit``: resolved, loss-scaled where needed, and built now.

        Built inside the model's strategy scope, on ``variables``, so that its
        state exists before the first (possibly distributed) step, before
        ``load_weights`` or a backup restore, and is saved with the model
        (keras-team/keras#19246).

        Args:
            optimizer: an optimizer instance, name or config; ``None`` for ``default()``.
            default: function returning the family's default optimizer.
            variables: the variables it will update.
            networks: the networks whose dtype policy decides float16 loss scaling
                (``keras.optimizers.LossScaleOptimizer``, see :mod:`tfgen.precision`).
            auto_scale_loss: ``False`` leaves the optimizer unwrapped.
        """
        with self.distribute_strategy.scope():
            optimizer = default() if optimizer is None else keras.optimizers.get(optimizer)
            if auto_scale_loss:
                optimizer = tfgen_precision.with_loss_scaling(optimizer, *networks)
            if not optimizer.built:
                optimizer.build(variables)
        return optimizer

    def apply_if_finite(self, optimizer, loss, gradients, variables, state=(), state_values=(), after_apply=None):
        """Applies one optimizer update unless its loss, gradients or state values are not finite.

        See :func:`tfgen.models.finite_updates.apply_if_finite`; returns
        whether the update was applied (a scalar bool tensor).
        """
        return finite_updates.apply_if_finite(
            optimizer, loss, gradients, variables, state=state, state_values=state_values, after_apply=after_apply
        )

    def fit(self, *args, **kwargs):
        """``keras.Model.fit``, plus a :class:`StopOnNonFiniteLoss` unless one is among the callbacks.

        A ``tf.data.Dataset`` given as ``x`` or ``validation_data`` whose
        options leave tf.data's autotuning at its default gets it turned off
        (:func:`without_autotune_stall`); what it yields is unchanged.
        """
        bound = inspect.signature(keras.Model.fit).bind(self, *args, **kwargs)
        for key in ("x", "validation_data"):
            if isinstance(bound.arguments.get(key), tf.data.Dataset):
                bound.arguments[key] = without_autotune_stall(bound.arguments[key])
        callbacks = bound.arguments.get("callbacks")
        if not isinstance(callbacks, keras.callbacks.CallbackList):  # an assembled list is left alone
            callbacks = list(callbacks or [])
            if not any(isinstance(c, StopOnNonFiniteLoss) for c in callbacks):
                callbacks.append(StopOnNonFiniteLoss())
            bound.arguments["callbacks"] = callbacks
        return super().fit(*bound.args[1:], **bound.kwargs)

    # ---------------------------------------------------------------- input
    def unpack_batch(self, data):
        """A batch from ``fit``/``evaluate`` -> ``(examples float32 [B, *data_shape], labels int32 [B] or None)``.

        Accepts ``examples``, ``(examples,)`` and ``(examples, labels[, ...])``;
        labels are required by conditional models and ignored by the others.
        Examples stay float32 under mixed precision: the networks cast to their
        compute dtype in their first layer, and losses and penalties compare
        and differentiate float32 examples.

        Raises:
            ValueError: an empty tuple, a dict, the wrong example shape, or
                missing labels for a conditional model.
        """
        if isinstance(data, dict):
            raise ValueError(
                f"Expected a batch of examples or (examples, labels), got a dict with keys {sorted(data)}."
            )
        labels = None
        if isinstance(data, (tuple, list)):
            if not data:
                raise ValueError("Expected a batch of examples, got an empty tuple.")
            data, labels = data[0], (data[1] if len(data) > 1 else None)
        examples = tf.convert_to_tensor(data)
        if examples.shape.rank is not None and not examples.shape[1:].is_compatible_with(self.data_shape):
            raise ValueError(
                f"Expected batches of shape (batch, {', '.join(map(str, self.data_shape))}), "
                f"got {tuple(examples.shape)}."
            )
        examples = tf.cast(examples, tf.float32)
        if self.num_classes is None:
            return examples, None
        if labels is None:
            raise ValueError(
                f"This {type(self).__name__} is conditional (num_classes={self.num_classes}): batches must be "
                "(examples, labels) with int labels [batch]."
            )
        return examples, tf.reshape(tf.cast(labels, tf.int32), [-1])

    # ------------------------------------------------------------- sampling
    def sample_latents(self, num_samples, seed=None):
        """Draws ``num_samples`` prior latent vectors ``N(0, I)``: float32 ``[N, latent_dim]``.

        Stateless: the same ``seed`` (default: the model's seed) gives the
        same vectors, in every model family and in the exports' ``sample``
        signature.
        """
        num_samples = validation.check_positive_int("num_samples", num_samples)
        seed = self.seed if seed is None else validation.check_seed("seed", seed)
        return tfgen_random.prior_latents(num_samples, self.latent_dim, seed)

    def default_labels(self, num_samples):
        """Labels ``0, 1, ..., num_classes - 1, 0, ...`` (int32 ``[num_samples]``), or ``None``."""
        if self.num_classes is None:
            return None
        return tf.range(num_samples, dtype=tf.int32) % self.num_classes

    def check_labels(self, labels, num_samples):
        """Validates user labels for ``num_samples`` samples; returns int32 ``[num_samples]`` or ``None``.

        Raises:
            ValueError: labels for an unconditional model, or labels of the
                wrong shape, dtype or range.
        """
        if self.num_classes is None:
            if labels is not None:
                shown = np.asarray(labels)
                raise ValueError(
                    f"This {type(self).__name__} is unconditional (num_classes=None); expected labels=None, "
                    f"got labels of shape {shown.shape}."
                )
            return None
        if labels is None:
            return self.default_labels(num_samples)
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

    def generate_from_latents(self, latents, labels=None):
        """Examples for latent vectors: float32 ``[N, *data_shape]`` (images in [-1, 1]).

        Args:
            latents: float32 ``[N, latent_dim]``.
            labels: int32 ``[N]`` for conditional models, else ``None``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement generate_from_latents.")

    def generate(
        self, num_samples, seed=None, labels=None, batch_size=DEFAULT_GENERATE_BATCH_SIZE, verbose=0, **options
    ):
        """Samples examples: float32 ``[num_samples, *data_shape]``; images in [-1, 1].

        Args:
            num_samples: how many examples.
            seed: seed of the latent vectors (default: the model's seed); the
                same seed gives the same output, also through the export's
                ``sample`` signature.
            labels: conditional models only: ints ``[num_samples]`` in
                ``[0, num_classes)``; default cycles ``0, 1, ..., num_classes - 1, 0, ...``.
            batch_size: examples per network call (bounds memory).
            verbose: 1 shows a progress bar.
            **options: options of the family's :meth:`generate_from_latents`
                (the GAN's ``use_ema``).

        Raises:
            ValueError: invalid ``num_samples``, ``seed``, ``labels``, ``batch_size``
                or option values (an option the family does not have is a ``TypeError``).
        """
        batch_size = validation.check_positive_int("batch_size", batch_size)
        latents = self.sample_latents(num_samples, seed)
        labels = self.check_labels(labels, int(num_samples))
        progress = keras.utils.Progbar(int(num_samples), unit_name="sample") if verbose else None
        outputs = []
        for start in range(0, int(num_samples), batch_size):
            chunk_labels = None if labels is None else labels[start : start + batch_size]
            chunk = self.generate_from_latents(latents[start : start + batch_size], chunk_labels, **options)
            outputs.append(tf.cast(chunk, tf.float32))
            if progress is not None:
                progress.add(int(chunk.shape[0]))
        return tf.concat(outputs, axis=0)

    # ------------------------------------------------------------ exporting
    @property
    def output_key(self):
        """Name of the generated tensor in the exports: ``"images"``, or ``"samples"`` for vectors."""
        return "images" if len(self.data_shape) == 3 else "samples"

    def serving_endpoints(self):
        """The SavedModel signatures of this model, in order; the first is ``serving_default``.

        Every family has:

        * ``generate``: ``latent`` float32 ``[N, latent_dim]`` (and ``labels``
          int32 ``[N]`` when conditional) -> ``images`` (``samples`` for vectors);
        * ``generate_png`` (images with 1, 3 or 4 channels): the same inputs
          -> ``images_bytes`` string ``[N]``, one PNG file each;
        * ``sample``: ``num_samples`` int32 ``[]``, ``seed`` int32 ``[]`` ->
          the output of ``generate`` for :meth:`sample_latents`'s vectors, so
          an export reproduces ``generate(num_samples, seed=seed)``;
        * ``sample_labels`` (conditional models): ``labels`` int32 ``[N]``,
          ``seed`` int32 ``[]`` -> the same, reproducing
          ``generate(N, seed=seed, labels=labels)``.

        Subclasses append their own endpoints to this list.

        Returns:
            list of :data:`Endpoint`.
        """
        key = self.output_key
        latent_spec = tf.TensorSpec((None, self.latent_dim), tf.float32, name="latent")

        def run(latent, labels=None):
            return {key: tf.cast(self.generate_from_latents(latent, labels), tf.float32)}

        if self.num_classes is not None:
            num_classes = self.num_classes

            def generate(latent, labels):
                checks = [
                    tf.debugging.assert_non_negative(labels, message="labels must be >= 0"),
                    tf.debugging.assert_less(labels, num_classes, message=f"labels must be < num_classes={num_classes}"),
                ]
                with tf.control_dependencies(checks):
                    return run(latent, tf.identity(labels))

            generate_endpoint = Endpoint(
                "generate", generate, [latent_spec, tf.TensorSpec((None,), tf.int32, name="labels")]
            )
        else:
            generate_endpoint = Endpoint("generate", run, [latent_spec])

        def sample(num_samples, seed):
            return run(tfgen_random.prior_latents(num_samples, self.latent_dim, seed), self.default_labels(num_samples))

        seed_spec = tf.TensorSpec((), tf.int32, name="seed")
        endpoints = [generate_endpoint]
        if key == "images" and self.data_shape[-1] in PNG_CHANNELS:
            endpoints.append(png_endpoint(generate_endpoint))
        endpoints.append(Endpoint("sample", sample, [tf.TensorSpec((), tf.int32, name="num_samples"), seed_spec]))
        if self.num_classes is not None:

            def sample_labels(labels, seed):
                latents = tfgen_random.prior_latents(tf.shape(labels)[0], self.latent_dim, seed)
                return generate_endpoint.function(latents, labels)

            endpoints.append(
                Endpoint("sample_labels", sample_labels, [tf.TensorSpec((None,), tf.int32, name="labels"), seed_spec])
            )
        return endpoints

    def model_card(self):
        """Facts about the model for the export's ``model_card.json`` (a JSON-ready dict)."""
        return {
            "model_type": type(self).__name__,
            "output_shape": list(self.data_shape),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "seed": self.seed,
            "train_steps": int(self.step_counter.numpy()),
        }

    # -------------------------------------------------------- serialisation
    def load_own_variables(self, store):
        """Loads the model's own variables; also from files written before it had a step counter.

        Such files (VAEs saved by tfgen before the shared base class) hold the
        other variables in the same order; the step counter then starts at 0
        and a ``UserWarning`` says so.
        """
        own = self._trainable_variables + self._non_trainable_variables
        if len(store.keys()) == len(own) - 1 and self.step_counter in own:
            others = [v for v in own if v is not self.step_counter]
            for index, variable in enumerate(others):
                variable.assign(store[str(index)])
            self.step_counter.assign(0)
            warnings.warn(
                f"This {type(self).__name__} was saved by a tfgen without a step counter; it starts at 0, so "
                "training it on draws other noise than the original run would have.",
                UserWarning,
                stacklevel=2,
            )
            return
        super().load_own_variables(store)

    # Constructor arguments that hold networks: serialised in get_config, rebuilt in from_config.
    network_arguments = ()

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        for key in self.network_arguments:
            config[key] = keras.saving.serialize_keras_object(getattr(self, key))
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)  # deserialisation consumes nested dicts
        for key in cls.network_arguments:
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        if config.get("input_shape") is not None:
            config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)
