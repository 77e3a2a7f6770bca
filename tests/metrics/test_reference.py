"""Reference features of real data: computed once, cached on disk under a key of
dataset, split, image count and feature extractor."""

import os

import numpy as np
import pytest

import tfgen.data
from tfgen.metrics import activation_statistics, reference_activations, reference_features, reference_statistics
from tfgen.metrics import images as checks


class MeanPixelFeatures:
    """A tiny feature extractor (4 statistics of each image) that counts its calls."""

    extractor_name = "mean_pixels"
    cache_key = "mean_pixels-v1"
    feature_dim = 4

    def __init__(self):
        self.calls = 0

    def features(self, images, batch_size=100):
        self.calls += 1
        x = checks.check_images(images)
        top, bottom = x[:, :14], x[:, 14:]
        return np.stack([x.mean((1, 2, 3)), x.std((1, 2, 3)), top.mean((1, 2, 3)), bottom.mean((1, 2, 3))], 1)


def test_computed_once_then_read_from_the_cache(tmp_path, monkeypatch):
    extractor = MeanPixelFeatures()
    first = reference_features("fashion_mnist", "test", 20, extractor, cache_dir=str(tmp_path))
    assert os.path.basename(first["path"]) == "fashion_mnist_test_20_mean_pixels-v1.npz"
    assert os.path.dirname(first["path"]) == str(tmp_path / "reference")
    images, _ = tfgen.data.load_arrays("fashion_mnist", "test")
    np.testing.assert_allclose(first["activations"], extractor.features(images[:20]), rtol=1e-6)
    mean, covariance = activation_statistics(first["activations"])
    np.testing.assert_allclose(first["mean"], mean)
    np.testing.assert_allclose(first["covariance"], covariance)

    # A second call neither loads the data set nor runs the extractor.
    monkeypatch.setattr(tfgen.data, "load_arrays", lambda *a, **k: pytest.fail("data loaded again"))
    calls = extractor.calls
    again = reference_activations("fashion_mnist", "test", 20, extractor, cache_dir=str(tmp_path))
    np.testing.assert_array_equal(again, first["activations"])
    cached_mean, cached_covariance = reference_statistics("fashion_mnist", "test", 20, extractor, cache_dir=str(tmp_path))
    np.testing.assert_array_equal(cached_mean, first["mean"])
    np.testing.assert_array_equal(cached_covariance, first["covariance"])
    assert extractor.calls == calls


def test_key_separates_split_count_and_extractor(tmp_path, monkeypatch):
    monkeypatch.setenv("TFGEN_CACHE_DIR", str(tmp_path))  # the environment variable picks the directory
    extractor = MeanPixelFeatures()
    paths = {
        reference_features("fashion_mnist", "test", 10, extractor)["path"],
        reference_features("fashion_mnist", "test", 12, extractor)["path"],
        reference_features("fashion_mnist", "train", 10, extractor)["path"],
    }
    other = MeanPixelFeatures()
    other.cache_key = "mean_pixels-v2"
    paths.add(reference_features("fashion_mnist", "test", 10, other)["path"])
    assert len(paths) == 4 and all(p.startswith(str(tmp_path)) for p in paths)
    assert len(os.listdir(tmp_path / "reference")) == 4


def test_recompute_and_damaged_files_are_rewritten(tmp_path):
    extractor = MeanPixelFeatures()
    path = reference_features("fashion_mnist", "test", 5, extractor, cache_dir=str(tmp_path))["path"]
    with open(path, "wb") as file:
        file.write(b"not an npz")
    restored = reference_features("fashion_mnist", "test", 5, extractor, cache_dir=str(tmp_path))
    assert restored["activations"].shape == (5, 4) and extractor.calls == 2
    reference_features("fashion_mnist", "test", 5, extractor, cache_dir=str(tmp_path), recompute=True)
    assert extractor.calls == 3


@pytest.mark.parametrize("num_images, message", [(1, "num_images >= 2"), (10001, "num_images <= 10000")])
def test_bad_counts_raise(tmp_path, num_images, message):
    with pytest.raises(ValueError, match=message):
        reference_features("fashion_mnist", "test", num_images, MeanPixelFeatures(), cache_dir=str(tmp_path))
