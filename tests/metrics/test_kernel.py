"""Kernel (Inception) distance: unbiased, about 0 for one distribution, positive for shifted ones."""

import numpy as np
import pytest

from tfgen.metrics import kernel_distance_from_activations
from tfgen.metrics.kernel import unbiased_mmd2


def reference_mmd2(x, y):
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, written with explicit loops over pairs."""
    d = x.shape[1]
    k = lambda u, v: (u @ v / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_unbiased_mmd2_matches_a_loop_reference():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 5)), rng.normal(0.5, size=(9, 5))
    assert unbiased_mmd2(x, y) == pytest.approx(reference_mmd2(x, y), rel=1e-12)


def test_near_zero_for_two_samples_of_one_distribution():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(1500, 16)), rng.normal(size=(1500, 16))
    mean, std = kernel_distance_from_activations(a, b, num_subsets=20, subset_size=500, return_std=True)
    assert abs(mean) < 3 * std + 1e-3
    assert abs(mean) < 0.01


def test_positive_for_shifted_samples_and_grows_with_the_shift():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(1000, 16))
    small = kernel_distance_from_activations(a, rng.normal(0.2, size=(1000, 16)), num_subsets=10, subset_size=500)
    large = kernel_distance_from_activations(a, rng.normal(1.0, size=(1000, 16)), num_subsets=10, subset_size=500)
    assert 0 < small < large


def test_small_sets_use_one_full_subset_deterministically():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(50, 4)), rng.normal(1.0, size=(40, 4))
    value = kernel_distance_from_activations(a, b, subset_size=1000, seed=0)
    assert value == pytest.approx(unbiased_mmd2(a, b))
    assert kernel_distance_from_activations(a, b, subset_size=1000, seed=5) == value


def test_seed_fixes_the_subsets():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    first = kernel_distance_from_activations(a, b, num_subsets=5, subset_size=100, seed=7)
    assert kernel_distance_from_activations(a, b, num_subsets=5, subset_size=100, seed=7) == first


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"activations_b": np.zeros((10, 3))}, "same number of features"),
        ({"activations_b": np.zeros((1, 4))}, "at least 2 samples"),
        ({"num_subsets": 0}, "num_subsets to be a positive int"),
        ({"subset_size": 1}, "subset_size >= 2"),
    ],
)
def test_bad_arguments_raise_value_errors(kwargs, message):
    arguments = {"activations_a": np.zeros((10, 4)), "activations_b": np.ones((10, 4))}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        kernel_distance_from_activations(**arguments)
