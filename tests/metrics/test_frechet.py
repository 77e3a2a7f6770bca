"""Frechet distance against the closed form and against a SciPy ``sqrtm`` reference."""

import numpy as np
import pytest
import scipy.linalg

from tfgen.metrics import (
    activation_statistics,
    frechet_distance_from_activations,
    frechet_distance_from_statistics,
)


def scipy_frechet_distance(a, b):
    """The reference FID code: statistics with np.cov, trace of scipy.linalg.sqrtm."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    sigma_a, sigma_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(sigma_a @ sigma_b).real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(sigma_a + sigma_b - 2.0 * root))


def random_covariance(rng, dim):
    matrix = rng.normal(size=(dim, dim))
    return matrix @ matrix.T / dim + 0.1 * np.eye(dim)


def test_closed_form_for_diagonal_gaussians():
    # For diagonal covariances FD = |mu_a - mu_b|^2 + sum (sqrt(s_a) - sqrt(s_b))^2.
    mean_a, mean_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var_a, var_b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    got = frechet_distance_from_statistics(mean_a, np.diag(var_a), mean_b, np.diag(var_b))
    assert got == pytest.approx(expected, rel=1e-12)


def test_closed_form_for_equal_covariances_is_mean_distance():
    rng = np.random.default_rng(0)
    covariance = random_covariance(rng, 6)
    mean_a, mean_b = rng.normal(size=6), rng.normal(size=6)
    got = frechet_distance_from_statistics(mean_a, covariance, mean_b, covariance)
    assert got == pytest.approx(np.sum((mean_a - mean_b) ** 2), rel=1e-9, abs=1e-9)


def test_samples_of_two_gaussians_match_the_population_value():
    rng = np.random.default_rng(1)
    dim = 4
    mean_a, mean_b = np.zeros(dim), np.full(dim, 0.5)
    cov_a, cov_b = random_covariance(rng, dim), random_covariance(rng, dim)
    a = rng.multivariate_normal(mean_a, cov_a, size=200_000)
    b = rng.multivariate_normal(mean_b, cov_b, size=200_000)
    population = scipy.linalg.sqrtm(cov_a @ cov_b).real
    expected = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * population)
    assert frechet_distance_from_activations(a, b) == pytest.approx(expected, rel=0.02)


def test_matches_scipy_sqrtm_reference():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 32)) @ rng.normal(size=(32, 32))
    b = rng.normal(0.3, size=(250, 32)) @ rng.normal(size=(32, 32))
    assert frechet_distance_from_activations(a, b) == pytest.approx(scipy_frechet_distance(a, b), rel=1e-9)


def test_fewer_samples_than_features_still_matches_scipy():
    # Singular covariances (N < D), as with few images and 2048-d features.
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(20, 64)), rng.normal(0.5, size=(30, 64))
    assert frechet_distance_from_activations(a, b) == pytest.approx(scipy_frechet_distance(a, b), rel=1e-6)


def test_distance_of_a_set_to_itself_is_zero_and_symmetric():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(500, 16)).astype(np.float32)
    b = rng.normal(1.0, 2.0, size=(400, 16))
    assert frechet_distance_from_activations(a, a) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance_from_activations(a, b) == pytest.approx(frechet_distance_from_activations(b, a), rel=1e-9)


def test_statistics_are_float64_mean_and_unbiased_covariance():
    a = np.arange(12, dtype=np.float32).reshape(4, 3)
    mean, covariance = activation_statistics(a)
    assert mean.dtype == np.float64 and covariance.dtype == np.float64
    np.testing.assert_allclose(covariance, np.cov(a.astype(np.float64), rowvar=False))


@pytest.mark.parametrize(
    "a, b, message",
    [
        (np.zeros((1, 4)), np.zeros((5, 4)), "at least 2 samples in activations_a"),
        (np.zeros((5, 4)), np.zeros((5, 3)), "same number of features"),
        (np.zeros((5,)), np.zeros((5, 4)), "2-D array"),
        (np.full((5, 4), np.nan), np.zeros((5, 4)), "finite"),
    ],
)
def test_bad_activations_raise_value_errors(a, b, message):
    with pytest.raises(ValueError, match=message):
        frechet_distance_from_activations(a, b)


def test_statistics_of_different_dimensions_raise():
    with pytest.raises(ValueError, match="same dimension"):
        frechet_distance_from_statistics(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match=r"covariance \[D, D\]"):
        frechet_distance_from_statistics(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))
