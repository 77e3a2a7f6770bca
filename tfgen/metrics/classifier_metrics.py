"""Image metrics: features from a classifier, then a distance between feature sets.

The layering of TF-GAN's ``classifier_metrics``: each metric here extracts
features of both image sets in batches with a feature extractor, then calls
the matching ``..._from_activations`` function.

Feature extractors (:data:`FEATURE_EXTRACTORS`) are objects with
``features(images, batch_size) -> float32 [N, D]``, ``extractor_name``,
``cache_key`` and ``feature_dim``:

* ``"inception"``: :class:`tfgen.metrics.InceptionFeatures`, the standard FID
  network (2048-d; slow on a CPU: a few images per second on 2 cores).
* ``"fashion_classifier"``: :class:`tfgen.metrics.FashionClassifierFeatures`,
  a small CNN trained on Fashion-MNIST (128-d; thousands of images/s).

Extractors are built once per process and reused (building the Inception
network takes a few seconds).

Images are float ``[N, H, W, C]`` in [-1, 1] or uint8 in [0, 255]; both sets
must have the same ``(H, W, C)``.

Example:
```python
import tfgen
from tfgen.metrics import frechet_inception_distance, frechet_fashion_distance
real, _ = tfgen.data.load_arrays("fashion_mnist", "test")      # uint8 [10000, 28, 28, 1]
fake = vae.generate(10000, seed=0)                              # float [-1, 1]
frechet_fashion_distance(real, fake)
frechet_inception_distance(real[:1000], fake[:1000])            # minutes on a CPU
```
"""

from tfgen.metrics import images as checks
from tfgen.metrics.batches import announce
from tfgen.metrics.fashion_classifier import FashionClassifierFeatures
from tfgen.metrics.frechet import frechet_distance_from_activations
from tfgen.metrics.inception import InceptionFeatures
from tfgen.metrics.kernel import kernel_distance_from_activations
from tfgen.metrics.precision_recall import precision_recall_from_activations

FEATURE_EXTRACTORS = {
    "inception": InceptionFeatures,
    "fashion_classifier": FashionClassifierFeatures,
}

# Default images per forward pass for each extractor.
DEFAULT_BATCH_SIZES = {"inception": 50, "fashion_classifier": 500}

_EXTRACTOR_INSTANCES = {}


def get_feature_extractor(extractor):
    """A feature extractor by name (built once per process) or the object itself.

    Args:
        extractor: a key of :data:`FEATURE_EXTRACTORS`, or an object with a
            ``features(images, batch_size)`` method.

    Raises:
        ValueError: unknown name, or the extractor's weights are missing.
    """
    if isinstance(extractor, str):
        if extractor not in FEATURE_EXTRACTORS:
            raise ValueError(
                f"Unknown feature extractor {extractor!r}. Valid feature extractors: {sorted(FEATURE_EXTRACTORS)}"
            )
        if extractor not in _EXTRACTOR_INSTANCES:
            _EXTRACTOR_INSTANCES[extractor] = FEATURE_EXTRACTORS[extractor]()
        return _EXTRACTOR_INSTANCES[extractor]
    if not callable(getattr(extractor, "features", None)):
        raise ValueError(
            f"Expected a feature extractor name {sorted(FEATURE_EXTRACTORS)} or an object with a "
            f"features(images, batch_size) method, got {type(extractor).__name__}."
        )
    return extractor


def extract_features(images, extractor="inception", batch_size=None, verbose=0):
    """Features of ``images``: float32 NumPy ``[N, D]``.

    Args:
        images: float ``[N, H, W, C]`` in [-1, 1] or uint8 in [0, 255].
        extractor: a key of :data:`FEATURE_EXTRACTORS` or an extractor object.
        batch_size: images per forward pass (default: 50 for Inception, 500
            for the Fashion classifier).
        verbose: 1 shows a progress bar of the images done (on stdout); a
            non-zero value is passed on as ``features(..., verbose=)``.
    """
    name = extractor if isinstance(extractor, str) else getattr(extractor, "extractor_name", None)
    batch_size = batch_size or DEFAULT_BATCH_SIZES.get(name, 100)
    extractor = get_feature_extractor(extractor)
    if not verbose:  # extractor objects written before `verbose` existed take (images, batch_size)
        return extractor.features(images, batch_size=batch_size)
    return extractor.features(images, batch_size=batch_size, verbose=verbose)


