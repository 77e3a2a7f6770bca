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

import tensorflow as tf

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
}


def _stream_id(stream):
    if stream not in STREAMS:
        raise ValueError(f"Unknown noise stream {stream!r}. Valid streams: {sorted(STREAMS)}")
    return STREAMS[stream]


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


def num_replicas_in_sync():
    """Number of replicas the current step runs on (1 outside ``tf.distribute``)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None:
        return tf.distribute.get_strategy().num_replicas_in_sync
    return ctx.num_replicas_in_sync


def global_mean(per_example, local_batch_size=None):
    """Mean over the *global* batch of a per-example quantity, for one replica.

    ``sum(per_example) / (local_batch_size * num_replicas)``: summing this over
    replicas (which is what gradient all-reduce does) gives the mean over the
    global batch, so an update does not depend on the number of replicas.
    Keras' ``optimizer.apply_gradients`` sums gradients across replicas, so
    model code must *not* also divide by the number of replicas elsewhere.
    """
    per_example = tf.convert_to_tensor(per_example)
    if local_batch_size is None:
        local_batch_size = tf.shape(per_example)[0]
    global_batch = tf.cast(local_batch_size, per_example.dtype) * tf.cast(
        num_replicas_in_sync(), per_example.dtype
    )
    return tf.reduce_sum(per_example) / global_batch
