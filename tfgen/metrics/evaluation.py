"""Named sample-quality metrics, computed together from shared features.

:data:`METRICS` maps each name the CLI (``tfgen evaluate --metrics``) and
:class:`tfgen.metrics.MetricCallback` accept to the feature extractor it
needs and the function of ``(real_activations, fake_activations)`` it
applies. :func:`evaluate_images` extracts each extractor's features once and
computes every requested metric from them.

=================  ==================  ==========================================
name               features            results (keys of the returned dict)
=================  ==================  ==========================================
fid                inception           ``fid``
kid                inception           ``kid``, ``kid_std`` (over subsets)
precision_recall   inception           ``precision``, ``recall`` (k-NN, k=3)
fashion_fd         fashion_classifier  ``fashion_fd`` (fast, Fashion-MNIST only)
=================  ==================  ==========================================

Example:
```python
from tfgen.metrics import evaluate_images
fake = gan.generate(10000, seed=0)
evaluate_images(fake, ["fashion_fd", "fid"], dataset="fashion_mnist", num_real_images=10000)
# {"fashion_fd": 3.1, "fid": 18.7}
```
"""

import dataclasses
from typing import Callable

from tfgen.metrics import images as checks
from tfgen.metrics.batches import announce, check_verbose
from tfgen.metrics.classifier_metrics import extract_features
from tfgen.metrics.frechet import frechet_distance_from_activations
from tfgen.metrics.kernel import kernel_distance_from_activations
from tfgen.metrics.precision_recall import precision_recall_from_activations
from tfgen.metrics.reference import reference_activations


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """A named metric: the features it needs and how it turns them into numbers.

    Attributes:
        extractor: key of :data:`tfgen.metrics.FEATURE_EXTRACTORS`.
        compute: ``compute(real [N_r, D], fake [N_f, D], options) -> {name: float}``.
        description: one line for ``--help`` and tables.
    """

    extractor: str
    compute: Callable
    description: str


def _fid(real, fake, options):
    return {"fid": frechet_distance_from_activations(real, fake)}


def _kid(real, fake, options):
    mean, std = kernel_distance_from_activations(
        real, fake,
        num_subsets=options.get("kid_subsets", 100),
        subset_size=options.get("kid_subset_size", 1000),
        seed=options.get("seed", 0),
        return_std=True,
    )
    return {"kid": mean, "kid_std": std}


def _precision_recall(real, fake, options):
    return precision_recall_from_activations(real, fake, k=options.get("k", 3))


def _fashion_fd(real, fake, options):
    return {"fashion_fd": frechet_distance_from_activations(real, fake)}


METRICS = {
    "fid": MetricSpec("inception", _fid, "Frechet Inception distance (lower is better)"),
    "kid": MetricSpec("inception", _kid, "kernel Inception distance, unbiased (lower is better)"),
    "precision_recall": MetricSpec("inception", _precision_recall, "k-NN precision and recall (higher is better)"),
    "fashion_fd": MetricSpec("fashion_classifier", _fashion_fd, "Frechet distance of Fashion-MNIST classifier features"),
}


def check_metric_names(metrics):
    """Returns the metric names as a list (a comma-separated string is split).

    Raises:
        ValueError: an unknown name, or none at all.
    """
    names = [m.strip() for m in metrics.split(",")] if isinstance(metrics, str) else list(metrics)
    names = [name for name in names if name]
    if not names:
        raise ValueError(f"Expected at least one metric name. Valid metrics: {sorted(METRICS)}")
    for name in names:
        if name not in METRICS:
            raise ValueError(f"Unknown metric {name!r}. Valid metrics: {sorted(METRICS)}")
    return names


