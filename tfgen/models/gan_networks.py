"""Generator and discriminator networks for the GAN: plain functional Keras models.

Two families, chosen by the data shape:

* images ``(H, W, C)`` with ``H == W`` in ``SUPPORTED_IMAGE_SIZES`` (16, 28,
  32, 64; any number of channels): DCGAN (Radford et al., 2016). The
  generator maps ``z`` through a dense layer to ``start x start`` features
  (7x7 for 28x28, 4x4 otherwise) and doubles the resolution with stride-2
  transposed convolutions (batch norm, ReLU) up to a ``tanh`` output in
  [-1, 1]. The discriminator mirrors it with stride-2 convolutions and
  LeakyReLU(0.2) and **no batch norm**, so each example's logit depends on
  that example alone (required by the gradient penalty and R1).
* vectors ``(D,)`` (e.g. the 2-D Gaussian mixtures): MLPs. The generator's
  output is linear (mixture points are not confined to [-1, 1]).

Conditioning on class labels (``num_classes``): the generator concatenates a
learned label embedding with ``z``; the discriminator is a *projection
discriminator* (Miyato & Koyama, 2018): ``logit = w . h + embed(y) . h`` with
``h`` the discriminator's features, which conditions far more stably than
concatenating labels to the input.

Input names: generator ``"latent"`` ``[B, latent_dim]`` (and ``"labels"``
int ``[B]``); discriminator ``"images"`` ``[B, *shape]`` (and ``"labels"``).
Outputs: generator ``[B, *shape]``; discriminator one raw logit ``[B, 1]``.

Example:
```python
generator = make_generator((28, 28, 1), latent_dim=64, num_classes=10)
images = generator([z, labels])                  # [B, 28, 28, 1] in [-1, 1]
discriminator = make_discriminator((28, 28, 1), num_classes=10, spectral_norm=True)
logits = discriminator([images, labels])         # [B, 1]
```
"""

import math

import keras
from keras import layers

# Image side -> side of the first feature map; the networks use
# log2(side / start) stride-2 stages.
SUPPORTED_IMAGE_SIZES = {16: 4, 28: 7, 32: 4, 64: 4}


def _supported_shapes_message():
    sizes = ", ".join(f"({size}, {size}, C)" for size in sorted(SUPPORTED_IMAGE_SIZES))
    return f"Supported shapes: {sizes} images with any number of channels C, or (D,) vectors."


def check_data_shape(shape):
    """Validates a data shape and returns it as a tuple of ints.

    Args:
        shape: ``(H, W, C)`` with ``H == W`` in ``SUPPORTED_IMAGE_SIZES``, or ``(D,)``.

    Raises:
        ValueError: for any other shape; the message lists the supported ones.
    """
    try:
        shape = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"Unsupported data shape {shape!r}. {_supported_shapes_message()}") from None
    if len(shape) == 1 and shape[0] > 0:
        return shape
    if len(shape) == 3 and shape[0] == shape[1] and shape[0] in SUPPORTED_IMAGE_SIZES and shape[2] > 0:
        return shape
    raise ValueError(f"Unsupported data shape {shape!r}. {_supported_shapes_message()}")


