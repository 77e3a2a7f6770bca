"""Encoder and decoder networks for the VAE: plain functional Keras models.

The convolutional networks size themselves from the image shape: they halve
the spatial size with stride-2 convolutions as long as both sides stay
divisible and at least 4 pixels (28x28 -> 14 -> 7, 32x32 -> 16 -> 8 -> 4,
16x16 -> 8 -> 4), and the decoder mirrors the encoder. The MLP networks suit
small inputs such as 8x8 or 16x16 digits.

Conditioning on class labels (``num_classes``): each network embeds the int
``"labels"`` input ``[B]`` with its own learned embedding and concatenates it
with the flattened image features (encoder, before the dense layers) or with
the latent vector (decoder), the CVAE of Sohn et al. (2015).

Example:
```python
encoder = make_encoder((28, 28, 1), latent_dim=16)
z_mean, z_log_var = encoder(images)          # each [B, 16]
decoder = make_decoder((28, 28, 1), latent_dim=16)
logits = decoder(z_mean)                      # [B, 28, 28, 1]
decoder = make_decoder((28, 28, 1), latent_dim=16, num_classes=10, parameters_per_channel=2)
means_and_log_scales = decoder([z_mean, labels])   # [B, 28, 28, 2]
```
"""

import keras
from keras import layers

from tfgen import validation

ARCHITECTURES = ("conv", "mlp")
MAX_DOWNSAMPLINGS = 3


def check_image_shape(image_shape):
    """``image_shape`` as a tuple ``(height, width, channels)`` of positive ints, or ``ValueError``."""
    if (
        not isinstance(image_shape, (tuple, list))
        or len(image_shape) != 3
        or not all(isinstance(d, int) and d > 0 for d in image_shape)
    ):
        raise ValueError(
            f"Expected an image shape (height, width, channels) of positive ints, "
            f"got {image_shape!r}."
        )
    return tuple(image_shape)


def _check_architecture(architecture):
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"Unknown architecture {architecture!r}. Valid architectures: {sorted(ARCHITECTURES)}"
        )


class SeededLayers:
    """Makes Dense/Conv layers whose initial weights all follow from one seed.

    Each layer gets its own seeded Glorot initializer (a shared seed would
    give layers of equal shape equal weights). ``seed=None`` keeps Keras'
    unseeded default.
    """

    def __init__(self, seed):
        self.seed = seed
        self.count = 0

    def _initializer(self):
        if self.seed is None:
            return "glorot_uniform"
        self.count += 1
        return keras.initializers.GlorotUniform(seed=(self.seed * 1009 + self.count) % (2**31 - 1))

    def dense(self, *args, **kwargs):
        return layers.Dense(*args, kernel_initializer=self._initializer(), **kwargs)

    def conv(self, *args, **kwargs):
        return layers.Conv2D(*args, kernel_initializer=self._initializer(), **kwargs)

    def deconv(self, *args, **kwargs):
        return layers.Conv2DTranspose(*args, kernel_initializer=self._initializer(), **kwargs)

    def embedding(self, *args, **kwargs):
        # N(0, 1) vectors, on the scale of the latent vectors and pixels they
        # join: Keras' default U(-0.05, 0.05) starts the networks so deaf to
        # the label that the encoder learns to put the class into z instead.
        seed = None
        if self.seed is not None:
            self.count += 1
            seed = (self.seed * 1009 + self.count) % (2**31 - 1)
        initializer = keras.initializers.RandomNormal(stddev=1.0, seed=seed)
        return layers.Embedding(*args, embeddings_initializer=initializer, **kwargs)


def _labels_input(num_classes, latent_dim, embedding_dim, make):
    """The int ``"labels"`` input ``[B]`` and its embedding ``[B, embedding_dim or latent_dim]``."""
    labels = keras.Input(shape=(), dtype="int32", name="labels")
    embedded = make.embedding(num_classes, embedding_dim or latent_dim, name="label_embedding")(labels)
    return labels, embedded


def num_downsamplings(image_shape):
    """How many stride-2 stages the conv networks use for ``image_shape``.

    Raises:
        ValueError: if the image cannot be halved even once while staying
            at least 4x4 (use ``architecture="mlp"`` for such inputs).
    """
    height, width, _ = check_image_shape(image_shape)
    stages = 0
    while stages < MAX_DOWNSAMPLINGS:
        factor = 2 ** (stages + 1)
        if height % factor or width % factor or height // factor < 4 or width // factor < 4:
            break
        stages += 1
    if stages == 0:
        raise ValueError(
            f"A convolutional VAE needs height and width that are even and at least 8, "
            f"got image shape {tuple(image_shape)}. Use architecture='mlp' for this input."
        )
    return stages


