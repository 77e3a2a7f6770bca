"""The settings of every model family and their defaults, as data.

One dataclass per family and purpose; each field is a
:func:`tfgen.config.option` with its default, a line of help and, where the
value is a name, the registry it must come from. The models take their
constructor and ``compile`` defaults from here (``latent_dim=VAEConfig.latent_dim``)
and list these fields in ``get_config``; ``tfgen train`` turns them into
flags (``tfgen/cli/train_lib.py``). Change a default here and every one of
those follows.

Example:
```python
from tfgen.config import defaults
from tfgen.models.config import GANCompileConfig
defaults(GANCompileConfig)["learning_rate"]     # 0.0002
```
"""

import dataclasses
import typing

import keras

from tfgen import losses
from tfgen.config import option
from tfgen.models import gan_networks, vae_networks

# Decoder likelihoods: the name -> the per-example negative log-likelihood.
LIKELIHOODS = losses.RECONSTRUCTION_LOSSES
# How many maps per image channel the decoder outputs for each likelihood:
# 1 (bernoulli: logits; gaussian: means, the scale is one model weight) or
# 2 (the means in the first C channels, then the raw log-scales of each pixel,
# softly bounded by tfgen.losses.bounded_log_scale). A likelihood added to
# LIKELIHOODS but not here gets the decoder's output, one map, as its parameter.
DECODER_PARAMETERS_PER_CHANNEL = {
    "bernoulli": 1,
    "gaussian": 1,
    "gaussian_per_pixel": 2,
    "discretized_logistic": 2,
}


@dataclasses.dataclass(frozen=True)
class VAEConfig:
    """The VAE's constructor settings and their defaults (``VAE(**...)``, ``get_config``, the CLI)."""

    latent_dim: int = option(16, "size of the latent vector")
    architecture: str = option("conv", "built-in network family", choices=vae_networks.ARCHITECTURES)
    likelihood: str = option(
        "bernoulli", "decoder likelihood: bernoulli (binary data), gaussian (one scale), gaussian_per_pixel "
        "(a learned variance per pixel), discretized_logistic (8-bit images; a real log-likelihood)",
        choices=LIKELIHOODS,
    )
    beta: float = option(1.0, "weight of the KL term (1 gives the ELBO)")
    base_filters: int = option(32, "built-in networks: filters of the first convolution")
    hidden_units: int = option(256, "built-in networks: width of the dense layers")
    observation_std: typing.Optional[float] = option(
        None, "gaussian likelihood: a fixed observation standard deviation (None: learn one scalar)"
    )


@dataclasses.dataclass(frozen=True)
class VAECompileConfig:
    """The VAE's training settings and their defaults (:func:`default_vae_optimizer`, the CLI)."""

    learning_rate: float = option(1e-3, "Adam learning rate")


def default_vae_optimizer(learning_rate=VAECompileConfig.learning_rate):
    """Adam(1e-3), the VAE's default optimizer."""
    return keras.optimizers.Adam(learning_rate=learning_rate)


# compile(update=...): how one train step updates the two networks.
UPDATE_SCHEMES = {
    "alternating": "d_steps_per_g_step discriminator updates, then a generator update on fresh noise "
    "against the updated discriminator (keras-io's DCGAN)",
    "simultaneous": "one generator forward feeds both updates; the generator's gradient is taken against "
    "the discriminator before its update (the TensorFlow DCGAN tutorial's step)",
}


@dataclasses.dataclass(frozen=True)
class GANConfig:
    """The GAN's constructor settings and their defaults (``GAN(**...)``, ``get_config``, the CLI)."""

    latent_dim: int = option(64, "size of the latent vector z ~ N(0, I)")
    architecture: str = option("dcgan", "built-in image networks", choices=gan_networks.ARCHITECTURES)
    spectral_norm: bool = option(False, "built-in discriminator: spectral normalisation on every layer")
    base_filters: int = option(64, "built-in image networks: filters of the outermost convolutions")
    hidden_units: tuple = option((256, 256, 256), "built-in vector networks: widths of the hidden layers", flag=False)
    dropout: float = option(0.0, "built-in discriminator: dropout rate (0 disables it)")


@dataclasses.dataclass(frozen=True)
class GANCompileConfig:
    """The GAN's training settings and their defaults (``GAN.compile``'s arguments, and the learning
    rate and ``beta_1`` of :func:`default_gan_optimizer`; the CLI)."""

    learning_rate: float = option(2e-4, "Adam learning rate of both networks")
    d_learning_rate: typing.Optional[float] = option(
        None, "Adam learning rate of the discriminator (None: --learning-rate); a different one for each network "
        "is the two-time-scale update rule (TTUR)"
    )
    beta_1: float = option(0.5, "Adam beta_1 of both networks")
    loss: str = option("non_saturating", "GAN loss", choices=losses.GAN_LOSSES)
    gradient_penalty: float = option(0.0, "WGAN-GP weight lambda (0: off)")
    r1_penalty: float = option(0.0, "R1 gamma: gradient penalty on real examples (0: off)")
    r2_penalty: float = option(0.0, "R2 gamma: gradient penalty on generated examples (0: off)")
    penalty_interval: int = option(
        1, "lazy regularisation: compute R1/R2 on one discriminator update in this many, weighted as many times"
    )
    d_steps_per_g_step: int = option(1, "discriminator updates per generator update")
    ema_decay: typing.Optional[float] = option(None, "decay of an EMA of the generator's weights, e.g. 0.999 (None: off)")
    ema_rampup: bool = option(
        False, "ramp the EMA decay up as min(decay, (1 + t) / (10 + t)) over the first generator updates t"
    )
    augment: str = option(
        "", "differentiable augmentation of everything the discriminator sees: comma-separated names from "
        "color, translation, cutout ('': off)", metavar="POLICY"
    )
    augment_probability: float = option(
        1.0, "probability of each augmentation per example (the starting value when --ada-target is set)"
    )
    ada_target: typing.Optional[float] = option(
        None, "adaptive augmentation (ADA): move the probability so that the discriminator's overfitting signal "
        "E[sign(real logit)] stays at this target, e.g. 0.6 (None: a fixed probability)"
    )
    ada_images: int = option(
        100_000, "adaptive augmentation: number of images over which the probability can move by 1"
    )
    update: str = option("alternating", "how a train step updates the networks", choices=UPDATE_SCHEMES)


def default_gan_optimizer(learning_rate=GANCompileConfig.learning_rate, beta_1=GANCompileConfig.beta_1):
    """Adam(2e-4, beta_1=0.5), the DCGAN setting used for both networks by default."""
    return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)
