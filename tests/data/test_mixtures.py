"""ring8 / grid25: the mixtures and their ``load`` pipelines."""

import itertools

import numpy as np
import pytest

import tfgen.data
from tfgen.data import mixtures


def test_ring8_means_and_std():
    means = mixtures.mixture_means("ring8")
    assert means.shape == (8, 2) and means.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 1.0)
    angles = np.mod(np.arctan2(means[:, 1], means[:, 0]), 2 * np.pi)
    np.testing.assert_allclose(angles, 2 * np.pi * np.arange(8) / 8, atol=1e-12)
    assert mixtures.mixture_std("ring8") == 0.01


def test_grid25_means_and_std():
    means = mixtures.mixture_means("grid25")
    assert means.shape == (25, 2)
    expected = {(x, y) for x, y in itertools.product([-4, -2, 0, 2, 4], repeat=2)}
    assert {tuple(mean) for mean in means} == expected
    assert mixtures.mixture_std("grid25") == 0.05


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_samples_lie_near_their_component_means(name):
    points, components = mixtures.sample_mixture(name, 20_000, seed=3)
    means, std = mixtures.mixture_means(name), mixtures.mixture_std(name)
    assert points.dtype == np.float32 and components.dtype == np.int64
    offsets = points - means[components]
    # Per-coordinate std matches, and nothing is beyond 6 std.
    np.testing.assert_allclose(offsets.std(axis=0), std, rtol=0.05)
    np.testing.assert_allclose(offsets.mean(axis=0), 0.0, atol=std * 0.05)
    assert np.abs(offsets).max() < 6 * std
    nearest = np.argmin(np.linalg.norm(points[:, None] - means[None], axis=-1), axis=1)
    np.testing.assert_array_equal(nearest, components)
    # Equal weights: each component gets ~1/K of the points.
    counts = np.bincount(components, minlength=len(means)) / len(components)
    np.testing.assert_allclose(counts, 1 / len(means), atol=0.25 / len(means))


def test_sampling_is_seeded_and_prefix_consistent():
    points, components = mixtures.sample_mixture("grid25", 500, seed=7)
    again, _ = mixtures.sample_mixture("grid25", 500, seed=7)
    prefix, prefix_components = mixtures.sample_mixture("grid25", 100, seed=7)
    other, _ = mixtures.sample_mixture("grid25", 500, seed=8)
    np.testing.assert_array_equal(points, again)
    np.testing.assert_array_equal(points[:100], prefix)
    np.testing.assert_array_equal(components[:100], prefix_components)
    assert not np.array_equal(points, other)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Unknown mixture 'ring9'.*'grid25', 'ring8'"):
        mixtures.mixture_means("ring9")
    with pytest.raises(ValueError, match=r"num_samples.*-1"):
        mixtures.sample_mixture("ring8", -1, seed=0)


def test_load_ring8_points_and_components():
    dataset = tfgen.data.load("ring8", batch_size=64, seed=0, num_examples=256, with_labels=True)
    batches = list(dataset)
    assert len(batches) == 4
    points, components = batches[0]
    assert points.shape == (64, 2) and points.dtype.name == "float32"
    assert components.dtype.name == "int32"
    means = mixtures.mixture_means("ring8")
    np.testing.assert_allclose(points.numpy(), means[components.numpy()], atol=0.06)
    # num_examples keeps the first points of the fixed training sample.
    all_points, _ = tfgen.data.load_arrays("ring8")
    loaded = np.concatenate([batch[0].numpy() for batch in batches])
    np.testing.assert_array_equal(np.sort(loaded, axis=0), np.sort(all_points[:256], axis=0))


def test_load_arrays_split_sizes():
    train, train_components = tfgen.data.load_arrays("grid25")
    test, _ = tfgen.data.load_arrays("grid25", split="test")
    assert train.shape == (100_000, 2) and train_components.shape == (100_000,)
    assert test.shape == (10_000, 2)
    assert not np.array_equal(train[:10], test[:10])


def test_points_reject_image_options():
    with pytest.raises(ValueError, match=r"2-D points.*binarize=True"):
        tfgen.data.load("ring8", binarize=True)
    with pytest.raises(ValueError, match=r"image_size=\(8, 8\)"):
        tfgen.data.load("grid25", image_size=8)
