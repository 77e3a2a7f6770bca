"""Features of real data, computed once and cached on disk.

Generated images are compared with the same real images again and again
(every epoch, every model); their features are computed once and kept in
``<cache dir>/reference/<dataset>_<split>_<num_images>_<extractor cache key>.npz``
(cache dir: ``$TFGEN_CACHE_DIR`` or ``~/.cache/tfgen``), holding the
float32 activations and their float64 mean and covariance. The images are
the first ``num_images`` of the split, in the data set's order.

Example:
```python
from tfgen.metrics import reference_activations, reference_statistics
real = reference_activations("fashion_mnist", "test", 10000, "fashion_classifier")   # [10000, 128]
mean, covariance = reference_statistics("fashion_mnist", "test", 10000, "fashion_classifier")
```
"""

import os
import re

import numpy as np

from tfgen import validation
from tfgen.metrics import cache
from tfgen.metrics.batches import announce
from tfgen.metrics.classifier_metrics import extract_features, get_feature_extractor
from tfgen.metrics.frechet import activation_statistics


def reference_path(dataset, split, num_images, extractor, cache_dir=None):
    """The cache file of one reference set (it may not exist yet).

    Args:
        dataset: a :data:`tfgen.data.DATASETS` name.
        split: ``"train"`` or ``"test"``.
        num_images: how many images, from the start of the split.
        extractor: a feature-extractor name or object (its ``cache_key``
            names the network and its weights).
        cache_dir: optional cache directory.
    """
    key = getattr(get_feature_extractor(extractor), "cache_key", None)
    if not key:
        raise ValueError(
            f"Expected a feature extractor with a cache_key to cache reference features, got {extractor!r}."
        )
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{dataset}_{split}_{int(num_images)}_{key}")
    return os.path.join(cache.cache_dir(cache_dir), "reference", f"{safe}.npz")


def _compute(dataset, split, num_images, extractor, batch_size, verbose):
    import tfgen.data

    images, _ = tfgen.data.load_arrays(dataset, split)
    if num_images > len(images):
        raise ValueError(
            f"Expected num_images <= {len(images)} (the size of {dataset}/{split}), got {num_images}."
        )
    name = getattr(extractor, "extractor_name", extractor)
    announce(f"{name} features of the first {num_images} {dataset}/{split} images (cached for next time)", verbose)
    activations = extract_features(images[:num_images], extractor, batch_size, verbose)
    mean, covariance = activation_statistics(activations)
    return {"activations": activations, "mean": mean, "covariance": covariance}


def reference_features(dataset, split="test", num_images=10000, extractor="inception", cache_dir=None,
                       batch_size=None, recompute=False, verbose=0):
    """Activations and statistics of real images, from the cache or computed and cached.

    Args:
        dataset: a :data:`tfgen.data.DATASETS` image data set.
        split: ``"train"`` or ``"test"``.
        num_images: the first ``num_images`` images of the split (>= 2).
        extractor: a key of :data:`tfgen.metrics.FEATURE_EXTRACTORS` or an
            extractor object with a ``cache_key``.
        cache_dir: optional cache directory.
        batch_size: images per forward pass when computing.
        recompute: ignore (and overwrite) a cached file.
        verbose: 1 shows a progress bar while computing (on stdout); a
            cached file is read silently.

    Returns:
        dict: ``activations`` float32 ``[num_images, D]``, ``mean`` float64
        ``[D]``, ``covariance`` float64 ``[D, D]``, ``path`` of the cache file.

    Raises:
        ValueError: unknown or unavailable data set, ``num_images`` larger
            than the split or smaller than 2.
    """
    num_images = validation.check_positive_int("num_images", num_images)
    if num_images < 2:
        raise ValueError(f"Expected num_images >= 2 for a covariance, got {num_images}.")
    path = reference_path(dataset, split, num_images, extractor, cache_dir)
    if os.path.exists(path) and not recompute:
        try:
            stored = cache.load_npz(path)
            return {**stored, "path": path}
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file: compute again
    computed = _compute(dataset, split, num_images, extractor, batch_size, verbose)
    cache.save_npz(path, **computed)
    return {**computed, "path": path}


def reference_activations(dataset, split="test", num_images=10000, extractor="inception", cache_dir=None,
                          batch_size=None, verbose=0):
    """Features of the first ``num_images`` real images (cached): float32 ``[num_images, D]``."""
    stored = reference_features(dataset, split, num_images, extractor, cache_dir, batch_size, verbose=verbose)
    return stored["activations"]


def reference_statistics(dataset, split="test", num_images=10000, extractor="inception", cache_dir=None,
                         batch_size=None, verbose=0):
    """Mean float64 ``[D]`` and covariance float64 ``[D, D]`` of the real features (cached)."""
    stored = reference_features(dataset, split, num_images, extractor, cache_dir, batch_size, verbose=verbose)
    return np.asarray(stored["mean"]), np.asarray(stored["covariance"])
