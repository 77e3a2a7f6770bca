"""Generator and discriminator networks for the GAN: plain functional Keras models.

Vectors ``(D,)`` (e.g. the 2-D Gaussian mixtures) always get MLPs; the
generator's output is linear (mixture points are not confined to [-1, 1]).
Images ``(H, W, C)``, square, any number of channels, get one of the
families in :data:`ARCHITECTURES`, chosen by ``architecture``:

* ``"dcgan"`` (the default; sides 16, 28, 32, 64): DCGAN (Radford et al.,
  2016). The generator maps ``z`` through a dense layer to ``start x start``
  features (7x7 for 28x28, 4x4 otherwise) and doubles the resolution with
  stride-2 transposed convolutions (synchronized batch norm, ReLU) up to a
  ``tanh`` output in [-1, 1]. The discriminator mirrors it with stride-2
  convolutions and LeakyReLU(0.2) and **no batch norm**, so each example's
  logit depends on that example alone (required by the gradient penalty and R1).
* ``"resnet"`` (sides 16, 28, 32, 64, 128, 256): normalisation-free residual
  networks after R3GAN (Huang et al., 2024); see
  :mod:`tfgen.models.resnet_networks` for the design and the reasons for it.

Conditioning on class labels (``num_classes``): the generator concatenates a
learned label embedding with ``z``; the discriminator is a *projection
discriminator* (Miyato & Koyama, 2018): ``logit = w . h + embed(y) . h`` with
``h`` the discriminator's features, which conditions far more stably than
concatenating labels to the input. Every family shares these two pieces
(:func:`generator_inputs`, :func:`discriminator_model`).

Input names: generator ``"latent"`` ``[B, latent_dim]`` (and ``"labels"``
int ``[B]``); discriminator ``"images"`` ``[B, *shape]`` (and ``"labels"``).
Outputs: generator ``[B, *shape]``; discriminator one raw logit ``[B, 1]``.
Under a mixed-precision policy the last layers compute in float32, so images
and logits are float32.

Example:
```python
generator = make_generator((28, 28, 1), latent_dim=64, num_classes=10)
images = generator([z, labels])                  # [B, 28, 28, 1] in [-1, 1]
discriminator = make_discriminator((28, 28, 1), num_classes=10, spectral_norm=True)
logits = discriminator([images, labels])         # [B, 1]
generator = make_generator((128, 128, 3), latent_dim=64, architecture="resnet")
```
"""

import math
import typing

import keras
from keras import layers

from tfgen import validation
from tfgen.models import resnet_networks

# DCGAN: image side -> side of the first feature map; the networks use
# log2(side / start) stride-2 stages.
SUPPORTED_IMAGE_SIZES = {16: 4, 28: 7, 32: 4, 64: 4}


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

    A ``DepthwiseConv2D`` kernel ``[k, k, C, m]`` is block diagonal (one
    ``[k*k, m]`` block per channel), so its spectral norm is the largest of
    the blocks' norms; this wrapper divides it by that (each block's
    Frobenius norm, exact for ``depth_multiplier=1``). Keras' wrapper would
    flatten it to one ``[k*k*C, m]`` matrix and shrink every channel by about
    ``sqrt(C)``.
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

    def normalized_weights(self):
        if not isinstance(self.layer, layers.DepthwiseConv2D):
            return super().normalized_weights()
        block_norms = keras.ops.sqrt(keras.ops.sum(keras.ops.square(self.kernel.value), axis=(0, 1, 3)))
        return self.vector_u.value, self.kernel.value / keras.ops.max(block_norms)

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        config.pop("autocast", None)
        return config


