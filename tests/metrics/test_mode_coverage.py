"""tfgen.metrics.mode_coverage on hand-made samples and against a SciPy reference."""

import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import entropy

from tfgen.data import mixtures
from tfgen.metrics import mode_coverage

# Four modes on the unit circle, std 0.1: high quality means within 0.3.
MEANS = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
STD = 0.1


def test_hand_made_samples():
    samples = np.array(
        [
            [1.0, 0.0],  # mode 0, distance 0      -> high quality
            [1.2, 0.0],  # mode 0, distance 0.2    -> high quality
            [0.0, 0.75],  # mode 1, distance 0.25  -> high quality
            [0.05, 0.0],  # nearest mode 0, distance 0.95 -> low quality
            [-1.0, 0.35],  # mode 2, distance 0.35 -> low quality
        ]
    )
    result = mode_coverage(samples, MEANS, STD)
    # High-quality histogram p = [2/3, 1/3, 0, 0]; KL(p || u) = sum p log(4 p).
    expected_kl = 2 / 3 * math.log(8 / 3) + 1 / 3 * math.log(4 / 3)
    assert result == {
        "modes_captured": 2,
        "high_quality_fraction": pytest.approx(0.6),
        "kl_to_uniform": pytest.approx(expected_kl),
        "num_modes": 4,
    }
    assert isinstance(result["modes_captured"], int) and isinstance(result["kl_to_uniform"], float)


def test_boundary_is_inclusive_at_three_std():
    result = mode_coverage(np.array([[1.25, 0.0]]), MEANS, STD)
    assert result["high_quality_fraction"] == 1.0  # 0.25 <= 0.3
    result = mode_coverage(np.array([[1.0, 0.31]]), MEANS, STD)
    assert result["high_quality_fraction"] == 0.0 and result["modes_captured"] == 0


def test_even_coverage_has_zero_kl_and_collapse_has_log_k():
    even = mode_coverage(np.repeat(MEANS, 3, axis=0), MEANS, STD)
    assert even["modes_captured"] == 4 and even["kl_to_uniform"] == pytest.approx(0.0, abs=1e-12)
    collapsed = mode_coverage(np.tile(MEANS[:1], (10, 1)), MEANS, STD)
    assert collapsed["modes_captured"] == 1
    assert collapsed["kl_to_uniform"] == pytest.approx(math.log(4))


def test_no_high_quality_samples():
    result = mode_coverage(np.zeros((5, 2)), MEANS, STD)
    assert result["modes_captured"] == 0 and result["high_quality_fraction"] == 0.0
    assert result["kl_to_uniform"] == math.inf
    empty = mode_coverage(np.zeros((0, 2)), MEANS, STD)
    assert empty["modes_captured"] == 0 and empty["kl_to_uniform"] == math.inf and empty["num_modes"] == 4


def test_nan_samples_are_never_high_quality():
    samples = np.array([[np.nan, 0.0], [1.0, 0.0]])
    result = mode_coverage(samples, MEANS, STD)
    assert result["high_quality_fraction"] == 0.5 and result["modes_captured"] == 1


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_true_samples_cover_every_mode(name):
    points, _ = mixtures.sample_mixture(name, 2500, seed=0)
    result = mode_coverage(points, mixtures.mixture_means(name), mixtures.mixture_std(name))
    assert result["modes_captured"] == result["num_modes"] == len(mixtures.mixture_means(name))
    # P(||N(0, s^2 I_2)|| <= 3s) = 1 - exp(-4.5) = 0.989.
    assert result["high_quality_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert result["kl_to_uniform"] < 0.02


def test_matches_scipy_reference():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(6, 2)) * 3
    samples = means[rng.integers(0, 6, 400)] + rng.normal(size=(400, 2)) * 0.2
    samples[:100] = rng.uniform(-6, 6, (100, 2))
    std = 0.1
    distances = cdist(samples, means)
    nearest = distances.argmin(axis=1)
    high_quality = distances.min(axis=1) <= 3 * std
    counts = np.bincount(nearest[high_quality], minlength=6)
    result = mode_coverage(samples, means, std)
    assert result["modes_captured"] == np.count_nonzero(counts)
    assert result["high_quality_fraction"] == pytest.approx(high_quality.mean())
    assert result["kl_to_uniform"] == pytest.approx(entropy(counts / counts.sum(), np.full(6, 1 / 6)))


@pytest.mark.parametrize(
    "samples, means, std, message",
    [
        (np.zeros(4), MEANS, STD, "samples to be a 2-D array [N, D], got shape (4,)"),
        (np.zeros((3, 2)), np.zeros(2), STD, "means to be a 2-D array [N, D], got shape (2,)"),
        (np.zeros((3, 3)), MEANS, STD, "samples of shape (3, 3) and means of shape (4, 2)"),
        (np.zeros((3, 2)), np.zeros((0, 2)), STD, "at least one mean"),
        (np.zeros((3, 2)), MEANS, 0.0, "std to be a positive number, got 0.0"),
    ],
)
def test_invalid_inputs(samples, means, std, message):
    with pytest.raises(ValueError) as error:
        mode_coverage(samples, means, std)
    assert message in str(error.value)
