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

from tfgen.version import __version__
from tfgen import data, losses, models, random
from tfgen.models import VAE
from tfgen.export import export_saved_model

__all__ = ["__version__", "data", "losses", "models", "random", "VAE", "export_saved_model"]
