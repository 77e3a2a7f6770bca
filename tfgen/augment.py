"""Differentiable augmentation (DiffAugment) for GAN discriminators.

A discriminator trained on few images memorises them and stops giving the
generator a useful signal. DiffAugment (Zhao et al. 2020,
https://arxiv.org/abs/2006.10738) augments *every* image the discriminator
sees, real and fake, in the discriminator and the generator step alike. The
augmentations are differentiable with respect to the images, so the
generator's gradient flows back through them, and the generator is not
pushed to produce augmented-looking images.

The three augmentations follow the reference implementation
(mit-han-lab/data-efficient-gans, ``DiffAugment_tf.py``):

* ``"color"``: brightness ``x + U(-0.5, 0.5)``, then saturation (scale by
  ``U(0, 2)`` around each pixel's mean over channels; the identity for one
  channel), then contrast (scale by ``U(0.5, 1.5)`` around the image's mean).
* ``"translation"``: shift by a whole number of pixels, up to ``H // 8``
  rows and ``W // 8`` columns either way, filling with zeros.
* ``"cutout"``: zero an ``H // 2`` by ``W // 2`` rectangle (a square for square
  images) centred at a random pixel; it may hang over the border.

Translation and cutout move and mask pixels with ``tf.gather`` and
``tf.where``: the gradient reaches every pixel that lands in the output and
is exactly zero for pixels cut out or shifted off the image.

Each augmentation is applied to each row with probability ``probability``
(ADA-style, Karras et al. 2020); a row not selected is returned unchanged,
bit for bit. ``probability`` may be a tensor or variable, so an adaptive
controller can feed it in.

Randomness: every draw comes from :func:`tfgen.random.replica_uniform`, so
the augmentation of row ``i`` of the global batch is a pure function of
``(seed, step, stream, i)``: the same on one device as on any number of
replicas, and repeatable from the seed.

Shapes and ranges: ``images`` is a float ``[N, H, W, C]`` tensor, usually in
``[-1, 1]`` (zero, the fill value, is then mid-grey, as in the reference);
any ``H``, ``W`` and ``C`` work, the batch size may be unknown, and the
output has the input's shape and dtype. 16-bit floats are computed in
float32 and cast back. Everything works inside ``tf.function``, including
``jit_compile=True``; there the draws come from XLA's stateless generator,
which gives other numbers than the default kernels (true of every
:mod:`tfgen.random` draw), each row still a function of
``(seed, step, stream, i)``.

Example:
```python
import tensorflow as tf
from tfgen import augment

images = tf.random.uniform([8, 32, 32, 3], -1.0, 1.0)
augmented = augment.augment(images, "color,translation,cutout", seed=0, step=0, stream="augment_real")
augmented.shape  # TensorShape([8, 32, 32, 3])
```
"""

import numbers

import numpy as np
import tensorflow as tf

from tfgen import random as tfgen_random
from tfgen import validation

# Every augmentation is ``fn(images, uniforms) -> images`` with ``images``
# float [N, H, W, C] and ``uniforms`` float32 [N, NUM_UNIFORMS] in [0, 1):
# the row's random parameters (an augmentation uses the columns it needs).
NUM_UNIFORMS = 3

# Translation shifts by up to 1/8 of the image size; cutout covers 1/2 of it.
TRANSLATION_RATIO = 8
CUTOUT_RATIO = 2


def _integers(uniforms, count):
    """Uniform whole numbers in ``[0, count)`` (int32) from ``uniforms`` in [0, 1)."""
    count = tf.cast(count, tf.int32)
    values = tf.cast(tf.floor(uniforms * tf.cast(count, uniforms.dtype)), tf.int32)
    return tf.minimum(values, count - 1)  # float rounding must not give ``count``


def color(images, uniforms):
    """Random brightness, saturation and contrast, per image.

    Args:
        images: float ``[N, H, W, C]``.
        uniforms: float32 ``[N, NUM_UNIFORMS]`` in [0, 1): columns 0, 1, 2
            set brightness (``+ U(-0.5, 0.5)``), saturation (``x U(0, 2)``
            around the channel mean) and contrast (``x U(0.5, 1.5)`` around
            the image mean).

    Returns:
        Tensor like ``images``. Values may leave ``[-1, 1]``, as in the
        reference.
    """
    parameters = tf.cast(uniforms, images.dtype)[:, :, None, None]  # [N, 3, 1, 1]
    brightness = parameters[:, 0, None] - 0.5
    saturation = parameters[:, 1, None] * 2.0
    contrast = parameters[:, 2, None] + 0.5
    images = images + brightness
    channel_mean = tf.reduce_mean(images, axis=3, keepdims=True)
    images = (images - channel_mean) * saturation + channel_mean
    image_mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - image_mean) * contrast + image_mean


