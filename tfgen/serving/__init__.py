"""Serving exported models over TensorFlow Serving's REST API.

- ``tfgen.serving.serve`` / ``make_server`` (what ``tfgen serve`` runs): the
  REST API of TensorFlow Serving for a ``saved_models/<name>/<version>/``
  directory, following new versions without a restart.
- ``tfgen.serving.Client``: calls such a server (or TensorFlow Serving) with
  ``urllib`` and returns NumPy arrays.

Example:
```python
# shell: tfgen serve --model-base-path saved_models/vae --port 8501
from tfgen.serving import Client
client = Client("http://127.0.0.1:8501", "vae")
images = client.generate(16, seed=0)      # float32 [16, H, W, C] in [-1, 1]
```
"""

from tfgen.serving.client import Client, ServingError
from tfgen.serving.server import ModelServer, ModelService, make_server, serve

__all__ = ["Client", "ServingError", "ModelServer", "ModelService", "make_server", "serve"]
