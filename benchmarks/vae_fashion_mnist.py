"""Benchmark: the convolutional VAE on full Fashion-MNIST.

Trains ``tfgen.VAE`` (default CLI settings: latent_dim 16, Bernoulli
likelihood on dynamically binarised images) on the 60k training images and
prints, for the 10k test images binarised once with a fixed seed:

* the test ELBO (nats per image, single-sample estimate averaged over the set),
* the IWAE estimate of log p(x) with k importance samples (default 1000),
* training images per second (steady state: epochs after the first) and wall time.

    python -m benchmarks.vae_fashion_mnist --epochs 10 --iwae-samples 1000

Results go to stdout and, as JSON, to ``benchmarks/results/vae_fashion_mnist.json``.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tfgen  # noqa: E402
from benchmarks.common import EpochTimer, machine  # noqa: E402


def binarised_test_images(seed):
    batches = tfgen.data.load("fashion_mnist", split="test", batch_size=1000, shuffle=False, binarize=True, seed=seed)
    return np.concatenate([batch.numpy() for batch in batches])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--iwae-samples", type=int, default=1000)
    parser.add_argument("--test-images", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=os.path.join("benchmarks", "results", "vae_fashion_mnist.json"))
    parser.add_argument("--save-model", default=os.path.join("benchmarks", "output", "vae_fashion_mnist.keras"),
                        help="where the trained model is saved (reuse it with --model)")
    parser.add_argument("--model", default=None, help="evaluate this trained .keras model instead of training one")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    train = tfgen.data.load("fashion_mnist", batch_size=args.batch_size, binarize=True, seed=args.seed)
    test_images = binarised_test_images(args.seed + 1)[: args.test_images]
    if args.model:
        vae = keras.models.load_model(args.model)
        train_seconds = images_per_second = None
        epochs = int(vae.optimizer.iterations.numpy()) * args.batch_size // 60000
    else:
        vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=args.latent_dim, seed=args.seed)
        vae.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
        timer = EpochTimer()
        vae.fit(train, epochs=args.epochs, callbacks=[timer], verbose=2)
        train_seconds = sum(timer.seconds)
        images_per_second = timer.steady_images_per_second(60000)
        epochs = args.epochs
        os.makedirs(os.path.dirname(args.save_model) or ".", exist_ok=True)
        vae.save(args.save_model)

    elbo = float(np.mean(vae.elbo(test_images, seed=args.seed)))
    iwae_start = time.perf_counter()
    iwae = float(np.mean(vae.log_likelihood(test_images, num_samples=args.iwae_samples, seed=args.seed, batch_size=4096)))
    iwae_seconds = time.perf_counter() - iwae_start
    result = {
        "benchmark": "vae_fashion_mnist",
        "epochs": epochs,
        "model": args.model or args.save_model,
        "batch_size": args.batch_size,
        "latent_dim": args.latent_dim,
        "test_images": int(len(test_images)),
        "test_elbo_nats": elbo,
        "iwae_samples": args.iwae_samples,
        "test_iwae_log_likelihood_nats": iwae,
        "train_images_per_second": images_per_second,
        "train_seconds": train_seconds,
        "iwae_seconds": iwae_seconds,
        "wall_seconds": time.perf_counter() - start,
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(result, handle, indent=2)
    return result


if __name__ == "__main__":
    main()
