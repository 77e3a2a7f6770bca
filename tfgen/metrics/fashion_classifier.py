"""A small Fashion-MNIST classifier whose penultimate features give a fast FID.

The standard FID network (:class:`tfgen.metrics.InceptionFeatures`) resizes
every 28x28 image to 299x299 and costs about 6 GFLOPs per image; this CNN
costs about 15 MFLOPs and was trained on Fashion-MNIST itself, so its
features separate the classes the data set is about. The Frechet distance
between its 128-d penultimate features (after ReLU) of real and generated
images is :func:`tfgen.metrics.frechet_fashion_distance`.

The weights ship inside the package (``tfgen/metrics/weights/``); they were
trained by :mod:`tfgen.metrics.train_fashion_classifier`:

    python -m tfgen.metrics.train_fashion_classifier --epochs 10 --seed 0

Example:
```python
import tfgen.metrics
features = tfgen.metrics.FashionClassifierFeatures()
activations = features.features(images)        # float32 [N, 128]
```
"""

import os

import keras
import numpy as np
from keras import layers

from tfgen.metrics import cache
from tfgen.metrics import images as image_checks
from tfgen.metrics.batches import predict_in_batches

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
FEATURE_DIM = 128
WEIGHTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights", "fashion_classifier.weights.h5")


def build_fashion_classifier(seed=0):
    """The classifier: images float32 ``[B, 28, 28, 1]`` in [-1, 1] -> class logits ``[B, 10]``.

    Three blocks of a 3x3 convolution (32, 64, 128 filters), batch norm,
    ReLU and 2x2 max-pool, then
    a 128-unit dense layer named ``"features"`` (the penultimate features,
    after ReLU), dropout and the 10-way linear output.

    Args:
        seed: int, seed of the initial weights and of the dropout.

    Returns:
        A functional ``keras.Model`` (about 240k parameters).
    """

    def init(offset):
        return keras.initializers.GlorotUniform(seed=seed + offset)

    inputs = keras.Input(IMAGE_SHAPE, name="images")
    x = inputs
    for block, filters in enumerate((32, 64, 128)):
        x = layers.Conv2D(
            filters, 3, padding="same", use_bias=False, kernel_initializer=init(block), name=f"conv{block}"
        )(x)
        x = layers.BatchNormalization(name=f"bn{block}")(x)
        x = layers.ReLU(name=f"relu{block}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)  # 28 -> 14 -> 7 -> 3
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.3, seed=seed, name="dropout_flat")(x)
    x = layers.Dense(FEATURE_DIM, activation="relu", kernel_initializer=init(100), name="features")(x)
    x = layers.Dropout(0.3, seed=seed + 1, name="dropout_features")(x)
    logits = layers.Dense(NUM_CLASSES, kernel_initializer=init(101), name="logits")(x)
    return keras.Model(inputs, logits, name="fashion_classifier")


class FashionClassifierFeatures:
    """Penultimate features of the shipped Fashion-MNIST classifier.

    Args:
        weights_path: optional ``.weights.h5`` file of a
            :func:`build_fashion_classifier` model (default: the weights
            shipped in the package).

    Attributes:
        extractor_name: ``"fashion_classifier"``.
        cache_key: ``"fashion_classifier-<first 8 hex digits of the weights'
            SHA-1>"``, part of the key of cached reference statistics.
        feature_dim: 128.
        classifier: the full classifier (images -> logits), for accuracy checks.

    Raises:
        ValueError: ``weights_path`` does not exist.
    """

    extractor_name = "fashion_classifier"
    feature_dim = FEATURE_DIM
    image_shape = IMAGE_SHAPE

    def __init__(self, weights_path=None):
        path = WEIGHTS_FILE if weights_path is None else os.fspath(weights_path)
        if not os.path.exists(path):
            raise ValueError(
                f"Expected the Fashion-MNIST classifier weights at {path!r}, but there is no such file. "
                "Train them with `python -m tfgen.metrics.train_fashion_classifier`."
            )
        self.weights_path = path
        self.cache_key = f"{self.extractor_name}-{cache.file_sha1(path)[:8]}"
        self.classifier = build_fashion_classifier()
        self.classifier.load_weights(path)
        self.network = keras.Model(
            self.classifier.input, self.classifier.get_layer("features").output, name="fashion_features"
        )

    def features(self, images, batch_size=500, verbose=0):
        """Features of ``images``.

        Args:
            images: ``[N, 28, 28, 1]``, float in [-1, 1] or uint8 in [0, 255].
            batch_size: images per forward pass.
            verbose: 1 shows a progress bar of the images done (on stdout).

        Returns:
            float32 NumPy ``[N, 128]``, non-negative.

        Raises:
            ValueError: wrong shape or dtype, values outside the range, or
                ``verbose`` not 0, 1 or 2.
        """
        images = image_checks.check_images(images, name="images", image_shape=IMAGE_SHAPE)
        return predict_in_batches(lambda batch: self.network(batch, training=False), images, batch_size, verbose)

    def predict_classes(self, images, batch_size=500):
        """Most likely class per image: int64 NumPy ``[N]`` in [0, 10)."""
        images = image_checks.check_images(images, name="images", image_shape=IMAGE_SHAPE)
        logits = predict_in_batches(lambda batch: self.classifier(batch, training=False), images, batch_size)
        return np.argmax(logits, axis=1)

    def __call__(self, images, batch_size=500, verbose=0):
        return self.features(images, batch_size=batch_size, verbose=verbose)