def _shift_indices(uniforms, size):
    """Source indices ``[N, size]`` and their validity for a shift of up to ``size // 8``."""
    max_shift = size // TRANSLATION_RATIO
    shift = _integers(uniforms, 2 * max_shift + 1) - max_shift  # [N] in [-max_shift, max_shift]
    source = tf.range(size)[None, :] - shift[:, None]
    valid = (source >= 0) & (source < size)
    return tf.clip_by_value(source, 0, size - 1), valid


def translation(images, uniforms):
    """Shifts each image by whole pixels, up to ``H // 8`` rows and ``W // 8`` columns, zero-filled.

    Output pixel ``(y, x)`` is input pixel ``(y - dy, x - dx)``, or zero
    where that lies outside the image; ``dy = floor(u0 * (2 * (H // 8) + 1)) - H // 8``
    and likewise ``dx`` from ``u1`` and ``W``: content moves down by ``dy``
    rows and right by ``dx`` columns.

    Args:
        images: float ``[N, H, W, C]``.
        uniforms: float32 ``[N, NUM_UNIFORMS]`` in [0, 1); uses columns 0 (rows)
            and 1 (columns).

    Returns:
        Tensor like ``images``.
    """
    shape = tf.shape(images)
    rows, rows_valid = _shift_indices(uniforms[:, 0], shape[1])
    columns, columns_valid = _shift_indices(uniforms[:, 1], shape[2])
    images = tf.gather(images, rows, axis=1, batch_dims=1)
    images = tf.gather(images, columns, axis=2, batch_dims=1)
    valid = rows_valid[:, :, None, None] & columns_valid[:, None, :, None]
    return tf.where(valid, images, tf.zeros_like(images))


def _cut_span(uniforms, size):
    """``[N, size]`` bool: which indices fall in a cut of length ``size // 2``."""
    length = size // CUTOUT_RATIO
    # As the reference: the centre is any index, plus one past the end for
    # even lengths, so that an even-length cut can hang over either border
    # equally.
    centre = _integers(uniforms, size + 1 - length % 2)
    start = centre - length // 2
    index = tf.range(size)[None, :]
    return (index >= start[:, None]) & (index < start[:, None] + length)


def cutout(images, uniforms):
    """Zeroes an ``H // 2`` by ``W // 2`` rectangle at a random position in each image.

    The rectangle is centred at row ``floor(u0 * (H + 1 - (H // 2) % 2))``
    and column ``floor(u1 * (W + 1 - (W // 2) % 2))`` (its top-left corner is
    ``H // 4`` rows and ``W // 4`` columns before the centre) and is clipped
    to the image.

    Args:
        images: float ``[N, H, W, C]``.
        uniforms: float32 ``[N, NUM_UNIFORMS]`` in [0, 1); uses columns 0 and 1.

    Returns:
        Tensor like ``images``.
    """
    shape = tf.shape(images)
    rows = _cut_span(uniforms[:, 0], shape[1])
    columns = _cut_span(uniforms[:, 1], shape[2])
    cut = rows[:, :, None, None] & columns[:, None, :, None]
    return tf.where(cut, tf.zeros_like(images), images)


# The position of an augmentation here fixes which draws it uses (see
# ``augment``): add new augmentations at the end, so that existing
# policies keep their draws.
AUGMENTATIONS = {
    "translation": translation,
    "cutout": cutout,
    "color": color,
}
_DRAW_INDEX = {name: index for index, name in enumerate(AUGMENTATIONS)}


