"""Choosing a ``tf.distribute`` strategy: one device, several GPUs, several machines, TPUs.

Models and their optimizers must be created inside ``strategy.scope()``;
tfgen's models build every optimizer they own in ``compile`` so that this
holds for ``fit`` under MirroredStrategy (keras-team/keras#19246). Losses in
tfgen's ``train_step`` are scaled to the global batch (:func:`global_mean`)
and noise is drawn per global-batch row (:mod:`tfgen.random`), so results do
not depend on the number of replicas.

Example:
```python
strategy = tfgen.distribute.get_strategy("mirrored")        # all local GPUs
with strategy.scope():
    vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=16, seed=0)
    vae.compile(optimizer="adam")
vae.fit(tfgen.data.load("fashion_mnist", batch_size=256), epochs=5)  # 256 = global batch
```
"""

import json
import os

import tensorflow as tf

from tfgen import validation


def split_cpu(num_devices):
    """Splits the physical CPU into ``num_devices`` logical devices.

    Lets MirroredStrategy run several replicas on one CPU (for tests and
    for trying distribution without GPUs). Must run before TensorFlow
    initialises its devices (before the first op); afterwards the existing
    configuration is kept and a ``ValueError`` says so if it has too few
    devices.

    Returns:
        The names of the logical CPU devices, e.g. ``["/device:CPU:0", ...]``.
    """
    num_devices = validation.check_positive_int("num_devices", num_devices)
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
        )
    except RuntimeError:
        pass  # already initialised; check below whether it has enough devices
    logical = [device.name for device in tf.config.list_logical_devices("CPU")]
    if len(logical) < num_devices:
        raise ValueError(
            f"Asked for {num_devices} CPU replicas but TensorFlow is already initialised with "
            f"{len(logical)} logical CPU device(s); call tfgen.distribute.split_cpu({num_devices}) "
            "before running any TensorFlow op."
        )
    return logical[:num_devices]


def _default(devices=None, num_devices=None):
    if devices or num_devices not in (None, 1):
        raise ValueError(
            f"The 'default' strategy runs on one device; got devices={devices!r}, "
            f"num_devices={num_devices!r}. Use 'mirrored' for several devices."
        )
    return tf.distribute.get_strategy()


def _mirrored(devices=None, num_devices=None):
    if devices is None:
        # Physical devices first: listing logical ones initialises TensorFlow,
        # after which the CPU can no longer be split.
        has_gpu = bool(tf.config.list_physical_devices("GPU"))
        gpus = [device.name for device in tf.config.list_logical_devices("GPU")] if has_gpu else []
        if gpus:
            if num_devices is not None and num_devices > len(gpus):
                raise ValueError(f"Asked for {num_devices} GPUs, found {len(gpus)}: {gpus}.")
            devices = gpus[: num_devices or len(gpus)]
        else:
            devices = split_cpu(num_devices or 1)
    elif num_devices is not None and num_devices != len(devices):
        raise ValueError(f"num_devices={num_devices} does not match the {len(devices)} devices given: {devices}.")
    return tf.distribute.MirroredStrategy(devices=list(devices))


def _multi_worker(devices=None, num_devices=None):
    if "TF_CONFIG" not in os.environ:
        raise ValueError(
            "The 'multi_worker' strategy reads the cluster from the TF_CONFIG environment variable, "
            'which is not set. Example: TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", '
            '"host2:12345"]}, "task": {"type": "worker", "index": 0}}\''
        )
    try:
        json.loads(os.environ["TF_CONFIG"])
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {error}") from error
    if devices is not None:
        raise ValueError(
            f"The 'multi_worker' strategy uses every local device of each worker; got devices={devices!r}. "
            "Pass num_devices to run several CPU replicas per worker."
        )
    if num_devices and not tf.config.list_physical_devices("GPU"):
        split_cpu(num_devices)
    return tf.distribute.MultiWorkerMirroredStrategy()


