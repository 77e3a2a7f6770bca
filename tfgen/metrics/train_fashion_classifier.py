"""Trains the Fashion-MNIST classifier behind :func:`tfgen.metrics.frechet_fashion_distance`.

    python -m tfgen.metrics.train_fashion_classifier --epochs 10 --seed 0

Trains :func:`tfgen.metrics.fashion_classifier.build_fashion_classifier` on
the 60k training images (random shifts of up to 2 pixels and horizontal
flips), reports the accuracy on the 10k test images, and writes the weights
(default: the file shipped in the package,
``tfgen/metrics/weights/fashion_classifier.weights.h5``) and a JSON report
with the accuracy beside them.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgen.metrics import fashion_classifier  # noqa: E402


def _augment(seed):
    def augment(images, labels):
        padded = tf.pad(images, [[0, 0], [2, 2], [2, 2], [0, 0]], constant_values=-1.0)
        crops = tf.image.random_crop(padded, tf.shape(images), seed=seed)
        flips = tf.image.random_flip_left_right(crops, seed=seed + 1)
        return flips, labels

    return augment


def train(epochs=10, batch_size=128, learning_rate=2e-3, seed=0, output=None, verbose=2):
    """Trains the classifier and saves its weights.

    Args:
        epochs: passes over the 60k training images.
        batch_size: images per step.
        learning_rate: initial Adam learning rate (cosine decay to 0).
        seed: seed of the weights, the shuffling and the augmentation.
        output: ``.weights.h5`` path (default: the shipped weights file).
        verbose: Keras ``fit`` verbosity.

    Returns:
        dict with ``test_accuracy``, ``train_seconds``, ``weights_path`` and
        ``weights_bytes``.
    """
    import tfgen.data

    output = output or fashion_classifier.WEIGHTS_FILE
    if not output.endswith(".weights.h5"):
        raise ValueError(f"Expected the output to end with .weights.h5, got {output!r}.")
    keras.utils.set_random_seed(seed)
    train_images, train_labels = tfgen.data.load_arrays("fashion_mnist", "train")
    test_images, test_labels = tfgen.data.load_arrays("fashion_mnist", "test")
    to_float = lambda x: x.astype("float32") / 127.5 - 1.0  # noqa: E731
    train_data = (
        tf.data.Dataset.from_tensor_slices((to_float(train_images), train_labels.astype("int32")))
        .shuffle(len(train_images), seed=seed)
        .batch(batch_size)
        .map(_augment(seed), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    test_data = tf.data.Dataset.from_tensor_slices((to_float(test_images), test_labels.astype("int32"))).batch(1000)

    model = fashion_classifier.build_fashion_classifier(seed=seed)
    steps = epochs * int(np.ceil(len(train_images) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(train_data, epochs=epochs, validation_data=test_data, verbose=verbose)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(test_data, verbose=0)

    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    # A compiled model's save_weights also stores Adam's two moment estimates
    # (3x the size): save from an uncompiled copy holding only the weights.
    weights_only = fashion_classifier.build_fashion_classifier(seed=seed)
    weights_only.set_weights(model.get_weights())
    weights_only.save_weights(output)
    report = {
        "test_accuracy": float(accuracy),
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "weights_path": output,
        "weights_bytes": os.path.getsize(output),
        "parameters": int(model.count_params()),
    }
    with open(output.replace(".weights.h5", ".json"), "w") as file:
        json.dump({k: v for k, v in report.items() if k != "weights_path"}, file, indent=2)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="weights file (default: the one shipped in tfgen)")
    args = parser.parse_args(argv)
    report = train(args.epochs, args.batch_size, args.learning_rate, args.seed, args.output)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
