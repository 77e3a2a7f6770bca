"""Mode coverage of samples from a mixture of isotropic Gaussians.

The metric of the Unrolled-GAN / VEEGAN / PacGAN papers for the 2-D ``ring8``
and ``grid25`` benchmarks: assign every sample to its nearest mode; a sample
is *high quality* when it lies within ``3 * std`` (Euclidean distance) of that
mode; a mode is *captured* when at least one high-quality sample is assigned
to it; and the KL divergence from uniform of the high-quality samples'
histogram over modes measures how evenly the modes are covered.

Computed in float64 with NumPy.

Example:
```python
from tfgen.data import mixtures
from tfgen.metrics import mode_coverage
points = gan.generate(2500, seed=0).numpy()
mode_coverage(points, mixtures.mixture_means("ring8"), mixtures.mixture_std("ring8"))
# {"modes_captured": 8, "high_quality_fraction": 0.97, "kl_to_uniform": 0.01, "num_modes": 8}
```
"""

import numpy as np

HIGH_QUALITY_STDS = 3.0


def _as_matrix(name, value):
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"Expected {name} to be a 2-D array [N, D], got shape {array.shape}.")
    return array


def nearest_modes(samples, means):
    """Index of and Euclidean distance to each sample's nearest mean.

    Args:
        samples: float ``[N, D]``.
        means: float ``[K, D]``.

    Returns:
        ``(indices, distances)``: int64 ``[N]`` in ``[0, K)`` and float64 ``[N]``.
    """
    samples = _as_matrix("samples", samples)
    means = _as_matrix("means", means)
    # [N, K] squared distances; clip tiny negatives from cancellation.
    squared = (
        np.sum(samples**2, axis=1, keepdims=True)
        - 2.0 * samples @ means.T
        + np.sum(means**2, axis=1)[None, :]
    )
    indices = np.argmin(squared, axis=1)
    nearest = samples - means[indices]
    return indices.astype(np.int64), np.sqrt(np.sum(nearest**2, axis=1))


def mode_coverage(samples, means, std):
    """How many modes the samples cover, and how well.

    Args:
        samples: float ``[N, D]`` generated points (N may be 0).
        means: float ``[K, D]`` means of the mixture's components.
        std: positive float, the components' standard deviation per coordinate.

    Returns:
        dict with

        * ``"modes_captured"`` (int): modes with at least one high-quality sample;
        * ``"high_quality_fraction"`` (float): fraction of samples within
          ``3 * std`` of their nearest mode (0.0 when N is 0);
        * ``"kl_to_uniform"`` (float): ``KL(p || u) = sum_k p_k log(p_k K)``
          in nats, ``p`` the histogram of high-quality samples over modes
          (``0 log 0 = 0``); 0 for perfectly even coverage, ``log K`` when all
          samples sit on one mode, and ``inf`` when there are no
          high-quality samples (no distribution to compare);
        * ``"num_modes"`` (int): K.

    Raises:
        ValueError: arrays that are not 2-D, a dimension mismatch, no means,
            non-finite means, or a non-positive ``std``.
    """
    samples = _as_matrix("samples", samples)
    means = _as_matrix("means", means)
    if means.shape[0] == 0:
        raise ValueError("Expected at least one mean, got means of shape (0, D).")
    if samples.shape[1] != means.shape[1]:
        raise ValueError(
            f"Expected samples [N, D] and means [K, D] with the same D, got samples of shape "
            f"{samples.shape} and means of shape {means.shape}."
        )
    if not np.all(np.isfinite(means)):
        raise ValueError("Expected finite means.")
    std = float(std)
    if not std > 0:
        raise ValueError(f"Expected std to be a positive number, got {std!r}.")
    num_modes = means.shape[0]
    if samples.shape[0] == 0:
        return {
            "modes_captured": 0,
            "high_quality_fraction": 0.0,
            "kl_to_uniform": float("inf"),
            "num_modes": int(num_modes),
        }
    indices, distances = nearest_modes(samples, means)
    # NaN samples (a diverged generator) compare False: never high quality.
    high_quality = distances <= HIGH_QUALITY_STDS * std
    counts = np.bincount(indices[high_quality], minlength=num_modes).astype(np.float64)
    total = counts.sum()
    if total == 0:
        kl = float("inf")
    else:
        p = counts / total
        nonzero = p > 0
        kl = float(np.sum(p[nonzero] * np.log(p[nonzero] * num_modes)))
    return {
        "modes_captured": int(np.count_nonzero(counts)),
        "high_quality_fraction": float(np.mean(high_quality)),
        "kl_to_uniform": kl,
        "num_modes": int(num_modes),
    }
