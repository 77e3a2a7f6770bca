"""tfgen: generative image models (VAEs and GANs) for TensorFlow and Keras 3.

```python
import tfgen
train = tfgen.data.load("fashion_mnist", batch_size=128, seed=0)
vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=16, seed=0)
vae.compile(optimizer="adam")
vae.fit(train, epochs=5)
tfgen.export_saved_model(vae, "saved_models/vae")
```
"""

from tfgen import _cli_logging  # noqa: F401  (first: keeps the tfgen command's TensorFlow start-up quiet)

import importlib

from tfgen.version import __version__
from tfgen import augment, data, distribute, losses, models, random
from tfgen.models import GAN, VAE
from tfgen.export import export_saved_model

# Imported on first use (``tfgen.metrics.frechet_inception_distance(...)``
# after a plain ``import tfgen``), so that importing tfgen stays cheap.
_LAZY_SUBMODULES = ("callbacks", "metrics", "plotting", "precision", "serving")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"tfgen.{name}")
    raise AttributeError(f"module 'tfgen' has no attribute {name!r}")


__all__ = ["__version__", "augment", "data", "distribute", "losses", "models", "random", "GAN", "VAE", "export_saved_model",
           *_LAZY_SUBMODULES]
