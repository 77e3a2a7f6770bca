"""Turns in-memory arrays into batched ``tf.data`` pipelines.

Every loader in ``tfgen.data`` ends here. The data set is held in memory once,
in its compact source dtype (uint8 for images): the pipeline shuffles and
batches *indices*, gathers a whole batch from the stored tensor and converts
it to float32 in one vectorised ``map`` (much faster than a per-example map,
and no float32 copy of the data set ever exists).

Randomness:

* shuffling uses a buffer covering the whole data set, seeded by ``seed``
  and reshuffled on every pass (epoch);
* ``binarize=True`` draws one random integer per batch from
  ``tf.data.Dataset.random(seed, rerandomize_each_iteration=True)`` and uses
  it as the seed of a stateless uniform draw: a new binarisation on every
  pass, yet two pipelines built with the same seed give identical streams.
"""

import numpy as np
import tensorflow as tf

from tfgen import validation

# Offsets the binarisation seed from the shuffle seed so the two draws are not
# the same random stream when the user passes one seed for both.
_BINARIZE_SEED_SALT = 5


def normalize_image_size(image_size):
    """``None``, an int or an ``(height, width)`` pair -> ``None`` or a tuple of 2 ints."""
    if image_size is None:
        return None
    if validation.is_int(image_size):
        image_size = (image_size, image_size)
    try:
        height, width = image_size
        size = (validation.check_positive_int("image_size", height), validation.check_positive_int("image_size", width))
    except (TypeError, ValueError):
        raise ValueError(
            f"image_size must be None, an int > 0 or a (height, width) pair of ints > 0, "
            f"received {image_size!r}."
        ) from None
    return size


def _binarize_seed(seed):
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, _BINARIZE_SEED_SALT]).generate_state(1)[0])


def batches_per_pass(num_examples, batch_size, drop_remainder=False):
    """Batches in one pass over ``num_examples`` examples."""
    if drop_remainder:
        return num_examples // batch_size
    return -(-num_examples // batch_size)


def _repeated_index_batches(num_examples, batch_size, shuffle, seed, drop_remainder, start_step):
    """Infinite stream of ``(indices [B], batch_seed int64)`` that is a pure function of ``seed``.

    Pass ``k`` is ordered by a stateless permutation seeded by ``(seed, k)``;
    batch ``j`` of pass ``k`` gets the binarisation seed ``(seed, k, j)``.
    Unlike ``shuffle(reshuffle_each_iteration=True)``, nothing depends on
    how many times this process has iterated, so a restarted run can resume
    the stream at any step.
    """
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0] % (2**31 - 1))
    per_pass = batches_per_pass(num_examples, batch_size, drop_remainder)
    if per_pass == 0:
        raise ValueError(
            f"batch_size={batch_size} with drop_remainder=True leaves no batch of {num_examples} examples."
        )
    first_pass, first_batch = divmod(start_step, per_pass)
    salt = _binarize_seed(seed) % (2**31 - 1)

    def one_pass(epoch):
        if shuffle:
            keys = tf.random.stateless_uniform(
                [num_examples], seed=tf.stack([tf.constant(seed, tf.int64), epoch]), dtype=tf.float32
            )
            order = tf.argsort(keys, stable=True)
        else:
            order = tf.range(num_examples)
        batches = tf.data.Dataset.from_tensor_slices(tf.cast(order, tf.int64)).batch(
            batch_size, drop_remainder=drop_remainder
        )
        return batches.enumerate().map(
            lambda index, indices: (indices, tf.stack([tf.constant(salt, tf.int64), epoch * per_pass + index]))
        )

    passes = tf.data.Dataset.range(first_pass, np.iinfo(np.int64).max)
    return passes.flat_map(one_pass).skip(first_batch)


