"""Image folders as training data: ``from_directory``."""

import os

import numpy as np
import tensorflow as tf

from tfgen.data import pipeline

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def _list_images(root):
    paths = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()  # os.walk visits them in this order: deterministic
        for file_name in sorted(files):
            if file_name.lower().endswith(IMAGE_EXTENSIONS) and not file_name.startswith("."):
                paths.append(os.path.join(directory, file_name))
    return paths


def _decode(path, channels):
    try:
        content = tf.io.read_file(path)
        image = tf.io.decode_image(content, channels=channels, dtype=tf.uint8, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnknownError) as error:
        raise ValueError(
            f"Could not read image file {path!r}: {error.message.strip()}. Expected a valid "
            "PNG or JPEG file; remove or replace it."
        ) from None
    return image


def _resize(image, image_size):
    if tuple(image.shape[:2]) == image_size:
        return image
    resized = tf.image.resize(tf.cast(image, tf.float32), image_size, method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def from_directory(
    path,
    image_size=None,
    channels=None,
    batch_size=128,
    seed=None,
    shuffle=True,
    with_labels=False,
    binarize=False,
    drop_remainder=False,
    repeat=False,
):
    """A batched ``tf.data.Dataset`` of the PNG/JPEG images under a folder.

    Files are found recursively (extensions ``.png``, ``.jpg``, ``.jpeg``,
    any case; hidden files skipped), in sorted order, decoded once and kept in
    memory as uint8 at the final size.

    Args:
        path: folder to read. With ``with_labels=True`` every image must lie
            in a sub-folder of ``path``; the sorted sub-folder names are the
            classes ``0, 1, ...``.
        image_size: ``None``, int or ``(height, width)``: every image is
            resized (bilinear) to it. ``None``: the size of the first image,
            and all images must have that size.
        channels: ``None`` (those of the first image), 1 (grey), 3 (RGB) or
            4 (RGBA); images are converted.
        batch_size: int > 0.
        seed: ``None`` or int: shuffling / binarisation seed.
        shuffle: reshuffle all images on every pass.
        with_labels: yield ``(images, labels)`` with int32 labels ``[B]``.
        binarize, drop_remainder, repeat: as in :func:`tfgen.data.load`.

    Returns:
        ``tf.data.Dataset`` of float32 ``[B, H, W, C]`` in [-1, 1] (or
        ``(images, labels)``). With labels it has a ``class_names`` attribute
        (list of str, index = label).

    Raises:
        ValueError: missing folder, no image files, an unreadable image (the
            file is named), sizes that differ without ``image_size`` (file and
            sizes named), images outside a class sub-folder with
            ``with_labels=True``, or an invalid argument.

    Example:

    ```python
    import tfgen.data

    dataset = tfgen.data.from_directory("faces/", image_size=64, channels=3, seed=0)
    ```
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise ValueError(f"from_directory received {path!r}, which is not an existing folder.")
    if channels not in (None, 1, 3, 4):
        raise ValueError(f"channels must be None, 1, 3 or 4, received {channels!r}.")
    image_size = pipeline.normalize_image_size(image_size)
    paths = _list_images(path)
    if not paths:
        raise ValueError(
            f"Folder {path!r} contains no image files; expected files ending in "
            f"{', '.join(IMAGE_EXTENSIONS)} (searched recursively)."
        )
    labels = None
    class_names = None
    if with_labels:
        relative = [os.path.relpath(file_path, path).split(os.sep) for file_path in paths]
        loose = [file_path for file_path, parts in zip(paths, relative) if len(parts) == 1]
        if loose:
            raise ValueError(
                f"with_labels=True expects every image in a class sub-folder of {path!r}, "
                f"but {loose[0]!r} lies directly in it."
            )
        class_names = sorted({parts[0] for parts in relative})
        class_index = {name: index for index, name in enumerate(class_names)}
        labels = np.array([class_index[parts[0]] for parts in relative], np.int64)

    first = _decode(paths[0], channels or 0)
    channels = channels or int(first.shape[-1])
    target_size = image_size or tuple(int(size) for size in first.shape[:2])
    images = np.empty((len(paths), *target_size, channels), np.uint8)
    for index, file_path in enumerate(paths):
        image = _decode(file_path, channels)
        if image_size is None and tuple(image.shape[:2]) != target_size:
            raise ValueError(
                f"Image {file_path!r} has size {tuple(image.shape[:2])} but the first image "
                f"{paths[0]!r} has size {target_size}; pass image_size=(height, width) to "
                "resize all images."
            )
        images[index] = _resize(image, target_size).numpy()
    dataset = pipeline.make_dataset(
        images,
        labels,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        binarize=binarize,
        drop_remainder=drop_remainder,
        repeat=repeat,
    )
    if class_names is not None:
        dataset.class_names = class_names
    return dataset
