"""Improved precision and recall (Kynkaanniemi et al., 2019).

Each set of feature vectors defines a manifold: the union of balls around
its points, each with the radius of that point's distance to its k-th
nearest neighbour within the set. *Precision* is the fraction of generated
samples inside the real manifold (are the samples realistic?); *recall* is
the fraction of real samples inside the generated manifold (is the variety
of the data covered?).

Distances are computed in float64, a block of rows at a time, so memory
stays at ``block_size * N`` values. (The paper uses VGG-16 features; here
any features work, e.g. :class:`tfgen.metrics.InceptionFeatures`.)

Example:
```python
import numpy as np
from tfgen.metrics import precision_recall_from_activations
real = np.random.default_rng(0).normal(size=(500, 8))
precision_recall_from_activations(real, real)   # {"precision": 1.0, "recall": 1.0}
```
"""

import numpy as np

from tfgen import validation
from tfgen.metrics import images as checks

# Squared distances below this fraction of the points' squared norms are
# round-off of an exact match (x . x computed two ways), so they count as 0.
_RELATIVE_ZERO = 1e-12


def _squared_distances(x, y, x_norms, y_norms):
    squared = x_norms[:, None] - 2.0 * (x @ y.T) + y_norms[None, :]
    squared[squared < _RELATIVE_ZERO * (x_norms[:, None] + y_norms[None, :])] = 0.0
    return squared


def _radii(points, k, block_size):
    """Squared distance of each point to its k-th nearest other point: float64 ``[N]``."""
    norms = np.einsum("ij,ij->i", points, points)
    radii = np.empty(len(points))
    for start in range(0, len(points), block_size):
        block = _squared_distances(points[start : start + block_size], points, norms[start : start + block_size], norms)
        # Index k (0-based) of the sorted row skips the point itself at distance 0.
        radii[start : start + block_size] = np.partition(block, k, axis=1)[:, k]
    return radii


def _fraction_inside(queries, points, radii, block_size):
    """Fraction of ``queries`` within the ball of at least one of ``points``."""
    query_norms = np.einsum("ij,ij->i", queries, queries)
    point_norms = np.einsum("ij,ij->i", points, points)
    inside = 0
    for start in range(0, len(queries), block_size):
        block = _squared_distances(
            queries[start : start + block_size], points, query_norms[start : start + block_size], point_norms
        )
        inside += int(np.sum(np.any(block <= radii[None, :], axis=1)))
    return inside / len(queries)


def precision_recall_from_activations(real_activations, fake_activations, k=3, block_size=1000):
    """Precision and recall of generated samples with k-nearest-neighbour manifolds.

    Args:
        real_activations: float ``[N_r, D]``, ``N_r > k``.
        fake_activations: float ``[N_f, D]``, ``N_f > k``.
        k: the neighbour whose distance sets each ball's radius (3 in the paper).
        block_size: rows of the distance matrix computed at a time.

    Returns:
        ``{"precision": float, "recall": float}``, both in [0, 1]; both 1
        for identical sets.

    Raises:
        ValueError: not 2-D, ``k`` or fewer samples in a set, different
            feature counts, non-finite values, or non-positive ``k``.
    """
    k = validation.check_positive_int("k", k)
    block_size = validation.check_positive_int("block_size", block_size)
    real = checks.check_activations(real_activations, "real_activations", min_samples=k + 1)
    fake = checks.check_activations(fake_activations, "fake_activations", min_samples=k + 1)
    checks.check_same_features(real, fake, "real_activations", "fake_activations")
    real_radii = _radii(real, k, block_size)
    fake_radii = _radii(fake, k, block_size)
    return {
        "precision": _fraction_inside(fake, real, real_radii, block_size),
        "recall": _fraction_inside(real, fake, fake_radii, block_size),
    }
