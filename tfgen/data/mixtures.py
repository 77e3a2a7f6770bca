"""2-D Gaussian mixtures for GAN mode-coverage benchmarks.

The two classic toy problems of the PacGAN / VEEGAN / Unrolled-GAN papers:

* ``ring8``: 8 Gaussians, means evenly spaced on the unit circle
  (angles ``2 * pi * k / 8``), standard deviation 0.01;
* ``grid25``: 25 Gaussians, means on ``{-4, -2, 0, 2, 4}^2``, standard
  deviation 0.05.

Components are equally likely. Samples are a pure function of ``seed`` and
are *prefix-consistent*: the first ``n`` points of a sample of size ``N``
equal a sample of size ``n`` with the same seed, so ``num_examples`` in
:func:`tfgen.data.load` keeps the first points of the full data set.

Example:

```python
from tfgen.data import mixtures

points, components = mixtures.sample_mixture("ring8", num_samples=1000, seed=0)
points.shape, components.shape  # ((1000, 2), (1000,))
mixtures.mixture_means("ring8")[components]  # each point's mode
```
"""

import dataclasses

import numpy as np

from tfgen import validation


@dataclasses.dataclass(frozen=True)
class MixtureSpec:
    """A mixture of isotropic 2-D Gaussians with equal weights."""

    means_fn: object  # () -> float64 [K, 2]
    std: float


def _ring_means(num_modes=8, radius=1.0):
    angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _grid_means(values=(-4.0, -2.0, 0.0, 2.0, 4.0)):
    return np.array([(x, y) for x in values for y in values], dtype=np.float64)


MIXTURES = {
    "ring8": MixtureSpec(means_fn=_ring_means, std=0.01),
    "grid25": MixtureSpec(means_fn=_grid_means, std=0.05),
}


def _get(name):
    if name not in MIXTURES:
        raise ValueError(f"Unknown mixture {name!r}. Valid mixtures: {sorted(MIXTURES)}")
    return MIXTURES[name]


def mixture_means(name):
    """Means of the mixture's components.

    Args:
        name: ``"ring8"`` or ``"grid25"``.

    Returns:
        float64 NumPy array ``[K, 2]`` (K = 8 or 25).

    Raises:
        ValueError: unknown name.
    """
    return _get(name).means_fn()


def mixture_std(name):
    """Standard deviation (per coordinate) of every component: a Python float."""
    return float(_get(name).std)


def sample_mixture(name, num_samples, seed=None):
    """Draws points from a mixture, components chosen with equal probability.

    Args:
        name: ``"ring8"`` or ``"grid25"``.
        num_samples: number of points, an int >= 0.
        seed: int seed (``None``: fresh randomness). The same seed gives the
            same points, and a prefix of a larger sample.

    Returns:
        ``(points, components)``: float32 ``[num_samples, 2]`` raw coordinates
        and int64 ``[num_samples]`` component indices in ``[0, K)``.

    Raises:
        ValueError: unknown name or a negative / non-integer ``num_samples``.
    """
    spec = _get(name)
    num_samples = validation.check_non_negative_int("num_samples", num_samples)
    means = spec.means_fn()
    # One row of three uniforms per point, drawn row by row from one stream, is
    # what makes samples prefix-consistent: column 0 picks the component,
    # columns 1-2 give the Gaussian offset through the Box-Muller transform.
    uniforms = np.random.default_rng(seed).random((num_samples, 3))
    components = np.minimum((uniforms[:, 0] * len(means)).astype(np.int64), len(means) - 1)
    radius = np.sqrt(-2.0 * np.log1p(-uniforms[:, 1]))  # 1 - u in (0, 1]: no log(0)
    angle = 2.0 * np.pi * uniforms[:, 2]
    offsets = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    points = means[components] + spec.std * offsets
    return points.astype(np.float32), components