class InitializerSeeds:
    """Distinct seeds for the layers of one network, derived from its ``seed``.

    Each call draws the next seed, so a network built twice with the same
    ``seed`` gets the same weights. With ``seed=None`` every initializer draws
    from Keras' global random state.
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

    def variance_scaling(self, scale=1.0, mode="fan_in"):
        """Normal weights with variance ``scale / fan`` ("MSR" initialisation with gain ``sqrt(scale)``)."""
        return keras.initializers.VarianceScaling(scale, mode, "untruncated_normal", seed=self._next())

    def embedding(self):
        return keras.initializers.RandomUniform(-0.05, 0.05, seed=self._next())

    def dropout(self):
        return self._next()

    def spectral_norm(self):
        return self._next()


class Architecture(typing.NamedTuple):
    """A family of built-in image networks: an entry of :data:`ARCHITECTURES`."""

    make_generator: typing.Callable  # (output_shape, latent_dim, num_classes, base_filters, embedding_dim, seed, name)
    make_discriminator: typing.Callable  # (input_shape, num_classes, spectral_norm, base_filters, dropout, seed, name)
    image_sizes: tuple  # supported sides of square images
    description: str


def get_architecture(name):
    """The :class:`Architecture` called ``name``; ``ValueError`` listing the valid names otherwise."""
    return ARCHITECTURES[validation.check_choice("architecture", name, ARCHITECTURES)]


def _unsupported_shape_message(shape, architecture):
    sizes = ", ".join(f"({size}, {size}, C)" for size in get_architecture(architecture).image_sizes)
    return (
        f"Unsupported data shape {shape!r} for architecture {architecture!r}. Supported shapes: "
        f"{sizes} images with any number of channels C, or (D,) vectors."
    )


def check_data_shape(shape, architecture="dcgan"):
    """Validates a data shape and returns it as a tuple of ints.

    Args:
        shape: ``(H, W, C)`` with ``H == W`` one of the architecture's image
            sizes, or ``(D,)``.
        architecture: a key of :data:`ARCHITECTURES`.

    Raises:
        ValueError: an unknown architecture, or any other shape; the message
            lists the shapes the architecture supports.
    """
    image_sizes = get_architecture(architecture).image_sizes
    try:
        shape = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(_unsupported_shape_message(shape, architecture)) from None
    if len(shape) == 1 and shape[0] > 0:
        return shape
    if len(shape) == 3 and shape[0] == shape[1] and shape[0] in image_sizes and shape[2] > 0:
        return shape
    raise ValueError(_unsupported_shape_message(shape, architecture))


def _num_stages(image_size):
    return int(round(math.log2(image_size // SUPPORTED_IMAGE_SIZES[image_size])))


def _check_units(hidden_units):
    units = tuple(hidden_units) if isinstance(hidden_units, (list, tuple)) else (hidden_units,)
    if not units or not all(isinstance(u, int) and u > 0 for u in units):
        raise ValueError(f"Expected hidden_units to be a positive int or a list of them, got {hidden_units!r}.")
    return units


def check_dropout(dropout):
    """``ValueError`` unless ``dropout`` is in [0, 1)."""
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"Expected dropout in [0, 1), got {dropout!r}.")


def discriminator_setup(num_classes, dropout, spectral_norm, seed):
    """Checks a discriminator's shared arguments; returns ``(seeds, normalize)``.

    ``seeds`` is the network's :class:`InitializerSeeds` and ``normalize`` the
    :func:`spectral_normalizer` every discriminator wraps its layers with.

    Raises:
        ValueError: invalid ``num_classes`` or ``dropout``.
    """
    validation.check_num_classes(num_classes)
    check_dropout(dropout)
    seeds = InitializerSeeds(seed)
    return seeds, spectral_normalizer(spectral_norm, seeds)


def generator_inputs(latent_dim, num_classes, embedding_dim, seeds):
    """A generator's inputs and the tensor its layers start from.

    Args:
        latent_dim: size of ``z`` (positive int).
        num_classes: ``None``, or the number of classes: adds an int
            ``"labels"`` input ``[B]`` whose learned embedding (size
            ``embedding_dim or latent_dim``) is concatenated with ``z``.
        embedding_dim: size of the label embedding, or ``None``.
        seeds: the network's :class:`InitializerSeeds`.

    Returns:
        ``(inputs, x)``: the ``"latent"`` input (or ``[latent, labels]``) and
        ``x`` ``[B, latent_dim (+ embedding_dim)]``.

    Raises:
        ValueError: invalid ``latent_dim`` or ``num_classes``.
    """
    validation.check_num_classes(num_classes)
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"Expected latent_dim to be a positive int, got {latent_dim!r}.")
    latent = keras.Input(shape=(latent_dim,), name="latent")
    if num_classes is None:
        return latent, latent
    labels = keras.Input(shape=(), dtype="int32", name="labels")
    embedded = layers.Embedding(
        num_classes,
        embedding_dim or latent_dim,
        embeddings_initializer=seeds.embedding(),
        name="label_embedding",
    )(labels)
    return [latent, labels], layers.Concatenate(name="latent_and_label")([latent, embedded])


def spectral_normalizer(spectral_norm, seeds):
    """A function ``layer -> layer``: wraps it in :class:`SeededSpectralNormalization` if ``spectral_norm``.

    The wrapper is named ``<layer name>_sn``, computes in the layer's dtype
    policy and draws its seed from ``seeds``.
    """

    def normalize(layer):
        if not spectral_norm:
            return layer
        return SeededSpectralNormalization(
            layer, seed=seeds.spectral_norm(), dtype=layer.dtype_policy, name=f"{layer.name}_sn"
        )

    return normalize


def discriminator_model(images, features, num_classes, normalize, seeds, name):
    """The discriminator's head, and the model from ``images`` (and labels) to its logits.

    ``logit = w . h + b`` (unconditional), plus ``embed(y) . h`` with a
    ``"labels"`` input when ``num_classes`` is set (projection discriminator,
    Miyato & Koyama, 2018). The head computes in float32 under mixed precision.

    Args:
        images: the ``"images"`` input.
        features: ``h`` ``[B, F]``, computed from ``images`` one example at a time.
        num_classes: ``None`` or the number of classes.
        normalize: the function from :func:`spectral_normalizer`.
        seeds: the network's :class:`InitializerSeeds`.
        name: name of the model.

    Returns:
        ``keras.Model``: ``images`` (and ``labels [B]``) -> float32 logits ``[B, 1]``.
    """
    logits = normalize(layers.Dense(1, kernel_initializer=seeds.kernel(), dtype="float32", name="logits"))(features)
    if num_classes is None:
        return keras.Model(images, logits, name=name)
    labels = keras.Input(shape=(), dtype="int32", name="labels")
    # embed(y) as one_hot(y) @ V rather than an Embedding layer, so spectral
    # normalisation can wrap it (the Keras wrapper casts outputs to the input
    # dtype, which breaks on integer labels).
    one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot", name="one_hot_labels")(labels)
    embedded = normalize(
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


def make_dcgan_generator(
    output_shape, latent_dim, num_classes=None, base_filters=64, embedding_dim=None, seed=None, name="generator"
):
    """Builds a DCGAN generator for ``(H, W, C)`` images (sides in ``SUPPORTED_IMAGE_SIZES``).

    A dense projection of ``z`` to ``start x start`` features, then stride-2
    4x4 transposed convolutions with synchronized batch norm and ReLU, the
    last one with ``tanh``. Arguments and output as :func:`make_generator`;
    ``base_filters`` are the filters of the last hidden transposed
    convolution, earlier stages double them.
    """
    output_shape = check_data_shape(output_shape, "dcgan")
    if len(output_shape) != 3:
        raise ValueError(f"Expected an image shape (H, W, C), got {output_shape!r}.")
    seeds = InitializerSeeds(seed)
    inputs, x = generator_inputs(latent_dim, num_classes, embedding_dim, seeds)
    size, _, channels = output_shape
    start = SUPPORTED_IMAGE_SIZES[size]
    stages = _num_stages(size)
    filters = base_filters * 2 ** (stages - 1)
    x = layers.Dense(start * start * filters, use_bias=False, kernel_initializer=seeds.kernel(), name="project")(x)
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
    return keras.Model(inputs, outputs, name=name)


def make_dcgan_discriminator(
    input_shape, num_classes=None, spectral_norm=False, base_filters=64, dropout=0.0, seed=None, name="discriminator"
):
    """Builds a DCGAN discriminator for ``(H, W, C)`` images (sides in ``SUPPORTED_IMAGE_SIZES``).

    Stride-2 4x4 convolutions with LeakyReLU(0.2), no batch norm; arguments
    and output as :func:`make_discriminator`. ``base_filters`` are the filters
    of the first convolution; each stage doubles them.
    """
    input_shape = check_data_shape(input_shape, "dcgan")
    if len(input_shape) != 3:
        raise ValueError(f"Expected an image shape (H, W, C), got {input_shape!r}.")
    seeds, normalize = discriminator_setup(num_classes, dropout, spectral_norm, seed)
    images = keras.Input(shape=input_shape, name="images")
    x = images
    filters = base_filters
    for stage in range(_num_stages(input_shape[0])):
        x = normalize(
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
    return discriminator_model(images, features, num_classes, normalize, seeds, name)


# Built-in image networks: name -> Architecture. make_generator and
# make_discriminator dispatch through it; vectors always get the MLPs.
ARCHITECTURES = {
    "dcgan": Architecture(
        make_dcgan_generator,
        make_dcgan_discriminator,
        tuple(sorted(SUPPORTED_IMAGE_SIZES)),
        "DCGAN: strided (transposed) convolutions, batch norm in the generator only.",
    ),
    "resnet": Architecture(
        resnet_networks.make_resnet_generator,
        resnet_networks.make_resnet_discriminator,
        tuple(sorted(resnet_networks.SUPPORTED_IMAGE_SIZES)),
        "Normalisation-free residual networks after R3GAN; sides up to 256.",
    ),
}


def make_generator(
    output_shape,
    latent_dim,
    num_classes=None,
    base_filters=64,
    hidden_units=(256, 256, 256),
    embedding_dim=None,
    seed=None,
    name="generator",
    architecture="dcgan",
):
    """Builds an image generator of the given architecture, or an MLP generator (vectors).

    Args:
        output_shape: ``(H, W, C)`` image shape (see the architecture's
            ``image_sizes``) or ``(D,)`` for vectors.
        latent_dim: size of ``z``.
        num_classes: ``None`` for an unconditional generator, else the number
            of classes; adds an int ``"labels"`` input ``[B]``.
        base_filters: width of the image networks at full resolution (DCGAN:
            filters of the last hidden transposed convolution; resnet:
            channels of the full-resolution stage); lower resolutions have
            more (images only).
        hidden_units: widths of the MLP's hidden layers (vectors only).
        embedding_dim: size of the label embedding (default ``latent_dim``).
        seed: int seed of the weight initializers (``None``: Keras' global state).
        name: name of the model.
        architecture: a key of :data:`ARCHITECTURES` (images only).

    Returns:
        ``keras.Model``: ``latent [B, latent_dim]`` (and ``labels [B]``) ->
        ``[B, *output_shape]``; images in [-1, 1] (tanh), vectors unbounded.

    Raises:
        ValueError: unknown architecture, unsupported ``output_shape`` or invalid sizes.
    """
    output_shape = check_data_shape(output_shape, architecture)
    if len(output_shape) == 3:
        return get_architecture(architecture).make_generator(
            output_shape,
            latent_dim,
            num_classes=num_classes,
            base_filters=base_filters,
            embedding_dim=embedding_dim,
            seed=seed,
            name=name,
        )
    seeds = InitializerSeeds(seed)
    inputs, x = generator_inputs(latent_dim, num_classes, embedding_dim, seeds)
    for index, units in enumerate(_check_units(hidden_units)):
        x = layers.Dense(units, activation="relu", kernel_initializer=seeds.kernel(), name=f"dense_{index}")(x)
    # The last layer of every network computes in float32 under mixed precision.
    outputs = layers.Dense(output_shape[0], kernel_initializer=seeds.kernel(), dtype="float32", name="outputs")(x)
    return keras.Model(inputs, outputs, name=name)


def make_discriminator(
    input_shape,
    num_classes=None,
    spectral_norm=False,
    base_filters=64,
    hidden_units=(256, 256, 256),
    dropout=0.0,
    seed=None,
    name="discriminator",
    architecture="dcgan",
):
    """Builds an image discriminator of the given architecture, or an MLP discriminator (vectors).

    No batch statistics: each logit depends only on its own example, as the
    gradient penalty, R1 and R2 require.

    Args:
        input_shape: ``(H, W, C)`` image shape or ``(D,)`` vector shape.
        num_classes: ``None``, or the number of classes for a projection
            discriminator with an int ``"labels"`` input ``[B]``.
        spectral_norm: wrap every convolution and dense layer (including the
            label projection) in ``keras.layers.SpectralNormalization``
            (Miyato et al., 2018; the seeded subclass
            :class:`SeededSpectralNormalization`).
        base_filters: width of the image networks at full resolution (DCGAN:
            filters of the first convolution; resnet: channels of the
            full-resolution stage); lower resolutions have more (images only).
        hidden_units: widths of the MLP's hidden layers (vectors only).
        dropout: dropout rate after each hidden block (0 disables it). Dropout
            is seeded from ``seed`` but, like all Keras dropout, its masks are
            not replica-aware.
        seed: int seed of the weight initializers and dropout (``None``:
            Keras' global state).
        name: name of the model.
        architecture: a key of :data:`ARCHITECTURES` (images only).

    Returns:
        ``keras.Model``: ``images [B, *input_shape]`` (and ``labels [B]``) ->
        raw float32 logits ``[B, 1]``.

    Raises:
        ValueError: unknown architecture, unsupported ``input_shape`` or invalid sizes.
    """
    input_shape = check_data_shape(input_shape, architecture)
    if len(input_shape) == 3:
        return get_architecture(architecture).make_discriminator(
            input_shape,
            num_classes=num_classes,
            spectral_norm=spectral_norm,
            base_filters=base_filters,
            dropout=dropout,
            seed=seed,
            name=name,
        )
    seeds, normalize = discriminator_setup(num_classes, dropout, spectral_norm, seed)
    vectors = keras.Input(shape=input_shape, name="images")
    x = vectors
    for index, units in enumerate(_check_units(hidden_units)):
        x = normalize(layers.Dense(units, kernel_initializer=seeds.kernel(), name=f"dense_{index}"))(x)
        x = layers.LeakyReLU(0.2, name=f"dense_{index}_lrelu")(x)
        if dropout:
            x = layers.Dropout(dropout, seed=seeds.dropout(), name=f"dense_{index}_dropout")(x)
    return discriminator_model(vectors, x, num_classes, normalize, seeds, name)


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


def infer_data_shape(input_shape, generator, discriminator, latent_dim, num_classes, architecture="dcgan"):
    """The example shape: the generator's output, else the discriminator's input, else ``input_shape``.

    Raises:
        ValueError: ``input_shape`` is needed and not supported by the built-in
            networks of ``architecture`` (a key of :data:`ARCHITECTURES`).
    """
    if generator is not None:
        outputs = getattr(generator, "outputs", None)
        if outputs and None not in outputs[0].shape[1:]:
            return tuple(int(d) for d in outputs[0].shape[1:])
        return tuple(int(d) for d in _probe_generator(generator, latent_dim, num_classes).shape[1:])
    inputs = getattr(discriminator, "inputs", None)
    if inputs and None not in inputs[0].shape[1:]:
        return tuple(int(d) for d in inputs[0].shape[1:])
    return check_data_shape(input_shape, architecture)
