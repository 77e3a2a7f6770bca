"""Residual generator and discriminator without normalisation (``architecture="resnet"``).

The second family of built-in image networks beside DCGAN
(:data:`tfgen.models.gan_networks.ARCHITECTURES`), for square images of side
16, 28, 32, 64, 128 or 256 with any number of channels. Same contract as the
DCGAN networks: the generator maps ``latent [B, latent_dim]`` (and int
``labels [B]``) to ``[B, H, W, C]`` in [-1, 1] (``tanh``); the discriminator
maps ``images`` (and ``labels``) to raw logits ``[B, 1]``, a projection
discriminator when conditional. Under mixed precision both final layers
compute in float32.

Layout (R3GAN, Huang et al., 2024, "The GAN is dead; long live the GAN! A
Modern GAN Baseline", and its reference code):

* generator: a dense projection of ``z`` (and the label embedding) to
  ``start x start`` features (7x7 for side 28, 4x4 otherwise); then per
  resolution, from ``start`` up to the image side, a transition (a 1x1
  convolution where the width changes, at the lower resolution, then 2x
  bilinear upsampling) and ``blocks_per_stage`` residual blocks; a 1x1
  convolution with ``tanh`` makes the image.
* discriminator: the mirror image. A 1x1 convolution lifts the image to
  features; per resolution, residual blocks, then 2x2 average pooling and a
  1x1 convolution where the width changes; at ``start x start`` a depthwise
  ``start x start`` convolution (valid padding: a learned spatial weighting
  per channel) gives the features ``h`` of the projection head.
* residual block: ``x + W3 lrelu(D lrelu(W1 x + b1) + b2)``: an inverted
  bottleneck with a 1x1 convolution ``W1`` to twice the width, a 3x3
  depthwise convolution ``D``, a 1x1 convolution ``W3`` back, LeakyReLU(0.2)
  with a bias before each activation. No nonlinearity outside the blocks.
* widths: ``min(base_filters * side / resolution, 8 * base_filters)``:
  ``base_filters`` at full resolution, doubling at each halving, capped at
  8x. R3GAN's FFHQ-256 configuration has exactly this shape (96 channels at
  256x256, 768 from 32x32 down), and the cap keeps the low resolutions of the
  128 and 256 networks from growing to 16x and 32x the base width.

Why this design rather than SNGAN/BigGAN residual blocks:

* No normalisation layers. The discriminator must not use batch statistics:
  the gradient penalty, R1 and R2 are per-example penalties, valid only if
  each logit depends on its own example alone. SNGAN/BigGAN generators rely
  on batch norm (BigGAN on class-conditional batch norm), which couples the
  examples of a batch and needs synchronized statistics for a multi-replica
  step to equal a single-device one. R3GAN removes every normalisation layer
  from both networks and still beats StyleGAN2 (FFHQ-256 FID 2.75 vs 3.78,
  CIFAR-10 FID 1.96, all 1000 Stacked-MNIST modes) when trained with its
  relativistic loss and R1 + R2 penalties; with no batch statistics anywhere
  a step on one replica and on several are the same computation.
* Fix-up initialisation instead (Zhang et al., 2019, as in R3GAN): each
  block's last convolution starts at zero, so every block starts as the
  identity and the untrained networks are shallow; the block's other two
  layers get He-style normal weights scaled by ``L ** -0.25`` in standard
  deviation, ``L`` the number of blocks in the network (``m = 3`` layers per
  branch: ``L ** (-1 / (2m - 2))``). Without normalisation this is what keeps
  the activations' scale from growing with depth.
* Inverted bottleneck with few parameters in the spatial convolution, 1x1
  transitions outside the blocks, and linear resampling: the last steps
  ("ConvNeXt-ify") of R3GAN's roadmap from a stripped-down StyleGAN2, each
  kept because it lowered FID.
* One deliberate departure: R3GAN's 3x3 convolution is grouped, 16 channels
  per group. TensorFlow's CPU kernels for grouped convolutions are far
  slower than its depthwise ones (the backward pass by orders of magnitude;
  XLA does not help), which would make these networks unusable on the CPU,
  where tfgen's tests and notebooks run. The 3x3 convolution is therefore
  depthwise (group size 1, as in ConvNeXt and MobileNetV2); the 1x1 layers
  still mix channels.
* Bilinear upsampling and 2x2 average pooling stand in for R3GAN's [1, 2, 1]
  low-pass resampling filters: stock Keras layers with the same role
  (interpolation instead of transposed or strided convolutions).

``spectral_norm=True`` wraps every convolution and dense layer of the
discriminator in :class:`tfgen.models.gan_networks.SeededSpectralNormalization`
(which treats a depthwise kernel as the block-diagonal matrix it is). Under
spectral normalisation each block's last convolution starts from random
weights like the others: spectral normalisation rescales a kernel to unit
spectral norm at every training step, so a zero start would not survive the
first update anyway.

Example:
```python
generator = make_resnet_generator((64, 64, 3), latent_dim=64, base_filters=32, seed=0)
images = generator(z)                             # [B, 64, 64, 3] in [-1, 1]
discriminator = make_resnet_discriminator((64, 64, 3), num_classes=10, base_filters=32, seed=1)
logits = discriminator([images, labels])          # [B, 1]
```
"""

