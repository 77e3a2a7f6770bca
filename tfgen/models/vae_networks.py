"""Encoder and decoder networks for the VAE: plain functional Keras models.

The convolutional networks size themselves from the image shape: they halve
the spatial size with stride-2 convolutions as long as both sides stay
divisible and at least 4 pixels (28x28 -> 14 -> 7, 32x32 -> 16 -> 8 -> 4,
16x16 -> 8 -> 4), and the decoder mirrors the encoder. The MLP networks suit
small inputs such as 8x8 or 16x16 digits.

Example:
```python
encoder = make_encoder((28, 28, 1), latent_dim=16)
z_mean, z_log_var = encoder(images)          # each [B, 16]
decoder = make_decoder((28, 28, 1), latent_dim=16)
logits = decoder(z_mean)                      # [B, 28, 28, 1]
```
"""

import keras
from keras import layers

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
):
    """Builds an encoder ``images -> (z_mean, z_log_var)``.

    Args:
        image_shape: ``(H, W, C)`` of the input images.
        latent_dim: size of the latent vector.
        architecture: ``"conv"`` (stride-2 convolutions, filters doubling from
            ``base_filters``) or ``"mlp"`` (two dense layers).
        base_filters: filters of the first convolution.
        hidden_units: width of the dense hidden layer(s).
        seed: int or None; seeds the initial weights of every layer.

    Returns:
        A functional ``keras.Model`` with input ``images`` float32
        ``[B, H, W, C]`` in [-1, 1] and outputs ``z_mean`` and
        ``z_log_var``, each ``[B, latent_dim]``.
    """
    image_shape = check_image_shape(image_shape)
    _check_architecture(architecture)
    make = SeededLayers(seed)
    images = keras.Input(shape=image_shape, name="images")
    x = images
    if architecture == "conv":
        for stage in range(num_downsamplings(image_shape)):
            x = make.conv(
                base_filters * 2**stage, 4, strides=2, padding="same", name=f"conv_{stage}"
            )(x)
            x = layers.LeakyReLU(0.2, name=f"act_{stage}")(x)
        x = layers.Flatten(name="flatten")(x)
        x = make.dense(hidden_units, name="hidden")(x)
        x = layers.LeakyReLU(0.2, name="act_hidden")(x)
    else:
        x = layers.Flatten(name="flatten")(x)
        for index in range(2):
            x = make.dense(hidden_units, activation="relu", name=f"hidden_{index}")(x)
    # The output layers compute in float32 under mixed precision (Keras'
    # guidance): exp(z_log_var) and the KL term are sensitive to rounding.
    z_mean = make.dense(latent_dim, dtype="float32", name="z_mean")(x)
    z_log_var = make.dense(latent_dim, dtype="float32", name="z_log_var")(x)
    return keras.Model(images, [z_mean, z_log_var], name=name)


def make_decoder(
    image_shape,
    latent_dim,
    architecture="conv",
    base_filters=32,
    hidden_units=256,
    name="decoder",
    seed=None,
):
    """Builds a decoder ``latent -> image parameters`` mirroring :func:`make_encoder`.

    Returns:
        A functional ``keras.Model`` with input ``latent`` float32
        ``[B, latent_dim]`` and one unbounded output ``[B, H, W, C]``: logits
        for a Bernoulli likelihood, or means for a Gaussian one.
    """
    image_shape = check_image_shape(image_shape)
    _check_architecture(architecture)
    height, width, channels = image_shape
    make = SeededLayers(seed)
    latent = keras.Input(shape=(latent_dim,), name="latent")
    if architecture == "conv":
        stages = num_downsamplings(image_shape)
        start_h, start_w = height // 2**stages, width // 2**stages
        start_filters = base_filters * 2 ** (stages - 1)
        x = make.dense(hidden_units, name="hidden")(latent)
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
        x = latent
        for index in range(2):
            x = make.dense(hidden_units, activation="relu", name=f"hidden_{index}")(x)
        x = make.dense(height * width * channels, dtype="float32", name="output")(x)
        outputs = layers.Reshape(image_shape, dtype="float32", name="reshape")(x)
    return keras.Model(latent, outputs, name=name)
