"""The shipped Fashion-MNIST classifier and the fast Fashion distance."""

import os

import numpy as np
import pytest

import tfgen.data
from tfgen.metrics import FashionClassifierFeatures, frechet_fashion_distance
from tfgen.metrics.fashion_classifier import WEIGHTS_FILE


@pytest.fixture(scope="module")
def test_images():
    images, labels = tfgen.data.load_arrays("fashion_mnist", "test")
    return images, labels


def test_weights_ship_inside_the_package_and_are_small():
    assert os.path.isfile(WEIGHTS_FILE)
    assert os.path.getsize(WEIGHTS_FILE) < 2 * 1024 * 1024


def test_accuracy_on_test_images(test_images):
    images, labels = test_images
    predictions = FashionClassifierFeatures().predict_classes(images[:2000])
    assert np.mean(predictions == labels[:2000]) >= 0.9


def test_features_shape_and_fast_distance(test_images):
    images, _ = test_images
    features = FashionClassifierFeatures().features(images[:64])
    assert features.shape == (64, 128) and features.dtype == np.float32 and features.min() >= 0
    same = frechet_fashion_distance(images[:1000], images[1000:2000])
    noise = np.random.default_rng(0).uniform(-1, 1, (1000, 28, 28, 1)).astype(np.float32)
    assert same < 0.1 * frechet_fashion_distance(images[:1000], noise)
    # A set compared with itself: 0 (float images and uint8 pixels are the same input).
    assert frechet_fashion_distance(images[:200], images[:200].astype(np.float32) / 127.5 - 1) == pytest.approx(0, abs=1e-6)


def test_wrong_image_shape_raises():
    with pytest.raises(ValueError, match=r"shape \[N, 28, 28, 1\]"):
        FashionClassifierFeatures().features(np.zeros((2, 32, 32, 3), np.float32))


def test_features_show_a_progress_bar_only_when_asked(test_images, capsys):
    images = test_images[0][:10]
    quiet = FashionClassifierFeatures().features(images, batch_size=4)
    assert capsys.readouterr().out == ""
    shown = FashionClassifierFeatures().features(images, batch_size=4, verbose=1)
    out = capsys.readouterr().out
    assert "10/10" in out and "/image" in out
    np.testing.assert_array_equal(shown, quiet)