def parse_policy(policy):
    """The augmentations a policy names, validated.

    Args:
        policy: ``None``, a comma-separated string (``"color,translation"``;
            spaces around names are ignored) or a list/tuple of names.
            ``None``, ``""`` and ``()`` mean no augmentation.

    Returns:
        tuple of names from ``AUGMENTATIONS``, in the order given.

    Raises:
        ValueError: ``policy`` has another type, names an unknown
            augmentation, or names one twice.
    """
    if policy is None:
        return ()
    if isinstance(policy, str):
        names = [name.strip() for name in policy.split(",")] if policy.strip() else []
    elif isinstance(policy, (list, tuple)):
        names = list(policy)
    else:
        raise ValueError(
            f"Expected policy to be None, a comma-separated string or a list of augmentation names, got {policy!r}."
        )
    for name in names:
        if not isinstance(name, str) or name not in AUGMENTATIONS:
            raise ValueError(f"Unknown augmentation {name!r}. Valid augmentations: {sorted(AUGMENTATIONS)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"Expected each augmentation at most once in policy, got {policy!r} (repeats {repeated}).")
    return tuple(names)


def _check_probability(probability):
    """A Python float in [0, 1], or a float32 scalar tensor (values outside [0, 1] act as clipped)."""
    if isinstance(probability, (numbers.Number, np.generic, np.ndarray)) and np.ndim(probability) == 0:
        value = probability.item() if isinstance(probability, (np.generic, np.ndarray)) else probability
        return validation.check_number("probability", value, minimum=0.0, maximum=1.0)
    probability = tf.convert_to_tensor(probability)
    if probability.shape.rank is not None and probability.shape.rank != 0:
        raise ValueError(f"Expected probability to be a scalar, got shape {probability.shape}.")
    if not (probability.dtype.is_floating or probability.dtype.is_integer):
        raise ValueError(f"Expected probability to be a number, got dtype {probability.dtype.name}.")
    return tf.cast(probability, tf.float32)


def _compute_dtype(dtype):
    if not dtype.is_floating:
        raise ValueError(f"Expected images to be a float tensor, got dtype {dtype.name}.")
    return tf.float32 if dtype.size < 4 else dtype


def augment(images, policy, seed, step, stream, probability=1.0):
    """Applies the augmentations in ``policy``, in order, each to a random subset of rows.

    Each augmentation is applied to each row independently with probability
    ``probability``; rows not selected pass through it unchanged. Row ``i``
    of the global batch is augmented the same way for the same
    ``(seed, step, stream)`` on any number of replicas, and its draws for an
    augmentation do not depend on which other augmentations the policy lists.

    Args:
        images: float ``[N, H, W, C]`` (float16/bfloat16 are computed in
            float32), usually in ``[-1, 1]``; ``N`` may be unknown.
        policy: augmentation names, see :func:`parse_policy`
            (``"color,translation,cutout"`` is the paper's choice).
        seed: Python int or scalar integer tensor, the user's seed.
        step: scalar integer tensor or int (usually the step counter); a new
            step gives new augmentations.
        stream: name from ``tfgen.random.STREAMS``, e.g. ``"augment_real"``,
            ``"augment_fake"``, ``"augment_generator"``: separates draws
            made within one step.
        probability: chance that a row gets each augmentation; a number in
            [0, 1] or a scalar tensor/variable (whose values outside [0, 1]
            act as 0 or 1).

    Returns:
        Tensor with the shape and dtype of ``images``; differentiable with
        respect to ``images``.

    Raises:
        ValueError: unknown or repeated augmentation names, ``probability``
            outside [0, 1] or not a scalar, ``images`` not a float tensor of
            rank 4, or (when there is something to draw) an unknown
            ``stream``.
    """
    names = parse_policy(policy)
    probability = _check_probability(probability)
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"Expected images of shape [N, H, W, C], got shape {images.shape}.")
    compute_dtype = _compute_dtype(images.dtype)
    if not names or (isinstance(probability, float) and probability == 0.0):
        return images

    # One draw for every augmentation in the registry, whichever the policy
    # lists: row i's column 0 decides whether it gets augmentation j, the
    # rest are that augmentation's parameters.
    uniforms = tfgen_random.replica_uniform(
        tf.shape(images)[0], (len(AUGMENTATIONS), 1 + NUM_UNIFORMS), seed, step, stream
    )
    augmented = tf.cast(images, compute_dtype)
    for name in names:
        draws = uniforms[:, _DRAW_INDEX[name]]
        result = AUGMENTATIONS[name](augmented, draws[:, 1:])
        if isinstance(probability, float) and probability == 1.0:
            augmented = result
        else:
            selected = draws[:, 0] < probability
            augmented = tf.where(selected[:, None, None, None], result, augmented)
    return tf.cast(augmented, images.dtype)
