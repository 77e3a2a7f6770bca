"""Frechet distance between Gaussians fitted to two sets of activations.

``FD = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))``, the
squared 2-Wasserstein distance between ``N(mu_a, S_a)`` and ``N(mu_b, S_b)``.
With InceptionV3 pool-3 activations it is the FID (Heusel et al., 2017).

Everything is computed in float64. The trace of the matrix square root
uses ``tr((S_a S_b)^(1/2)) = sum_i sqrt(lambda_i)`` with ``lambda_i`` the
eigenvalues of the symmetric positive semi-definite ``S_a^(1/2) S_b S_a^(1/2)``
(similar to ``S_a S_b``), which avoids the complex round-off of a general
``sqrtm``.

Example:
```python
import numpy as np
from tfgen.metrics import frechet_distance_from_activations
a = np.random.default_rng(0).normal(size=(1000, 8))
b = np.random.default_rng(1).normal(1.0, size=(1000, 8))
frechet_distance_from_activations(a, b)   # about 8 (= |mu_a - mu_b|^2)
```
"""

import numpy as np

from tfgen.metrics import images as checks


def activation_statistics(activations):
    """Mean and covariance of activations, in float64.

    Args:
        activations: float ``[N, D]`` with ``N >= 2``.

    Returns:
        ``(mean [D], covariance [D, D])``, float64; the covariance is the
        unbiased one (divides by ``N - 1``), as in the reference FID code.

    Raises:
        ValueError: not 2-D, fewer than 2 samples, or non-finite values.
    """
    activations = checks.check_activations(activations, "activations", min_samples=2)
    return activations.mean(axis=0), np.cov(activations, rowvar=False).reshape(activations.shape[1], -1)


def _check_statistics(mean, covariance, name):
    mean = np.asarray(mean, dtype=np.float64)
    covariance = np.asarray(covariance, dtype=np.float64)
    if mean.ndim != 1 or covariance.shape != (mean.shape[0], mean.shape[0]):
        raise ValueError(
            f"Expected {name} mean [D] and covariance [D, D], got shapes {mean.shape} and {covariance.shape}."
        )
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(covariance))):
        raise ValueError(f"Expected finite {name} statistics, got NaN or infinity.")
    return mean, covariance


def _psd_sqrt(matrix):
    """Symmetric square root of a symmetric positive semi-definite matrix."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def trace_sqrt_product(covariance_a, covariance_b):
    """``tr((S_a S_b)^(1/2))`` for symmetric PSD ``S_a``, ``S_b`` ``[D, D]``: a float."""
    root_a = _psd_sqrt(covariance_a)
    middle = root_a @ covariance_b @ root_a
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    return float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))


def frechet_distance_from_statistics(mean_a, covariance_a, mean_b, covariance_b):
    """Frechet distance between ``N(mean_a, covariance_a)`` and ``N(mean_b, covariance_b)``.

    Args:
        mean_a, mean_b: float ``[D]``.
        covariance_a, covariance_b: symmetric positive semi-definite float ``[D, D]``.

    Returns:
        A non-negative Python float (clipped at 0 against round-off).

    Raises:
        ValueError: shapes that do not match, or non-finite values.
    """
    mean_a, covariance_a = _check_statistics(mean_a, covariance_a, "first")
    mean_b, covariance_b = _check_statistics(mean_b, covariance_b, "second")
    if mean_a.shape != mean_b.shape:
        raise ValueError(
            f"Expected statistics of the same dimension, got {mean_a.shape[0]} and {mean_b.shape[0]} features."
        )
    difference = mean_a - mean_b
    distance = (
        difference @ difference
        + np.trace(covariance_a)
        + np.trace(covariance_b)
        - 2.0 * trace_sqrt_product(covariance_a, covariance_b)
    )
    return max(float(distance), 0.0)


def frechet_distance_from_activations(activations_a, activations_b):
    """Frechet distance between Gaussians fitted to two sets of activations.

    Args:
        activations_a: float ``[N_a, D]``, ``N_a >= 2`` (e.g. real images' features).
        activations_b: float ``[N_b, D]``, ``N_b >= 2`` (e.g. generated images' features).

    Returns:
        A non-negative Python float; 0 for identical sets. It is biased
        upwards for small N: compare values computed with the same N (FID
        is conventionally reported for 10k or 50k images).

    Raises:
        ValueError: not 2-D, fewer than 2 samples in a set (no covariance),
            different feature counts, or non-finite values.
    """
    a = checks.check_activations(activations_a, "activations_a", min_samples=2)
    b = checks.check_activations(activations_b, "activations_b", min_samples=2)
    checks.check_same_features(a, b, "activations_a", "activations_b")
    return frechet_distance_from_statistics(*activation_statistics(a), *activation_statistics(b))