def _features_of_both(real_images, fake_images, extractor, batch_size, verbose):
    real = checks.check_images(real_images, name="real_images")
    fake = checks.check_images(fake_images, name="fake_images")
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(
            f"Expected real and fake images of the same shape, got {real.shape} and {fake.shape}."
        )
    name = getattr(extractor, "extractor_name", extractor)
    announce(f"{name} features of {len(real)} real images", verbose)
    real_features = extract_features(real, extractor, batch_size, verbose)
    announce(f"{name} features of {len(fake)} generated images", verbose)
    return real_features, extract_features(fake, extractor, batch_size, verbose)


def frechet_classifier_distance(real_images, fake_images, extractor="inception", batch_size=None, verbose=0):
    """Frechet distance between the features of two image sets (each ``N >= 2``): a float >= 0.

    ``verbose=1`` shows a progress bar for each set's features.
    """
    real, fake = _features_of_both(real_images, fake_images, extractor, batch_size, verbose)
    return frechet_distance_from_activations(real, fake)


def kernel_classifier_distance(
    real_images, fake_images, extractor="inception", batch_size=None, num_subsets=100, subset_size=1000, seed=0,
    return_std=False, verbose=0,
):
    """Kernel distance (unbiased MMD^2, cubic kernel) between the features of two image sets.

    See :func:`tfgen.metrics.kernel_distance_from_activations` for the
    subset arguments. Returns a float, or ``(mean, std)`` with ``return_std``.
    ``verbose=1`` shows a progress bar for each set's features.
    """
    real, fake = _features_of_both(real_images, fake_images, extractor, batch_size, verbose)
    return kernel_distance_from_activations(real, fake, num_subsets, subset_size, seed, return_std)


def classifier_precision_recall(real_images, fake_images, extractor="inception", batch_size=None, k=3, verbose=0):
    """Improved precision and recall in feature space: ``{"precision", "recall"}`` in [0, 1].

    ``verbose=1`` shows a progress bar for each set's features.
    """
    real, fake = _features_of_both(real_images, fake_images, extractor, batch_size, verbose)
    return precision_recall_from_activations(real, fake, k=k)


def frechet_inception_distance(real_images, fake_images, batch_size=50, verbose=0):
    """FID: Frechet distance of InceptionV3 pool-3 features.

    Args:
        real_images: ``[N_r, H, W, 1 or 3]``, float in [-1, 1] or uint8, ``N_r >= 2``.
        fake_images: ``[N_f, H, W, 1 or 3]``, same ``(H, W, C)``, ``N_f >= 2``.
        batch_size: images per Inception forward pass.
        verbose: 1 shows a progress bar for each set's features (on stdout).

    Returns:
        A float >= 0 (lower is better). Biased for small N: report the N used.

    Raises:
        ValueError: shapes that differ, values outside the range, fewer than
            2 images, or the Inception weights not installed.
    """
    return frechet_classifier_distance(real_images, fake_images, "inception", batch_size, verbose)


def kernel_inception_distance(
    real_images, fake_images, batch_size=50, num_subsets=100, subset_size=1000, seed=0, verbose=0
):
    """KID: unbiased kernel distance of InceptionV3 features (see :func:`frechet_inception_distance` for inputs).

    Returns:
        ``(mean, std)`` over ``num_subsets`` subsets of ``subset_size`` images.
    """
    return kernel_classifier_distance(
        real_images, fake_images, "inception", batch_size, num_subsets, subset_size, seed, return_std=True,
        verbose=verbose,
    )


def inception_precision_recall(real_images, fake_images, batch_size=50, k=3, verbose=0):
    """Improved precision and recall in InceptionV3 feature space: ``{"precision", "recall"}``."""
    return classifier_precision_recall(real_images, fake_images, "inception", batch_size, k, verbose)


def frechet_fashion_distance(real_images, fake_images, batch_size=500, verbose=0):
    """Fast Fashion-MNIST FID: Frechet distance of the shipped classifier's 128-d features.

    Args:
        real_images: ``[N_r, 28, 28, 1]``, float in [-1, 1] or uint8, ``N_r >= 2``.
        fake_images: ``[N_f, 28, 28, 1]``, ``N_f >= 2``.
        batch_size: images per forward pass.
        verbose: 1 shows a progress bar for each set's features (on stdout).

    Returns:
        A float >= 0. Its scale differs from FID's: compare it only with itself.
    """
    return frechet_classifier_distance(real_images, fake_images, "fashion_classifier", batch_size, verbose)