def make_encoder(
    image_shape,
    latent_dim,
    architecture="conv",
    base_filters=32,
    hidden_units=256,
    name="encoder",
    seed=None,
    num_classes=None,
    embedding_dim=None,
):
    """Builds an encoder ``images (, labels) -> (z_mean, z_log_var)``.

    Args:
        image_shape: ``(H, W, C)`` of the input images.
        latent_dim: size of the latent vector.
        architecture: ``"conv"`` (stride-2 convolutions, filters doubling from
            ``base_filters``) or ``"mlp"`` (two dense layers).
        base_filters: filters of the first convolution.
        hidden_units: width of the dense hidden layer(s).
        seed: int or None; seeds the initial weights of every layer.
        num_classes: ``None``, or the number of classes: adds an int
            ``"labels"`` input ``[B]`` whose embedding joins the flattened
            image features.
        embedding_dim: size of the label embedding (default ``latent_dim``).

    Returns:
        A functional ``keras.Model`` with input ``images`` float32
        ``[B, H, W, C]`` in [-1, 1] (and ``labels`` int ``[B]`` in
        ``[0, num_classes)``) and outputs ``z_mean`` and ``z_log_var``,
        each ``[B, latent_dim]``.
    """
    image_shape = check_image_shape(image_shape)
    _check_architecture(architecture)
    validation.check_num_classes(num_classes)
    make = SeededLayers(seed)
    images = keras.Input(shape=image_shape, name="images")
    inputs = images
    x = images
    if architecture == "conv":
        for stage in range(num_downsamplings(image_shape)):
            x = make.conv(
                base_filters * 2**stage, 4, strides=2, padding="same", name=f"conv_{stage}"
            )(x)
            x = layers.LeakyReLU(0.2, name=f"act_{stage}")(x)
    x = layers.Flatten(name="flatten")(x)
    if num_classes is not None:
        labels, embedded = _labels_input(num_classes, latent_dim, embedding_dim, make)
        inputs = [images, labels]
        x = layers.Concatenate(name="features_and_label")([x, embedded])
    if architecture == "conv":
        x = make.dense(hidden_units, name="hidden")(x)
        x = layers.LeakyReLU(0.2, name="act_hidden")(x)
    else:
        for index in range(2):
            x = make.dense(hidden_units, activation="relu", name=f"hidden_{index}")(x)
    # The output layers compute in float32 under mixed precision (Keras'
    # guidance): exp(z_log_var) and the KL term are sensitive to rounding.
    z_mean = make.dense(latent_dim, dtype="float32", name="z_mean")(x)
    z_log_var = make.dense(latent_dim, dtype="float32", name="z_log_var")(x)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def make_decoder(
    image_shape,
    latent_dim,
    architecture="conv",
    base_filters=32,
    hidden_units=256,
    name="decoder",
    seed=None,
    num_classes=None,
    embedding_dim=None,
    parameters_per_channel=1,
):
    """Builds a decoder ``latent (, labels) -> image parameters`` mirroring :func:`make_encoder`.

    Args:
        image_shape, latent_dim, architecture, base_filters, hidden_units,
        seed: as for :func:`make_encoder`.
        num_classes: ``None``, or the number of classes: adds an int
            ``"labels"`` input ``[B]`` whose embedding is concatenated with
            the latent vector.
        embedding_dim: size of the label embedding (default ``latent_dim``).
        parameters_per_channel: maps per image channel in the output: 1 for
            the Bernoulli and Gaussian likelihoods, 2 (means, then log-scales)
            for ``"gaussian_per_pixel"`` and ``"discretized_logistic"``
            (``tfgen.models.config.DECODER_PARAMETERS_PER_CHANNEL``).

    Returns:
        A functional ``keras.Model`` with input ``latent`` float32
        ``[B, latent_dim]`` (and ``labels`` int ``[B]``) and one unbounded
        float32 output ``[B, H, W, parameters_per_channel * C]``: logits for
        a Bernoulli likelihood, means for a Gaussian one, or means then raw
        log-scales.
    """
    image_shape = check_image_shape(image_shape)
    _check_architecture(architecture)
    validation.check_num_classes(num_classes)
    if parameters_per_channel not in (1, 2):
        raise ValueError(f"Expected parameters_per_channel to be 1 or 2, got {parameters_per_channel!r}.")
    height, width, channels = image_shape
    channels *= parameters_per_channel
    make = SeededLayers(seed)
    latent = keras.Input(shape=(latent_dim,), name="latent")
    inputs, x = latent, latent
    if num_classes is not None:
        labels, embedded = _labels_input(num_classes, latent_dim, embedding_dim, make)
        inputs = [latent, labels]
        x = layers.Concatenate(name="latent_and_label")([latent, embedded])
    if architecture == "conv":
        stages = num_downsamplings(image_shape)
        start_h, start_w = height // 2**stages, width // 2**stages
        start_filters = base_filters * 2 ** (stages - 1)
        x = make.dense(hidden_units, name="hidden")(x)
        x = layers.LeakyReLU(0.2, name="act_hidden")(x)
        x = make.dense(start_h * start_w * start_filters, name="project")(x)
        x = layers.LeakyReLU(0.2, name="act_project")(x)
        x = layers.Reshape((start_h, start_w, start_filters), name="reshape")(x)
        for stage in reversed(range(stages)):
            x = make.deconv(
                base_filters * 2 ** max(stage - 1, 0),
                4,
                strides=2,
                padding="same",
                name=f"deconv_{stage}",
            )(x)
            x = layers.LeakyReLU(0.2, name=f"act_{stage}")(x)
        # float32 logits/means under mixed precision: the likelihood sums over every pixel.
        outputs = make.conv(channels, 3, padding="same", dtype="float32", name="output")(x)
    else:
        for index in range(2):
            x = make.dense(hidden_units, activation="relu", name=f"hidden_{index}")(x)
        x = make.dense(height * width * channels, dtype="float32", name="output")(x)
        outputs = layers.Reshape((height, width, channels), dtype="float32", name="reshape")(x)
    return keras.Model(inputs, outputs, name=name)
