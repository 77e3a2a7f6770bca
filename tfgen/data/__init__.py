"""Data sets for generative image models, as batched ``tf.data`` pipelines.

Images come out as float32 ``[B, H, W, C]`` in [-1, 1] (``uint8 v -> v / 127.5 - 1``),
optionally with int32 labels ``[B]``; 2-D toy mixtures (ring8, grid25) as
float32 points ``[B, 2]``.

* :func:`load` / :func:`load_arrays`: registered data sets (:data:`DATASETS`,
  :func:`list_datasets`, :func:`info`): fashion_mnist, mnist, cifar10,
  digits, ring8, grid25. Nothing is downloaded; see :mod:`tfgen.data.sources`
  for where files are looked up (``$TFGEN_DATA_DIR``, ``data_dir``,
  tensorflow-datasets, ``/usr/share/datasets``).
* :func:`num_examples`: the size of a split, without decoding it (IDX
  headers, tensorflow-datasets metadata).
* :func:`from_numpy` / :func:`from_directory`: your own images.

Example:

```python
import tfgen.data

for entry in tfgen.data.list_datasets():
    print(entry["name"], entry["available"], entry["source"])
train = tfgen.data.load("fashion_mnist", batch_size=128, seed=0)
```
"""

from tfgen.data import idx, mixtures
from tfgen.data.directory import from_directory
from tfgen.data.pipeline import from_numpy
from tfgen.data.registry import DATASETS, DatasetSpec, info, list_datasets, load, load_arrays, num_examples

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "from_directory",
    "from_numpy",
    "idx",
    "info",
    "list_datasets",
    "load",
    "load_arrays",
    "mixtures",
    "num_examples",
]