@keras.saving.register_keras_serializable(package="tfgen")
class SeededSpectralNormalization(layers.SpectralNormalization):
    """``keras.layers.SpectralNormalization`` whose power-iteration vector is seeded.

    The Keras wrapper draws its initial vector ``u`` from the global random
    state; this subclass draws it from ``seed`` so the whole discriminator is
    reproducible. Same arguments plus ``seed`` (int or ``None``).

    Under a mixed-precision policy the power iteration and the rescaled
    kernel are computed in float32 (the wrapper does not autocast; the
    wrapped layer still computes in its own policy's dtype), because Keras'
    wrapper writes the normalised kernel back into the float32 variable:
    computing it in bfloat16 would round the weights to 8 bits every step.
    The output has the wrapper's compute dtype (pass the wrapped layer's
    ``dtype`` to keep e.g. float32 logits).
    """

    def __init__(self, layer, power_iterations=1, seed=None, **kwargs):
        kwargs["autocast"] = False
        super().__init__(layer, power_iterations=power_iterations, **kwargs)
        self.seed = seed

    def build(self, input_shape):
        super().build(input_shape)
        if self.seed is not None:
            initializer = keras.initializers.TruncatedNormal(stddev=0.02, seed=self.seed)
            self.vector_u.assign(initializer(self.vector_u.shape, dtype=self.vector_u.dtype))

    def call(self, inputs, training=False):
        # The parent casts its output to the input's dtype; use the wrapper's
        # compute dtype instead so a float32 final layer gives float32 logits.
        return keras.ops.cast(super().call(inputs, training=training), self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        config.pop("autocast", None)
        return config


class _InitializerSeeds:
    """Distinct seeds for the layers of one network, derived from its ``seed``.

    With ``seed=None`` every initializer draws from Keras' global random state.
    """

    def __init__(self, seed):
        self.seed = seed
        self.count = 0

    def _next(self):
        if self.seed is None:
            return None
        self.count += 1
        return (int(self.seed) * 1_000_003 + self.count) % (2**31 - 1)

    def kernel(self):
        return keras.initializers.GlorotUniform(seed=self._next())

    def embedding(self):
        return keras.initializers.RandomUniform(-0.05, 0.05, seed=self._next())

    def dropout(self):
        return self._next()

    def spectral_norm(self):
        return self._next()


def _num_stages(image_size):
    return int(round(math.log2(image_size // SUPPORTED_IMAGE_SIZES[image_size])))


def _check_units(hidden_units):
    units = tuple(hidden_units) if isinstance(hidden_units, (list, tuple)) else (hidden_units,)
    if not units or not all(isinstance(u, int) and u > 0 for u in units):
        raise ValueError(f"Expected hidden_units to be a positive int or a list of them, got {hidden_units!r}.")
    return units


def _check_num_classes(num_classes):
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
        raise ValueError(f"Expected num_classes to be None or an int >= 2, got {num_classes!r}.")


def make_generator(
    output_shape,
    latent_dim,
    num_classes=None,
    base_filters=64,
    hidden_units=(256, 256, 256),
    embedding_dim=None,
    seed=None,
    name="generator",
):
    """Builds a DCGAN generator (images) or an MLP generator (vectors).

    Args:
        output_shape: ``(H, W, C)`` image shape (see ``SUPPORTED_IMAGE_SIZES``)
            or ``(D,)`` for vectors.
        latent_dim: size of ``z``.
        num_classes: ``None`` for an unconditional generator, else the number
            of classes; adds an int ``"labels"`` input ``[B]``.
        base_filters: filters of the last transposed convolution; earlier
            stages double them (images only).
        hidden_units: widths of the MLP's hidden layers (vectors only).
        embedding_dim: size of the label embedding (default ``latent_dim``).
        seed: int seed of the weight initializers (``None``: Keras' global state).
        name: name of the model.

    Returns:
        ``keras.Model``: ``latent [B, latent_dim]`` (and ``labels [B]``) ->
        ``[B, *output_shape]``; images in [-1, 1] (tanh), vectors unbounded.

    Raises:
        ValueError: unsupported ``output_shape`` or invalid sizes.
    """
    output_shape = check_data_shape(output_shape)
    _check_num_classes(num_classes)
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"Expected latent_dim to be a positive int, got {latent_dim!r}.")
    seeds = _InitializerSeeds(seed)
    latent = keras.Input(shape=(latent_dim,), name="latent")
    inputs = [latent]
    x = latent
    if num_classes is not None:
        labels = keras.Input(shape=(), dtype="int32", name="labels")
        inputs.append(labels)
        embedded = layers.Embedding(
            num_classes,
            embedding_dim or latent_dim,
            embeddings_initializer=seeds.embedding(),
            name="label_embedding",
        )(labels)
        x = layers.Concatenate(name="latent_and_label")([latent, embedded])

    if len(output_shape) == 1:
        for index, units in enumerate(_check_units(hidden_units)):
            x = layers.Dense(
                units, activation="relu", kernel_initializer=seeds.kernel(), name=f"dense_{index}"
            )(x)
        # The last layer of every network computes in float32 under mixed precision.
        outputs = layers.Dense(
            output_shape[0], kernel_initializer=seeds.kernel(), dtype="float32", name="outputs"
        )(x)
    else:
        size, _, channels = output_shape
        start = SUPPORTED_IMAGE_SIZES[size]
        stages = _num_stages(size)
        filters = base_filters * 2 ** (stages - 1)
        x = layers.Dense(
            start * start * filters, use_bias=False, kernel_initializer=seeds.kernel(), name="project"
        )(x)
        # synchronized: batch statistics over the global batch, so that a step on
        # N replicas equals a step on one device (plain BN would use local batches).
        x = layers.BatchNormalization(synchronized=True, name="project_bn")(x)
        x = layers.ReLU(name="project_relu")(x)
        x = layers.Reshape((start, start, filters), name="reshape")(x)
        for stage in range(stages - 1):
            filters //= 2
            x = layers.Conv2DTranspose(
                filters,
                4,
                strides=2,
                padding="same",
                use_bias=False,
                kernel_initializer=seeds.kernel(),
                name=f"upsample_{stage}",
            )(x)
            x = layers.BatchNormalization(synchronized=True, name=f"upsample_{stage}_bn")(x)
            x = layers.ReLU(name=f"upsample_{stage}_relu")(x)
        outputs = layers.Conv2DTranspose(
            channels,
            4,
            strides=2,
            padding="same",
            activation="tanh",
            kernel_initializer=seeds.kernel(),
            dtype="float32",  # float32 output under mixed precision (Keras' guidance)
            name="outputs",
        )(x)
    return keras.Model(inputs if num_classes is not None else latent, outputs, name=name)


def make_discriminator(
    input_shape,
    num_classes=None,
    spectral_norm=False,
    base_filters=64,
    hidden_units=(256, 256, 256),
    dropout=0.0,
    seed=None,
    name="discriminator",
):
    """Builds a DCGAN discriminator (images) or an MLP discriminator (vectors).

    No batch normalisation: each logit depends only on its own example, as
    the gradient penalty and R1 require.

    Args:
        input_shape: ``(H, W, C)`` image shape or ``(D,)`` vector shape.
        num_classes: ``None``, or the number of classes for a projection
            discriminator with an int ``"labels"`` input ``[B]``.
        spectral_norm: wrap every Conv2D/Dense (including the label projection) in
            ``keras.layers.SpectralNormalization`` (Miyato et al., 2018; the
            seeded subclass :class:`SeededSpectralNormalization`).
        base_filters: filters of the first convolution; each stride-2 stage
            doubles them (images only).
        hidden_units: widths of the MLP's hidden layers (vectors only).
        dropout: dropout rate after each hidden block (0 disables it). Dropout
            is seeded from ``seed`` but, like all Keras dropout, its masks are
            not replica-aware.
        seed: int seed of the weight initializers and dropout (``None``:
            Keras' global state).
        name: name of the model.

    Returns:
        ``keras.Model``: ``images [B, *input_shape]`` (and ``labels [B]``) ->
        raw logits ``[B, 1]``.

    Raises:
        ValueError: unsupported ``input_shape`` or invalid sizes.
    """
    input_shape = check_data_shape(input_shape)
    _check_num_classes(num_classes)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"Expected dropout in [0, 1), got {dropout!r}.")

    seeds = _InitializerSeeds(seed)

    def maybe_normalized(layer):
        if not spectral_norm:
            return layer
        return SeededSpectralNormalization(
            layer, seed=seeds.spectral_norm(), dtype=layer.dtype_policy, name=f"{layer.name}_sn"
        )

    images = keras.Input(shape=input_shape, name="images")
    x = images
    if len(input_shape) == 1:
        for index, units in enumerate(_check_units(hidden_units)):
            x = maybe_normalized(
                layers.Dense(units, kernel_initializer=seeds.kernel(), name=f"dense_{index}")
            )(x)
            x = layers.LeakyReLU(0.2, name=f"dense_{index}_lrelu")(x)
            if dropout:
                x = layers.Dropout(dropout, seed=seeds.dropout(), name=f"dense_{index}_dropout")(x)
        features = x
    else:
        filters = base_filters
        for stage in range(_num_stages(input_shape[0])):
            x = maybe_normalized(
                layers.Conv2D(
                    filters,
                    4,
                    strides=2,
                    padding="same",
                    kernel_initializer=seeds.kernel(),
                    name=f"downsample_{stage}",
                )
            )(x)
            x = layers.LeakyReLU(0.2, name=f"downsample_{stage}_lrelu")(x)
            if dropout:
                x = layers.Dropout(dropout, seed=seeds.dropout(), name=f"downsample_{stage}_dropout")(x)
            filters *= 2
        features = layers.Flatten(name="features")(x)
    # float32 logits under mixed precision (the last layers compute in float32).
    logits = maybe_normalized(
        layers.Dense(1, kernel_initializer=seeds.kernel(), dtype="float32", name="logits")
    )(features)
    if num_classes is None:
        return keras.Model(images, logits, name=name)
    labels = keras.Input(shape=(), dtype="int32", name="labels")
    # embed(y) as one_hot(y) @ V rather than an Embedding layer, so spectral
    # normalisation can wrap it (the Keras wrapper casts outputs to the input
    # dtype, which breaks on integer labels).
    one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot", name="one_hot_labels")(labels)
    embedded = maybe_normalized(
        layers.Dense(
            features.shape[-1],
            use_bias=False,
            kernel_initializer=seeds.embedding(),
            name="label_projection",
        )
    )(one_hot)
    projection = layers.Dot(axes=1, dtype="float32", name="projection")([embedded, features])
    logits = layers.Add(dtype="float32", name="conditional_logits")([logits, projection])
    return keras.Model([images, labels], logits, name=name)


def network_inputs(main, labels, num_classes):
    """A network's inputs: ``main`` alone, or ``[main, labels]`` when conditional."""
    return [main, labels] if num_classes is not None else main


def _probe_generator(generator, latent_dim, num_classes):
    """The generator's output for 2 zero latents (and labels), or a ``ValueError`` saying why not."""
    import tensorflow as tf

    probe = network_inputs(tf.zeros((2, latent_dim)), tf.zeros((2,), tf.int32), num_classes)
    try:
        return generator(probe, training=False)
    except Exception as error:  # the user's network rejected our inputs
        raise ValueError(
            f"The generator could not take latent vectors of shape (None, {latent_dim})"
            f"{' and labels (None,)' if num_classes else ''}: {error}"
        ) from error


def check_networks(generator, discriminator, latent_dim, num_classes):
    """Checks that a generator and a discriminator fit together; returns the example shape.

    Args:
        generator: maps ``[B, latent_dim]`` (and labels ``[B]``) to ``[B, *shape]``.
        discriminator: maps ``[B, *shape]`` (and labels) to logits ``[B, 1]``.
        latent_dim: int, size of the latent vector.
        num_classes: ``None`` or the number of classes.

    Returns:
        The example shape (tuple of ints), the generator's output shape.

    Raises:
        ValueError: a network rejects the other's shapes, or the
            discriminator does not output one logit per example.
    """
    import tensorflow as tf

    inputs = getattr(generator, "inputs", None)
    if inputs and inputs[0].shape[-1] is not None and inputs[0].shape[-1] != latent_dim:
        raise ValueError(
            f"The generator takes latent vectors of size {inputs[0].shape[-1]} but "
            f"latent_dim={latent_dim}; pass latent_dim={inputs[0].shape[-1]}."
        )
    fake = _probe_generator(generator, latent_dim, num_classes)
    data_shape = tuple(int(d) for d in fake.shape[1:])
    inputs = getattr(discriminator, "inputs", None)
    if inputs and None not in inputs[0].shape[1:] and tuple(inputs[0].shape[1:]) != data_shape:
        raise ValueError(
            f"The generator outputs examples of shape {data_shape} but the discriminator "
            f"expects {tuple(inputs[0].shape[1:])}."
        )
    try:
        logits = discriminator(network_inputs(fake, tf.zeros((2,), tf.int32), num_classes), training=False)
    except Exception as error:
        raise ValueError(
            f"The discriminator could not take the generator's output of shape "
            f"{(None,) + data_shape}{' and labels (None,)' if num_classes else ''}: {error}"
        ) from error
    if tuple(logits.shape) != (2, 1):
        raise ValueError(
            f"Expected the discriminator to output one logit per example, shape (batch, 1), "
            f"got {tuple(logits.shape)} for a batch of 2."
        )
    return data_shape


def infer_data_shape(input_shape, generator, discriminator, latent_dim, num_classes):
    """The example shape: the generator's output, else the discriminator's input, else ``input_shape``.

    Raises:
        ValueError: ``input_shape`` is needed and not supported by the built-in networks.
    """
    if generator is not None:
        outputs = getattr(generator, "outputs", None)
        if outputs and None not in outputs[0].shape[1:]:
            return tuple(int(d) for d in outputs[0].shape[1:])
        return tuple(int(d) for d in _probe_generator(generator, latent_dim, num_classes).shape[1:])
    inputs = getattr(discriminator, "inputs", None)
    if inputs and None not in inputs[0].shape[1:]:
        return tuple(int(d) for d in inputs[0].shape[1:])
    return check_data_shape(input_shape)
