"""Sample-quality metrics: pure functions of arrays, computed in float64.

Layered like TF-GAN: distances between feature sets
(``frechet_distance_from_activations``, ``kernel_distance_from_activations``,
``precision_recall_from_activations``); image metrics that extract features
in batches first (``frechet_inception_distance``, ``kernel_inception_distance``,
``frechet_fashion_distance``, ...); the feature extractors
(``InceptionFeatures``, the standard FID network; ``FashionClassifierFeatures``);
cached reference features of real data; named metrics for the CLI and the
``MetricCallback``.
"""

from tfgen.metrics.mode_coverage import mode_coverage, nearest_modes
from tfgen.metrics.callback import MetricCallback
from tfgen.metrics.classifier_metrics import (
    FEATURE_EXTRACTORS,
    classifier_precision_recall,
    extract_features,
    frechet_classifier_distance,
    frechet_fashion_distance,
    frechet_inception_distance,
    get_feature_extractor,
    inception_precision_recall,
    kernel_classifier_distance,
    kernel_inception_distance,
)
from tfgen.metrics.evaluation import METRICS, evaluate_images, real_features
from tfgen.metrics.fashion_classifier import FashionClassifierFeatures
from tfgen.metrics.frechet import (
    activation_statistics,
    frechet_distance_from_activations,
    frechet_distance_from_statistics,
)
from tfgen.metrics.inception import InceptionFeatures
from tfgen.metrics.kernel import kernel_distance_from_activations
from tfgen.metrics.precision_recall import precision_recall_from_activations
from tfgen.metrics.reference import reference_activations, reference_features, reference_statistics

__all__ = [
    "mode_coverage",
    "nearest_modes",
    "FEATURE_EXTRACTORS",
    "METRICS",
    "FashionClassifierFeatures",
    "InceptionFeatures",
    "MetricCallback",
    "activation_statistics",
    "classifier_precision_recall",
    "evaluate_images",
    "extract_features",
    "frechet_classifier_distance",
    "frechet_distance_from_activations",
    "frechet_distance_from_statistics",
    "frechet_fashion_distance",
    "frechet_inception_distance",
    "get_feature_extractor",
    "inception_precision_recall",
    "kernel_classifier_distance",
    "kernel_distance_from_activations",
    "kernel_inception_distance",
    "precision_recall_from_activations",
    "real_features",
    "reference_activations",
    "reference_features",
    "reference_statistics",
]
