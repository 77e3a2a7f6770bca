"""tfgen's models: ``VAE`` and ``GAN`` and the factories of their networks."""

from tfgen.models.vae import VAE, Sampling
from tfgen.models.vae_networks import make_decoder, make_encoder
from tfgen.models.gan import GAN

__all__ = ["VAE", "GAN", "Sampling", "make_encoder", "make_decoder"]
