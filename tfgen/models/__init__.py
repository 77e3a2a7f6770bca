"""tfgen's models: the shared base class, ``VAE`` and ``GAN``, and the factories of their networks.

Every family subclasses :class:`GenerativeModel` (``tfgen/models/base.py``),
which owns the seed, the step counter, sampling, skip-if-not-finite updates
and the export endpoints; see the README's "Development" section.
"""

from tfgen.models.base import Endpoint, GenerativeModel, StopOnNonFiniteLoss
from tfgen.models.config import GANCompileConfig, GANConfig, VAECompileConfig, VAEConfig
from tfgen.models.vae import VAE, Sampling
from tfgen.models.vae_networks import make_decoder, make_encoder
from tfgen.models.gan import GAN

# Every model family; the contract test suite (tests/models/test_contract.py) runs for each.
MODEL_FAMILIES = {"vae": VAE, "gan": GAN}

__all__ = [
    "GenerativeModel",
    "Endpoint",
    "StopOnNonFiniteLoss",
    "VAE",
    "VAEConfig",
    "VAECompileConfig",
    "GAN",
    "GANConfig",
    "GANCompileConfig",
    "MODEL_FAMILIES",
    "Sampling",
    "make_encoder",
    "make_decoder",
]