def real_features(metrics, real_images=None, dataset=None, split="test", num_real_images=None,
                  batch_size=None, cache_dir=None, verbose=0):
    """Features of the real images for each extractor the metrics need.

    Pass either ``real_images`` (features are computed now) or ``dataset``
    (features of its first ``num_real_images`` images of ``split``, cached on
    disk by :func:`tfgen.metrics.reference_features`). ``verbose=1`` shows a
    progress bar while features are computed (on stdout).

    Returns:
        ``{extractor name: float32 [N_r, D]}``.

    Raises:
        ValueError: both or neither of ``real_images`` and ``dataset``, or
            unknown metric names.
    """
    names = check_metric_names(metrics)
    if (real_images is None) == (dataset is None):
        raise ValueError("Pass exactly one of real_images and dataset to compare the samples with.")
    extractors = sorted({METRICS[name].extractor for name in names})
    if real_images is not None:
        real_images = checks.check_images(real_images, name="real_images")
        features = {}
        for extractor in extractors:
            announce(f"{extractor} features of {len(real_images)} real images", verbose)
            features[extractor] = extract_features(real_images, extractor, batch_size, verbose)
        return features
    if num_real_images is None:
        raise ValueError(f"Expected num_real_images (a positive int) with dataset={dataset!r}, got None.")
    return {
        e: reference_activations(dataset, split, num_real_images, e, cache_dir, batch_size, verbose)
        for e in extractors
    }


def evaluate_images(fake_images, metrics=("fid",), real_images=None, dataset=None, split="test",
                    num_real_images=None, real_activations=None, batch_size=None, cache_dir=None, verbose=0,
                    **options):
    """Computes named metrics of generated images against real ones.

    Args:
        fake_images: float ``[N, H, W, C]`` in [-1, 1] (or uint8).
        metrics: names from :data:`METRICS`, as a list or ``"fid,kid"``.
        real_images: the real images, or ``None`` when ``dataset`` or
            ``real_activations`` is given.
        dataset, split, num_real_images: use the cached features of the first
            ``num_real_images`` images of a data set's split instead.
        real_activations: precomputed ``{extractor: [N_r, D]}`` (from
            :func:`real_features`), to reuse real features across calls.
        batch_size: images per forward pass (default per extractor).
        cache_dir: cache directory for reference features.
        verbose: 1 shows a progress bar while features are computed (on
            stdout); 0, the default, prints nothing.
        **options: ``seed`` (KID subsets, default 0), ``kid_subsets`` (100),
            ``kid_subset_size`` (1000), ``k`` (precision/recall, 3).

    Returns:
        ``{result name: float}``, e.g. ``{"fid": 12.3, "kid": 0.004,
        "kid_std": 0.0003}``; the keys are listed in :data:`METRICS`.

    Raises:
        ValueError: unknown metric or option, images of the wrong shape or
            range, too few images for a metric, or ``verbose`` not 0, 1 or 2.
    """
    names = check_metric_names(metrics)
    verbose = check_verbose(verbose)
    unknown = set(options) - {"seed", "kid_subsets", "kid_subset_size", "k"}
    if unknown:
        raise ValueError(f"Unknown options {sorted(unknown)}. Valid options: ['k', 'kid_subset_size', 'kid_subsets', 'seed']")
    fake_images = checks.check_images(fake_images, name="fake_images")
    if real_images is not None:
        real_images = checks.check_images(real_images, name="real_images")
        if real_images.shape[1:] != fake_images.shape[1:]:
            raise ValueError(
                f"Expected real and fake images of the same shape, got {real_images.shape} and {fake_images.shape}."
            )
    if real_activations is None:
        real_activations = real_features(
            names, real_images, dataset, split, num_real_images, batch_size, cache_dir, verbose
        )
    results = {}
    fake_activations = {}
    for name in names:
        spec = METRICS[name]
        if spec.extractor not in real_activations:
            raise ValueError(
                f"Expected real features from {spec.extractor!r} for metric {name!r}, "
                f"got features from {sorted(real_activations)}."
            )
        if spec.extractor not in fake_activations:
            announce(f"{spec.extractor} features of {len(fake_images)} generated images", verbose)
            fake_activations[spec.extractor] = extract_features(fake_images, spec.extractor, batch_size, verbose)
        results.update(spec.compute(real_activations[spec.extractor], fake_activations[spec.extractor], options))
    return results
