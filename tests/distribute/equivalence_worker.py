"""Trains a model for a few steps on N logical CPU devices; saves its weights.

Run in its own process by tests/distribute/test_equivalence.py, once per
replica count: logical devices and op determinism must be set before
TensorFlow initialises, and one process cannot host MirroredStrategies of
different sizes (their collective groups clash).

    python tests/distribute/equivalence_worker.py vae 2 /tmp/weights.npz

Prints one JSON line: final logs, whether training changed the weights, and
each replica's rows of one draw of training noise.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfgen  # noqa: E402
from tfgen import distribute  # noqa: E402
from tfgen import random as tfgen_random  # noqa: E402

GLOBAL_BATCH = 16
STEPS = 3


def vae_case():
    images = np.random.default_rng(0).uniform(-1, 1, (GLOBAL_BATCH * STEPS, 16, 16, 1)).astype("float32")

    def build():
        model = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, base_filters=8, hidden_units=32, seed=7)
        model.compile(optimizer="adam")
        return model

    return images, build


def gan_case():
    from tfgen.models.gan import GAN

    images = np.random.default_rng(0).uniform(-1, 1, (GLOBAL_BATCH * STEPS, 28, 28, 1)).astype("float32")

    def build():
        model = GAN(input_shape=(28, 28, 1), latent_dim=8, seed=7, **GAN_NETWORK_ARGS)
        model.compile(gradient_penalty=10.0, ema_decay=0.9)
        return model

    return images, build


GAN_NETWORK_ARGS = {"base_filters": 8}
CASES = {"vae": vae_case, "gan": gan_case}


def train(build, images, strategy):
    with strategy.scope():
        model = build()
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(GLOBAL_BATCH)
    history = model.fit(dataset, epochs=1, verbose=0)
    return model, {k: float(v[-1]) for k, v in history.history.items()}


def replica_noise(strategy):
    """Each replica's rows of one global batch of noise."""

    def draw():
        local = GLOBAL_BATCH // strategy.num_replicas_in_sync
        return tfgen_random.replica_normal(local, (3,), seed=7, step=5, stream="posterior")

    per_replica = strategy.run(tf.function(draw))
    return [t.numpy() for t in strategy.experimental_local_results(per_replica)]


def main(kind, num_replicas, output):
    devices = distribute.split_cpu(num_replicas)
    tf.config.experimental.enable_op_determinism()
    images, build = CASES[kind]()
    if num_replicas == 1:
        strategy = tf.distribute.get_strategy()
    else:
        strategy = tf.distribute.MirroredStrategy(devices=devices)
    model, logs = train(build, images, strategy)
    initial = build().get_weights()
    final = model.get_weights()
    np.savez(output, *final)
    print(json.dumps({
        "kind": kind,
        "num_replicas": strategy.num_replicas_in_sync,
        "logs": logs,
        "weights_changed": bool(any(np.max(np.abs(a - b)) > 0 for a, b in zip(initial, final) if a.size)),
        "replica_noise": [n.tolist() for n in replica_noise(strategy)],
    }))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