import math

import keras
from keras import layers

from tfgen import validation

# Image side -> side of the first feature map (the last one of the discriminator).
SUPPORTED_IMAGE_SIZES = {16: 4, 28: 7, 32: 4, 64: 4, 128: 4, 256: 4}

# Widths are capped at this multiple of base_filters.
MAX_WIDTH_MULTIPLIER = 8
# A residual block's hidden width over its width (R3GAN's expansion factor).
EXPANSION = 2
LEAKY_RELU_SLOPE = 0.2
# Squared gain of LeakyReLU(0.2) for He initialisation: 2 / (1 + 0.2^2).
LEAKY_RELU_GAIN_SQUARED = 2.0 / (1.0 + LEAKY_RELU_SLOPE**2)


def _gan_networks():
    # gan_networks imports this module for its registry; importing it back
    # when a network is built, not at import time, keeps the cycle harmless
    # whichever module is imported first.
    from tfgen.models import gan_networks

    return gan_networks


def _check_image_shape(shape):
    shape = _gan_networks().check_data_shape(shape, "resnet")
    if len(shape) != 3:
        raise ValueError(f"Expected an image shape (H, W, C), got {shape!r}.")
    return shape


def _resolutions(image_size):
    """The feature-map sides from ``start`` up to ``image_size``: e.g. [4, 8, 16, 32]."""
    start = SUPPORTED_IMAGE_SIZES[image_size]
    return [start * 2**index for index in range(int(round(math.log2(image_size // start))) + 1)]


def _width(resolution, image_size, base_filters):
    return min(base_filters * (image_size // resolution), MAX_WIDTH_MULTIPLIER * base_filters)


def _residual_block(x, name, seeds, num_blocks, normalize, spectral_norm=False):
    """``x + W3 lrelu(D lrelu(W1 x + b1) + b2)`` with fix-up initialisation (see the module docstring)."""
    width = x.shape[-1]
    # He variance for LeakyReLU, times L ** -0.5 (the standard deviation times L ** -0.25).
    branch_scale = LEAKY_RELU_GAIN_SQUARED / math.sqrt(num_blocks)
    y = normalize(
        layers.Conv2D(
            EXPANSION * width, 1, kernel_initializer=seeds.variance_scaling(branch_scale), name=f"{name}_expand"
        )
    )(x)
    y = layers.LeakyReLU(LEAKY_RELU_SLOPE, name=f"{name}_expand_lrelu")(y)
    # A depthwise kernel [3, 3, C, 1] has fan_in 9 per channel, which Keras
    # computes as its fan_out (its fan_in would be 9 * C).
    y = normalize(
        layers.DepthwiseConv2D(
            3,
            padding="same",
            depthwise_initializer=seeds.variance_scaling(branch_scale, mode="fan_out"),
            name=f"{name}_spatial",
        )
    )(y)
    y = layers.LeakyReLU(LEAKY_RELU_SLOPE, name=f"{name}_spatial_lrelu")(y)
    last_initializer = seeds.variance_scaling(1.0) if spectral_norm else keras.initializers.Zeros()
    y = normalize(
        layers.Conv2D(width, 1, use_bias=False, kernel_initializer=last_initializer, name=f"{name}_project")
    )(y)
    return layers.Add(name=f"{name}_add")([x, y])


def make_resnet_generator(
    output_shape,
    latent_dim,
    num_classes=None,
    base_filters=64,
    embedding_dim=None,
    seed=None,
    name="generator",
    blocks_per_stage=2,
):
    """Builds a normalisation-free residual generator (see the module docstring).

    Args:
        output_shape: ``(H, W, C)`` with ``H == W`` in ``SUPPORTED_IMAGE_SIZES``.
        latent_dim: size of ``z``.
        num_classes: ``None`` for an unconditional generator, else the number
            of classes; adds an int ``"labels"`` input ``[B]``.
        base_filters: channels at full resolution; each halving of the
            resolution doubles them, up to ``8 * base_filters``.
        embedding_dim: size of the label embedding (default ``latent_dim``).
        seed: int seed of the weight initializers (``None``: Keras' global state).
        name: name of the model.
        blocks_per_stage: residual blocks at each resolution.

    Returns:
        ``keras.Model``: ``latent [B, latent_dim]`` (and ``labels [B]``) ->
        float32 images ``[B, H, W, C]`` in [-1, 1].

    Raises:
        ValueError: unsupported ``output_shape`` or invalid sizes.
    """
    gan_networks = _gan_networks()
    size, _, channels = _check_image_shape(output_shape)
    base_filters = validation.check_positive_int("base_filters", base_filters)
    blocks_per_stage = validation.check_positive_int("blocks_per_stage", blocks_per_stage)
    seeds = gan_networks.InitializerSeeds(seed)
    inputs, x = gan_networks.generator_inputs(latent_dim, num_classes, embedding_dim, seeds)
    resolutions = _resolutions(size)
    num_blocks = blocks_per_stage * len(resolutions)
    start, width = resolutions[0], _width(resolutions[0], size, base_filters)
    x = layers.Dense(
        start * start * width, use_bias=False, kernel_initializer=seeds.variance_scaling(1.0), name="project"
    )(x)
    x = layers.Reshape((start, start, width), name="reshape")(x)
    for resolution in resolutions:
        if resolution != start:
            width = _width(resolution, size, base_filters)
            if x.shape[-1] != width:
                x = layers.Conv2D(
                    width,
                    1,
                    use_bias=False,
                    kernel_initializer=seeds.variance_scaling(1.0),
                    name=f"to_{resolution}_channels",
                )(x)
            x = layers.UpSampling2D(interpolation="bilinear", name=f"upsample_to_{resolution}")(x)
        for index in range(blocks_per_stage):
            x = _residual_block(x, f"block_{resolution}_{index}", seeds, num_blocks, normalize=lambda layer: layer)
    outputs = layers.Conv2D(
        channels,
        1,
        activation="tanh",
        kernel_initializer=seeds.variance_scaling(1.0),
        dtype="float32",  # float32 output under mixed precision (Keras' guidance)
        name="outputs",
    )(x)
    return keras.Model(inputs, outputs, name=name)


def make_resnet_discriminator(
    input_shape,
    num_classes=None,
    spectral_norm=False,
    base_filters=64,
    dropout=0.0,
    seed=None,
    name="discriminator",
    blocks_per_stage=2,
):
    """Builds a normalisation-free residual discriminator (see the module docstring).

    No batch statistics: each logit depends only on its own example, as the
    gradient penalty, R1 and R2 require.

    Args:
        input_shape: ``(H, W, C)`` with ``H == W`` in ``SUPPORTED_IMAGE_SIZES``.
        num_classes: ``None``, or the number of classes for a projection
            discriminator with an int ``"labels"`` input ``[B]``.
        spectral_norm: wrap every convolution and dense layer (including the
            label projection) in ``SeededSpectralNormalization``.
        base_filters: channels at full resolution; each halving of the
            resolution doubles them, up to ``8 * base_filters``.
        dropout: dropout rate after each downsampling (0 disables it);
            seeded from ``seed``, not replica-aware.
        seed: int seed of the weight initializers and dropout (``None``:
            Keras' global state).
        name: name of the model.
        blocks_per_stage: residual blocks at each resolution.

    Returns:
        ``keras.Model``: ``images [B, H, W, C]`` (and ``labels [B]``) -> raw
        float32 logits ``[B, 1]``.

    Raises:
        ValueError: unsupported ``input_shape`` or invalid sizes.
    """
    gan_networks = _gan_networks()
    input_shape = _check_image_shape(input_shape)
    seeds, normalize = gan_networks.discriminator_setup(num_classes, dropout, spectral_norm, seed)
    base_filters = validation.check_positive_int("base_filters", base_filters)
    blocks_per_stage = validation.check_positive_int("blocks_per_stage", blocks_per_stage)
    size = input_shape[0]
    resolutions = _resolutions(size)[::-1]
    num_blocks = blocks_per_stage * len(resolutions)
    images = keras.Input(shape=input_shape, name="images")
    x = normalize(
        layers.Conv2D(
            _width(size, size, base_filters),
            1,
            use_bias=False,
            kernel_initializer=seeds.variance_scaling(1.0),
            name="from_image",
        )
    )(images)
    for resolution in resolutions:
        for index in range(blocks_per_stage):
            x = _residual_block(
                x, f"block_{resolution}_{index}", seeds, num_blocks, normalize, spectral_norm=spectral_norm
            )
        if resolution == resolutions[-1]:
            break
        x = layers.AveragePooling2D(2, name=f"downsample_from_{resolution}")(x)
        width = _width(resolution // 2, size, base_filters)
        if x.shape[-1] != width:
            x = normalize(
                layers.Conv2D(
                    width,
                    1,
                    use_bias=False,
                    kernel_initializer=seeds.variance_scaling(1.0),
                    name=f"to_{resolution // 2}_channels",
                )
            )(x)
        if dropout:
            x = layers.Dropout(dropout, seed=seeds.dropout(), name=f"dropout_{resolution // 2}")(x)
    start = resolutions[-1]
    x = normalize(
        layers.DepthwiseConv2D(
            start,
            padding="valid",
            use_bias=False,
            depthwise_initializer=seeds.variance_scaling(1.0, mode="fan_out"),
            name="spatial_weighting",
        )
    )(x)
    features = layers.Flatten(name="features")(x)
    return gan_networks.discriminator_model(images, features, num_classes, normalize, seeds, name)
