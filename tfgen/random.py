"""Reproducible, replica-aware noise.

Every random draw inside a training or test step goes through
:func:`replica_normal` / :func:`replica_uniform`. Noise for row ``i`` of the
*global* batch is a pure function of ``(seed, step, i)``: the global batch of
noise is drawn with a stateless generator and each replica keeps its own rows.
This gives three properties at once:

* the user's seed controls every draw (same seed, same training run);
* under ``tf.distribute`` every replica draws *different* noise (a plain
  ``keras.random.SeedGenerator`` would hand every replica the same numbers);
* training on N replicas sees exactly the noise that one device sees for the
  same global batch, so results do not depend on the number of replicas.

Noise tensors in GANs and VAEs are small (``[batch, latent_dim]`` or
``[batch, 1, 1, 1]``), so drawing the global batch on every replica costs
next to nothing.
"""

import random as python_random

import tensorflow as tf

from tfgen import validation

# Streams separate independent uses of the same (seed, step) pair, e.g. the
# VAE's posterior sample and the GAN's latent vectors within one step.
STREAMS = {
    "posterior": 1,
    "latent": 2,
    "interpolation": 3,
    "latent_generator_step": 4,
    "binarize": 5,
    "evaluation": 6,
    "generate": 7,
    # Differentiable augmentation (tfgen.augment): real and fake images in a
    # discriminator step, and fakes in a generator step, each get their own draws.
    "augment_real": 8,
    "augment_fake": 9,
    "augment_generator": 10,
}


def _stream_id(stream):
    if stream not in STREAMS:
        raise ValueError(f"Unknown noise stream {stream!r}. Valid streams: {sorted(STREAMS)}")
    return STREAMS[stream]


def resolve_seed(seed):
    """The seed a model keeps: ``seed`` itself, or one drawn when it is ``None``.

    ``None`` draws from Python's global ``random`` module, the source Keras
    itself uses for ``seed=None`` (``keras.random.SeedGenerator``), so that
    ``keras.utils.set_random_seed(n)`` before building a model makes the drawn
    seed, and with it the whole run, repeatable; without it the seed differs
    from run to run. The result is stored in the model's config, so a
    reloaded model reproduces the original either way.

    Args:
        seed: ``None`` or an int >= 0.

    Returns:
        int in ``[0, 2**31 - 2]`` (``seed`` unchanged when given).

    Raises:
        ValueError: ``seed`` is not ``None`` or a non-negative int.
    """
    seed = validation.check_seed("seed", seed)
    if seed is None:
        return python_random.randint(0, 2**31 - 2)
    return seed


def stateless_seed(seed, step, stream):
    """Returns the ``[2]`` int32 seed tensor for ``(seed, step, stream)``.

    Args:
        seed: Python int or scalar integer tensor, the user's seed.
        step: scalar integer tensor (usually an iteration counter).
        stream: name from ``STREAMS``; separates independent draws.

    Returns:
        int32 tensor of shape ``[2]`` for ``tf.random.stateless_*`` ops.
    """
    base = tf.stack(
        [tf.cast(seed, tf.int64) % 2147483647, tf.cast(_stream_id(stream), tf.int64)]
    )
    base = tf.cast(base, tf.int32)
    step = tf.cast(step, tf.int32)
    return tf.random.experimental.stateless_fold_in(base, step)


def prior_latents(num_samples, latent_dim, seed):
    """The prior latent vectors every model samples from: float32 ``[num_samples, latent_dim]`` ``N(0, I)``.

    A stateless function of ``(seed, num_samples, latent_dim)`` (the
    ``"generate"`` stream), so ``model.generate``, the exports' ``sample``
    signatures and ``tfgen sample`` all draw the same vectors for a seed.
    ``num_samples`` and ``seed`` may be Python ints or scalar tensors.
    """
    return tf.random.stateless_normal(
        tf.stack([num_samples, latent_dim]), seed=stateless_seed(seed, 0, "generate")
    )


def _replica_layout(local_batch_size):
    """Returns ``(global_batch_size, first_row)`` for the calling replica."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return local_batch_size, 0
    num_replicas = ctx.num_replicas_in_sync
    replica_id = tf.cast(
        tf.get_static_value(ctx.replica_id_in_sync_group)
        if tf.get_static_value(ctx.replica_id_in_sync_group) is not None
        else ctx.replica_id_in_sync_group,
        tf.int32,
    )
    return local_batch_size * num_replicas, replica_id * local_batch_size


def _replica_draw(sampler, local_batch_size, event_shape, seed, step, stream, dtype):
    local_batch_size = tf.cast(local_batch_size, tf.int32)
    global_batch, first_row = _replica_layout(local_batch_size)
    shape = tf.concat([[global_batch], tf.constant(list(event_shape), tf.int32)], axis=0)
    noise = sampler(shape, seed=stateless_seed(seed, step, stream), dtype=dtype)
    return noise[first_row : first_row + local_batch_size]


def replica_normal(local_batch_size, event_shape, seed, step, stream, dtype=tf.float32):
    """Standard normal noise ``[local_batch_size, *event_shape]`` for this replica.

    Row ``i`` of the global batch depends only on ``(seed, step, stream, i)``.
    Assumes every replica holds ``local_batch_size`` rows (the usual layout of
    ``tf.distribute``; a short final batch still gets distinct, reproducible
    noise per replica).
    """
    return _replica_draw(
        tf.random.stateless_normal, local_batch_size, event_shape, seed, step, stream, dtype
    )


def replica_uniform(local_batch_size, event_shape, seed, step, stream, dtype=tf.float32):
    """Uniform [0, 1) noise ``[local_batch_size, *event_shape]`` for this replica."""
    return _replica_draw(
        tf.random.stateless_uniform, local_batch_size, event_shape, seed, step, stream, dtype
    )
