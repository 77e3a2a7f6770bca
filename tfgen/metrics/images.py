"""Validation shared by the metrics: images, activations and counts.

Every metric accepts images in tfgen's convention (float ``[N, H, W, C]`` in
[-1, 1]) or raw uint8 pixels in [0, 255] (what
:func:`tfgen.data.load_arrays` returns), and rejects anything else with a
``ValueError`` that names what it received. Counts and other scalar
arguments are checked with :mod:`tfgen.validation`.
"""

import numpy as np

from tfgen import validation


def check_images(images, name="images", image_shape=None, channels=None):
    """Converts images to float32 ``[N, H, W, C]`` in [-1, 1].

    Args:
        images: array-like ``[N, H, W, C]``: float in [-1, 1], or uint8 in
            [0, 255] (mapped with ``x / 127.5 - 1``).
        name: how the argument is called in error messages.
        image_shape: optional required ``(H, W, C)``.
        channels: optional tuple of allowed channel counts.

    Returns:
        float32 NumPy ``[N, H, W, C]`` in [-1, 1] (values within the
        tolerance outside the range are clipped).

    Raises:
        ValueError: not 4-D, empty, wrong shape, not float or uint8, NaN or
            infinite values, or float values outside [-1, 1].
    """
    if hasattr(images, "numpy"):
        images = images.numpy()
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"Expected {name} of shape [N, H, W, C], got an array of shape {images.shape}.")
    if images.shape[0] == 0:
        raise ValueError(f"Expected at least one image in {name}, got shape {images.shape}.")
    if image_shape is not None and tuple(images.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"Expected {name} of shape [N, {', '.join(map(str, image_shape))}], got {images.shape}."
        )
    if channels is not None and images.shape[-1] not in channels:
        raise ValueError(
            f"Expected {name} with {' or '.join(map(str, channels))} channels, got shape {images.shape}."
        )
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 127.5 - 1.0
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"Expected {name} to be float in [-1, 1] or uint8 in [0, 255], got dtype {images.dtype}."
        )
    images = images.astype(np.float32, copy=False)
    if not np.all(np.isfinite(images)):
        raise ValueError(f"Expected finite values in {name}, got NaN or infinity.")
    low, high = float(images.min()), float(images.max())
    if low < -1.0 - validation.RANGE_TOLERANCE or high > 1.0 + validation.RANGE_TOLERANCE:
        hint = " (they look like [0, 255] pixels: pass uint8 or divide by 127.5 and subtract 1)" if high > 2 else ""
        raise ValueError(
            f"Expected float {name} in [-1, 1], got values in [{low:.4g}, {high:.4g}]{hint}."
        )
    return np.clip(images, -1.0, 1.0)


def check_activations(activations, name, min_samples=1):
    """Converts activations to float64 ``[N, D]``.

    Raises:
        ValueError: not 2-D, fewer than ``min_samples`` rows, or non-finite values.
    """
    if hasattr(activations, "numpy"):
        activations = activations.numpy()
    activations = np.asarray(activations, dtype=np.float64)
    if activations.ndim != 2:
        raise ValueError(
            f"Expected {name} to be a 2-D array [num_samples, num_features], got shape {activations.shape}."
        )
    if activations.shape[0] < min_samples:
        raise ValueError(
            f"Expected at least {min_samples} samples in {name}, got {activations.shape[0]} "
            f"(shape {activations.shape})."
        )
    if not np.all(np.isfinite(activations)):
        raise ValueError(f"Expected finite values in {name}, got NaN or infinity.")
    return activations


def check_same_features(a, b, name_a, name_b):
    """Raises ``ValueError`` unless two activation arrays have the same number of features."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"Expected {name_a} and {name_b} to have the same number of features, "
            f"got shapes {a.shape} and {b.shape}."
        )