def _tpu(devices=None, num_devices=None):
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


STRATEGIES = {
    "default": _default,
    "mirrored": _mirrored,
    "multi_worker": _multi_worker,
    "tpu": _tpu,
}


def get_strategy(name="default", devices=None, num_devices=None):
    """Returns a ``tf.distribute.Strategy`` by name.

    Args:
        name: ``"default"`` (one device), ``"mirrored"`` (all local GPUs, the
            given ``devices``, or ``num_devices`` logical CPU devices when
            there is no GPU), ``"multi_worker"`` (the cluster in
            ``TF_CONFIG``) or ``"tpu"``.
        devices: optional list of device names for ``"mirrored"``.
        num_devices: optional number of local devices (replicas per worker).

    Raises:
        ValueError: unknown name, inconsistent devices, or missing TF_CONFIG.
    """
    validation.check_choice("strategy", name, STRATEGIES, plural="strategies")
    num_devices = validation.check_positive_int("num_devices", num_devices, allow_none=True)
    return STRATEGIES[name](devices=devices, num_devices=num_devices)


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

    Args:
        per_example: tensor ``[local_batch, ...]``, e.g. per-example losses.
        local_batch_size: rows this replica holds; defaults to
            ``tf.shape(per_example)[0]``.

    Returns:
        scalar tensor of ``per_example``'s dtype.
    """
    per_example = tf.convert_to_tensor(per_example)
    if local_batch_size is None:
        local_batch_size = tf.shape(per_example)[0]
    global_batch = tf.cast(local_batch_size, per_example.dtype) * tf.cast(
        num_replicas_in_sync(), per_example.dtype
    )
    return tf.reduce_sum(per_example) / global_batch


def all_replicas_mean(per_example):
    """Mean over the *global* batch of a per-example quantity, the same value on every replica.

    :func:`global_mean` summed across replicas (an all-reduce inside a
    replica context; the plain mean outside a strategy). For statistics that
    steer the training itself, such as the adaptive augmentation probability,
    which must not depend on how the batch is split.

    Args:
        per_example: tensor ``[local_batch, ...]``.

    Returns:
        scalar tensor of ``per_example``'s dtype.
    """
    local = global_mean(per_example)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return local
    return context.all_reduce(tf.distribute.ReduceOp.SUM, local)


def is_chief(strategy=None):
    """Whether this process should write files in (multi-worker) training.

    A process is the chief if its strategy has no cluster resolver (one
    machine, including ``MirroredStrategy``), or its task is ``chief``, or it
    is ``worker`` 0 in a cluster without a ``chief`` task. Everything else
    (other workers, evaluators, parameter servers) is not.

    Args:
        strategy: a ``tf.distribute.Strategy``; defaults to the current one.

    Returns:
        bool.
    """
    if strategy is None:
        strategy = tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True
    task_type = getattr(resolver, "task_type", None)
    task_id = getattr(resolver, "task_id", None)
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    if task_type != "worker" or task_id not in (0, None):
        return False
    try:
        cluster = resolver.cluster_spec().as_dict()
    except (ValueError, RuntimeError, AttributeError):
        cluster = {}
    return "chief" not in cluster


def _in_multi_worker_mode(strategy):
    extended = getattr(strategy, "extended", None)
    in_mode = getattr(extended, "_in_multi_worker_mode", None)
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(in_mode and in_mode())


def step_logs(logs):
    """Shapes a ``train_step``/``test_step`` result dict for Keras' cross-replica reduction.

    Keras 3 reduces step outputs under a multi-worker strategy with
    ``strategy.reduce("MEAN", value, axis=0)``, which fails on the scalar
    metric results every custom ``train_step`` returns ("Invalid reduction
    dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388).
    There each value is returned with shape ``[1]`` (the mean over axis 0
    gives the scalar back); elsewhere the dict is returned unchanged.
    """
    if not _in_multi_worker_mode(tf.distribute.get_strategy()):
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}
