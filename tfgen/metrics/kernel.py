"""Kernel distance (KID): unbiased MMD^2 with a cubic polynomial kernel.

KID (Binkowski et al., 2018) is the squared maximum mean discrepancy with
``k(x, y) = (x . y / D + 1)^3``, estimated without bias and averaged over
random subsets of both sets. Unlike FID it has an unbiased estimator, so
values from different sample sizes are comparable and it is about 0 (it can
be slightly negative) for two samples of one distribution.

Computed in float64.

Example:
```python
import numpy as np
from tfgen.metrics import kernel_distance_from_activations
a = np.random.default_rng(0).normal(size=(2000, 16))
kernel_distance_from_activations(a[:1000], a[1000:])   # about 0
```
"""

import numpy as np

from tfgen import validation
from tfgen.metrics import images as checks


def polynomial_kernel(x, y, degree=3, gamma=None, coef0=1.0):
    """``(gamma * x @ y.T + coef0) ** degree`` with ``gamma = 1 / D`` by default: float64 ``[N, M]``."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (gamma * (x @ y.T) + coef0) ** degree


def unbiased_mmd2(x, y):
    """Unbiased MMD^2 estimate between ``x`` ``[m, D]`` and ``y`` ``[n, D]``, ``m, n >= 2``: a float."""
    m, n = len(x), len(y)
    k_xx = polynomial_kernel(x, x)
    k_yy = polynomial_kernel(y, y)
    k_xy = polynomial_kernel(x, y)
    # Drop the diagonals: E[k(x, x')] over distinct pairs only.
    sum_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    sum_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(sum_xx + sum_yy - 2.0 * k_xy.mean())


def kernel_distance_from_activations(
    activations_a, activations_b, num_subsets=100, subset_size=1000, seed=0, return_std=False
):
    """Kernel (Inception) distance between two sets of activations.

    Draws ``num_subsets`` pairs of subsets (``subset_size`` rows of each
    set, without replacement within a subset) and averages the unbiased
    MMD^2 over them. When a set has fewer rows than ``subset_size``, the
    subsets use ``min(N_a, N_b)`` rows; when both sets are no larger than
    ``subset_size``, one subset covering them entirely is used (the
    estimate is then deterministic).

    Args:
        activations_a: float ``[N_a, D]``, ``N_a >= 2``.
        activations_b: float ``[N_b, D]``, ``N_b >= 2``.
        num_subsets: subsets to average over.
        subset_size: rows per subset.
        seed: seed of the subset draws.
        return_std: also return the standard deviation over the subsets.

    Returns:
        A Python float (about 0 for samples of one distribution, positive
        otherwise), or ``(mean, std)`` when ``return_std``.

    Raises:
        ValueError: not 2-D, fewer than 2 samples, different feature counts,
            non-finite values, or non-positive ``num_subsets``/``subset_size``.
    """
    a = checks.check_activations(activations_a, "activations_a", min_samples=2)
    b = checks.check_activations(activations_b, "activations_b", min_samples=2)
    checks.check_same_features(a, b, "activations_a", "activations_b")
    num_subsets = validation.check_positive_int("num_subsets", num_subsets)
    subset_size = validation.check_positive_int("subset_size", subset_size)
    if subset_size < 2:
        raise ValueError(f"Expected subset_size >= 2 (the unbiased estimate needs pairs), got {subset_size}.")
    if len(a) <= subset_size and len(b) <= subset_size:
        values = np.array([unbiased_mmd2(a, b)])
    else:
        size = min(subset_size, len(a), len(b))
        rng = np.random.default_rng(seed)
        values = np.array(
            [
                unbiased_mmd2(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
                for _ in range(num_subsets)
            ]
        )
    mean = float(values.mean())
    return (mean, float(values.std())) if return_std else mean
