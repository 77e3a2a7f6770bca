"""Improved precision and recall (k-NN manifolds) against a brute-force reference."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from tfgen.metrics import precision_recall_from_activations


def reference_precision_recall(real, fake, k):
    real_radii = np.sort(cdist(real, real), axis=1)[:, k]
    fake_radii = np.sort(cdist(fake, fake), axis=1)[:, k]
    between = cdist(fake, real)
    precision = np.mean(np.any(between <= real_radii[None, :], axis=1))
    recall = np.mean(np.any(between.T <= fake_radii[None, :], axis=1))
    return precision, recall


def test_identical_sets_have_precision_and_recall_one():
    real = np.random.default_rng(0).normal(size=(300, 32)) * 10.0
    assert precision_recall_from_activations(real, real.copy(), k=3) == {"precision": 1.0, "recall": 1.0}


def test_matches_brute_force_reference_across_blocks():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(230, 8)), rng.normal(0.7, 1.3, size=(170, 8))
    got = precision_recall_from_activations(real, fake, k=3, block_size=64)
    expected = reference_precision_recall(real, fake, 3)
    assert (got["precision"], got["recall"]) == pytest.approx(expected)


def test_collapsed_samples_have_high_precision_and_low_recall():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(500, 4))
    collapsed = rng.normal(scale=0.05, size=(500, 4))  # all near the densest point of the data
    result = precision_recall_from_activations(real, collapsed)
    assert result["precision"] > 0.9 and result["recall"] < 0.2


def test_too_few_samples_for_k_raise():
    with pytest.raises(ValueError, match="at least 4 samples in fake_activations"):
        precision_recall_from_activations(np.zeros((10, 2)), np.zeros((3, 2)), k=3)
