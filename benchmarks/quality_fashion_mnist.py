"""Benchmark: sample quality on Fashion-MNIST (FID, KID, fast Fashion distance).

Compares, with the 10k test images as the real set:

* the training set itself: the first N training images (the floor: what a
  perfect model's samples would score with this N);
* ``tfgen.VAE`` (the CLI's defaults: latent_dim 16, Bernoulli likelihood on
  dynamically binarised images; samples are the decoder's mean images);
* ``tfgen.models.gan.GAN`` (DCGAN networks, latent_dim 64, Adam(2e-4, 0.5),
  EMA of the generator's weights) for every GAN loss in ``--gan-losses``
  (``wasserstein`` with a gradient penalty of 10).

For each: FID and KID (InceptionV3 pool-3 features of N generated vs the
first N test images; KID as mean +- std over 100 subsets of 1000) and the
fast ``fashion_fd`` (the shipped classifier's features, ``--fashion-images``
images). Real-image features are cached (``$TFGEN_CACHE_DIR``).

    python -m benchmarks.quality_fashion_mnist                                   # full: N = 10000
    python -m benchmarks.quality_fashion_mnist --num-images 2000 --gan-losses hinge --gan-epochs 5

Inception is slow on a CPU (about 5-20 images/s on 2 cores): the full run
extracts features of 10k images per row. Trained models go to
``--models-dir`` (default ``runs/quality_fashion_mnist``, not versioned), and can be reused
with ``--vae-model`` / ``--gan-model LOSS=PATH``. Results go to stdout as a
Markdown table and, as JSON (rewritten after every row), to
``benchmarks/results/quality_fashion_mnist.json``.
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfgen  # noqa: E402
from tfgen.losses import GAN_LOSSES  # noqa: E402
from tfgen.metrics import extract_features, reference_features  # noqa: E402
from tfgen.metrics.frechet import frechet_distance_from_activations  # noqa: E402
from tfgen.metrics.kernel import kernel_distance_from_activations  # noqa: E402
from tfgen.models.gan import GAN  # noqa: E402  (also registers GAN for keras.models.load_model)

# Per-loss compile settings; every GAN also keeps an EMA of its generator.
GAN_COMPILE = {
    "non_saturating": {},
    "minimax": {},
    "hinge": {},
    "least_squares": {},
    "wasserstein": {"gradient_penalty": 10.0},
}


def _parse_models(values):
    models = {}
    for value in values or []:
        if "=" not in value:
            raise SystemExit(f"--gan-model expects LOSS=PATH, got {value!r}")
        loss, path = value.split("=", 1)
        models[loss] = path
    return models


def train_vae(args):
    data = tfgen.data.load("fashion_mnist", batch_size=args.batch_size, binarize=True, seed=args.seed)
    vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=16, seed=args.seed)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = time.perf_counter()
    vae.fit(data, epochs=args.vae_epochs, steps_per_epoch=args.steps_per_epoch, verbose=2)
    return vae, time.perf_counter() - start


def train_gan(args, loss):
    data = tfgen.data.load("fashion_mnist", batch_size=args.batch_size, seed=args.seed, drop_remainder=True)
    gan = GAN(input_shape=(28, 28, 1), latent_dim=64, seed=args.seed)
    gan.compile(loss=loss, ema_decay=args.ema_decay, **GAN_COMPILE[loss])
    start = time.perf_counter()
    gan.fit(data, epochs=args.gan_epochs, steps_per_epoch=args.steps_per_epoch, verbose=2)
    return gan, time.perf_counter() - start


def scores(name, inception_fake, fashion_fake, real, args, **extra):
    kid, kid_std = kernel_distance_from_activations(real["inception"], inception_fake, seed=args.seed, return_std=True)
    row = {
        "model": name,
        "fid": frechet_distance_from_activations(real["inception"], inception_fake),
        "kid": kid,
        "kid_std": kid_std,
        "fashion_fd": frechet_distance_from_activations(real["fashion_classifier"], fashion_fake),
        **extra,
    }
    print(f"{name}: FID {row['fid']:.2f}  KID {kid:.4f} +- {kid_std:.4f}  fashion_fd {row['fashion_fd']:.3f}", flush=True)
    return row


def score_generated(name, images, real, args, **extra):
    start = time.perf_counter()
    inception = extract_features(images[: args.num_images], "inception")
    fashion = extract_features(images[: args.fashion_images], "fashion_classifier")
    return scores(name, inception, fashion, real, args, feature_seconds=round(time.perf_counter() - start, 1), **extra)


def markdown(rows, args):
    lines = [
        f"| model | FID ({args.num_images} vs test) | KID x 1000 | fashion_fd ({args.fashion_images}) | training |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        training = row.get("training", "")
        lines.append(
            f"| {row['model']} | {row['fid']:.2f} | {1000 * row['kid']:.2f} +- {1000 * row['kid_std']:.2f} "
            f"| {row['fashion_fd']:.3f} | {training} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-images", type=int, default=10000, help="images per set for FID/KID")
    parser.add_argument("--fashion-images", type=int, default=10000, help="images per set for fashion_fd")
    parser.add_argument("--vae-epochs", type=int, default=10)
    parser.add_argument("--gan-epochs", type=int, default=20)
    parser.add_argument("--gan-losses", default=",".join(GAN_COMPILE), help="comma-separated GAN losses (or 'none')")
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="limit every epoch to this many batches")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-vae", action="store_true")
    parser.add_argument("--vae-model", default=None, help="evaluate this .keras VAE instead of training one")
    parser.add_argument("--gan-model", action="append", help="LOSS=PATH: evaluate this .keras GAN for LOSS")
    parser.add_argument("--models-dir", default=os.path.join("runs", "quality_fashion_mnist"))
    parser.add_argument("--output", default=os.path.join("benchmarks", "results", "quality_fashion_mnist.json"))
    args = parser.parse_args(argv)
    losses = [] if args.gan_losses == "none" else [loss.strip() for loss in args.gan_losses.split(",") if loss.strip()]
    for loss in losses:
        if loss not in GAN_LOSSES:
            raise SystemExit(f"Unknown GAN loss {loss!r}. Valid losses: {sorted(GAN_LOSSES)}")
    gan_models = _parse_models(args.gan_model)
    count = max(args.num_images, args.fashion_images)
    os.makedirs(args.models_dir, exist_ok=True)

    started = time.perf_counter()
    real = {
        name: reference_features("fashion_mnist", "test", n, name)["activations"]
        for name, n in (("inception", args.num_images), ("fashion_classifier", args.fashion_images))
    }
    report = {
        "benchmark": "quality_fashion_mnist",
        "settings": vars(args),
        "rows": [],
        "versions": {"tfgen": tfgen.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
                     "python": platform.python_version()},
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
    }

    def record(row):
        report["rows"].append(row)
        report["seconds"] = round(time.perf_counter() - started, 1)
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as file:
            json.dump(report, file, indent=2)

    floor = {
        name: reference_features("fashion_mnist", "train", n, name)["activations"]
        for name, n in (("inception", args.num_images), ("fashion_classifier", args.fashion_images))
    }
    record(scores("training set (floor)", floor["inception"], floor["fashion_classifier"], real, args,
                  training="first N training images"))

    if not args.skip_vae:
        if args.vae_model:
            vae, seconds, training = keras.models.load_model(args.vae_model), None, args.vae_model
        else:
            vae, seconds = train_vae(args)
            vae.save(os.path.join(args.models_dir, "vae.keras"))
            training = f"{args.vae_epochs} epochs, {seconds / 60:.0f} min"
        images = np.asarray(vae.generate(count, seed=args.seed))
        record(score_generated("VAE (Bernoulli, latent 16)", images, real, args, training=training, train_seconds=seconds))

    for loss in losses:
        if loss in gan_models:
            gan, seconds, training = keras.models.load_model(gan_models[loss]), None, gan_models[loss]
        else:
            gan, seconds = train_gan(args, loss)
            gan.save(os.path.join(args.models_dir, f"gan_{loss}.keras"))
            training = f"{args.gan_epochs} epochs, {seconds / 60:.0f} min"
        images = np.asarray(gan.generate(count, seed=args.seed))
        record(score_generated(f"GAN ({loss})", images, real, args, training=training, train_seconds=seconds))

    print()
    print(markdown(report["rows"], args))
    print(f"\nwrote {args.output} ({report['seconds'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