def make_dataset(
    data,
    labels=None,
    *,
    batch_size=128,
    shuffle=True,
    seed=None,
    binarize=False,
    image_size=None,
    drop_remainder=False,
    repeat=False,
    scale="uint8",
    start_step=0,
):
    """Builds the batched, shuffled, prefetched pipeline over in-memory arrays.

    Args:
        data: NumPy array ``[N, ...]``. With ``scale="uint8"``: uint8 images
            ``[N, H, W, C]`` in [0, 255]; ``scale="none"``: float32 values
            passed through unchanged (images already in [-1, 1], or points).
        labels: optional integer array ``[N]``; when given, elements are
            ``(data, labels)`` with int32 labels ``[B]``.
        batch_size: int > 0.
        shuffle: reshuffle the whole data set on every pass.
        seed: ``None`` or int, seeds shuffling and binarisation.
        binarize: images become 1.0 with probability ``(x + 1) / 2``, else -1.0.
        image_size: ``None`` or ``(height, width)``: bilinear resize of images.
        drop_remainder: drop the last, smaller batch.
        repeat: repeat indefinitely (each pass reshuffled). The repeated
            stream is a pure function of ``seed``: pass ``k`` (epoch) draws
            its order and binarisation from ``(seed, k)``, every pass ends
            with its own last batch, and ``start_step`` resumes it exactly.
        scale: ``"uint8"`` (``v / 127.5 - 1``) or ``"none"``.
        start_step: with ``repeat=True``, the number of batches to skip (a
            resumed run passes the number of batches it has trained on);
            skipping costs no image work.

    Returns:
        ``tf.data.Dataset`` of float32 ``[B, ...]`` batches (or pairs with labels).
    """
    batch_size = validation.check_positive_int("batch_size", batch_size)
    seed = validation.check_seed("seed", seed)
    image_size = normalize_image_size(image_size)
    if scale not in ("uint8", "none"):
        raise ValueError(f"Unknown scale {scale!r}. Valid scales: ['none', 'uint8']")
    num_examples = len(data)
    if num_examples == 0:
        raise ValueError("Cannot build a dataset from 0 examples; expected at least 1.")
    if (binarize or image_size is not None) and np.ndim(data) != 4:
        raise ValueError(
            f"binarize and image_size apply to images [N, H, W, C]; received data of shape "
            f"{np.shape(data)}."
        )
    stored = tf.constant(data)
    stored_labels = None if labels is None else tf.constant(np.asarray(labels, np.int32))

    def to_float(batch):
        if scale == "uint8":
            batch = tf.cast(batch, tf.float32) / 127.5 - 1.0
        else:
            batch = tf.cast(batch, tf.float32)
        if image_size is not None and tuple(batch.shape[1:3]) != image_size:
            batch = tf.image.resize(batch, image_size, method="bilinear", antialias=True)
            batch = tf.clip_by_value(batch, -1.0, 1.0)
        return batch

    def gather(indices):
        batch = to_float(tf.gather(stored, indices))
        if stored_labels is None:
            return batch
        return batch, tf.gather(stored_labels, indices)

    def gather_binarized(indices, random_int):
        element = gather(indices)
        images = element[0] if isinstance(element, tuple) else element
        if random_int.shape.rank == 0:
            bits = tf.bitcast(random_int, tf.int32)  # int64 -> two int32 halves: a [2] seed
        else:
            bits = random_int  # already a [2] seed
        uniform = tf.random.stateless_uniform(tf.shape(images), seed=bits)
        images = tf.where(uniform < (images + 1.0) / 2.0, 1.0, -1.0)
        return (images, element[1]) if isinstance(element, tuple) else images

    start_step = validation.check_non_negative_int("start_step", start_step)
    if start_step and not repeat:
        raise ValueError(
            f"start_step={start_step} needs repeat=True: only the repeated stream can be resumed."
        )
    if repeat:
        dataset = _repeated_index_batches(
            num_examples, batch_size, shuffle, seed, drop_remainder, int(start_step)
        )
        if binarize:
            dataset = dataset.map(
                lambda indices, batch_seed: gather_binarized(indices, batch_seed),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        else:
            dataset = dataset.map(
                lambda indices, batch_seed: gather(indices), num_parallel_calls=tf.data.AUTOTUNE
            )
        return _prefetched(dataset)

    dataset = tf.data.Dataset.range(num_examples)
    if shuffle:
        dataset = dataset.shuffle(num_examples, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if binarize:
        randoms = tf.data.Dataset.random(
            seed=_binarize_seed(seed), rerandomize_each_iteration=True
        )
        dataset = tf.data.Dataset.zip((dataset, randoms))
        dataset = dataset.map(gather_binarized, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    return _prefetched(dataset)


def _prefetched(dataset):
    """Adds the prefetch and turns off tf.data's model-based autotuning.

    With autotuning on, destroying an iterator can wait for tf.data's
    optimisation thread, which sleeps for ever longer periods as the iterator
    lives: ``fit`` drops its iterator at the end of every epoch (and of every
    ``fit`` call), and on TensorFlow 2.21 that stalled training by a median
    12-19 s per ``fit`` call of the GAN on a 2-core machine
    (``benchmarks/throughput.py``: rounds snapping to 41.0 s whose steps
    took 26-32 s). Without it the map still
    runs on every core (``AUTOTUNE`` parallelism falls back to the core
    count) and ``prefetch(AUTOTUNE)`` still sizes its buffer by itself; the
    in-memory gather is thousands of times faster than training
    (``benchmarks/pipeline.py``).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def _describe(array):
    return f"array of shape {array.shape} and dtype {array.dtype}"


def from_numpy(
    array,
    labels=None,
    batch_size=128,
    seed=None,
    shuffle=True,
    binarize=False,
    image_size=None,
    drop_remainder=False,
    repeat=False,
):
    """A batched ``tf.data.Dataset`` of images in [-1, 1] from a NumPy array.

    The scaling rule depends only on the dtype:

    * ``uint8``: values in [0, 255], scaled as ``v / 127.5 - 1``;
    * floating (float16/32/64): must already lie in [-1, 1] (a float array
      outside that range, e.g. [0, 255] or [0, 1] data, raises: convert with
      ``x * 2 - 1`` or ``x / 127.5 - 1`` first); cast to float32, unchanged.

    Other dtypes (bool, int32, strings, ...) raise: cast to uint8 first.

    Args:
        array: images ``[N, H, W]`` (a channel axis is added) or ``[N, H, W, C]``.
        labels: optional integer array-like ``[N]``; elements become
            ``(images, labels)`` with int32 labels ``[B]``.
        batch_size: int > 0.
        seed: ``None`` or int: shuffling / binarisation seed.
        shuffle: reshuffle the whole array on every pass.
        binarize: pixels become 1.0 with probability ``(x + 1) / 2``, else -1.0,
            resampled every pass.
        image_size: ``None``, int or ``(height, width)``: bilinear resize.
        drop_remainder: drop the last, smaller batch.
        repeat: repeat indefinitely.

    Returns:
        ``tf.data.Dataset`` of float32 ``[B, H, W, C]`` in [-1, 1]
        (or ``(images, labels)`` pairs).

    Raises:
        ValueError: empty array, rank not 3 or 4, unsupported dtype, NaN,
            floats outside [-1, 1], labels not integer or not of length N.

    Example:

    ```python
    import numpy as np
    import tfgen.data

    images = np.random.randint(0, 256, size=(100, 28, 28), dtype=np.uint8)
    dataset = tfgen.data.from_numpy(images, batch_size=32, seed=0)
    next(iter(dataset)).shape  # TensorShape([32, 28, 28, 1])
    ```
    """
    array = np.asarray(array)
    if array.dtype == np.uint8:
        scale = "uint8"
    elif np.issubdtype(array.dtype, np.floating):
        scale = "none"
    else:
        raise ValueError(
            f"from_numpy received an {_describe(array)}; expected dtype uint8 (values "
            "0..255) or a floating dtype with values in [-1, 1]. Cast your array first."
        )
    if array.ndim not in (3, 4):
        raise ValueError(
            f"from_numpy received an {_describe(array)}; expected rank 3 [N, H, W] or "
            "rank 4 [N, H, W, C]."
        )
    if array.size == 0:
        raise ValueError(f"from_numpy received an empty {_describe(array)}; expected N >= 1 images.")
    if scale == "none":
        if np.isnan(array).any():
            raise ValueError(
                f"from_numpy received an {_describe(array)} containing NaN; expected finite "
                "values in [-1, 1]."
            )
        low, high = float(array.min()), float(array.max())
        if low < -1.0 or high > 1.0:
            raise ValueError(
                f"from_numpy received floats with min {low} and max {high}; expected values "
                "in [-1, 1] (convert [0, 1] data with x * 2 - 1, [0, 255] data with "
                "x / 127.5 - 1, or pass uint8)."
            )
        array = array.astype(np.float32, copy=False)
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != len(array):
            raise ValueError(
                f"labels must be a 1-D array with one label per image: expected shape "
                f"({len(array)},), received shape {labels.shape}."
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be integers, received dtype {labels.dtype}.")
    return make_dataset(
        array,
        labels,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        binarize=binarize,
        image_size=image_size,
        drop_remainder=drop_remainder,
        repeat=repeat,
        scale=scale,
    )
