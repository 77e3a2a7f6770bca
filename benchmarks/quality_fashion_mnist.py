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

It runs in pieces: ``--train-only`` trains and saves the models (each with a
``.training.json`` beside it saying how it was trained) and stops;
``--vae-model`` / ``--gan-model LOSS=PATH`` evaluate saved models,
``--skip-vae`` / ``--skip-floor`` leave rows out, and ``--merge FILE...
--output FILE`` pools the rows of reports made with the same protocol
(refusing reports that differ in it or repeat a row)::

    python -m benchmarks.quality_fashion_mnist --gan-losses none --output vae.json
    python -m benchmarks.quality_fashion_mnist --train-only --skip-vae --gan-losses hinge
    python -m benchmarks.quality_fashion_mnist --skip-vae --skip-floor --gan-losses hinge \\
        --gan-model hinge=runs/quality_fashion_mnist/gan_hinge.keras --output hinge.json
    python -m benchmarks.quality_fashion_mnist --merge vae.json hinge.json --output all.json

``--label TEXT`` adds TEXT to the model rows' names (``GAN (hinge, 30 epochs)``),
so that a longer run of one loss can be merged beside its shorter one.
``--gan-resume LOSS=PATH`` trains a saved GAN on (its optimizers, EMA and step
counter restored) up to ``--gan-epochs`` epochs in all and saves it as a new
model, ``gan_LOSS_<epochs>epochs.keras``; the saved one is left as it was::

    python -m benchmarks.quality_fashion_mnist --train-only --skip-vae --gan-losses hinge --gan-epochs 60 \
        --gan-resume hinge=runs/quality_fashion_mnist/gan_hinge.keras

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

from benchmarks.common import check_mergeable, merge_files, write_result  # noqa: E402
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


def _parse_models(values, option="--gan-model"):
    models = {}
    for value in values or []:
        if "=" not in value:
            raise SystemExit(f"{option} expects LOSS=PATH, got {value!r}")
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


def epochs_done(gan, steps_per_epoch, path):
    """Whole epochs a saved GAN has trained for (its step counter over ``steps_per_epoch``)."""
    steps = int(gan.step_counter.numpy())
    if steps % steps_per_epoch:
        raise SystemExit(f"{path} has trained {steps} steps, not a whole number of epochs of {steps_per_epoch} "
                         "steps; pass the --steps-per-epoch and --batch-size it was trained with")
    return steps // steps_per_epoch


def resume_gan(args, loss, path):
    """Continues training the GAN saved at ``path`` (optimizer and EMA state included) up to
    ``--gan-epochs`` epochs in all; returns it, the epochs it had, and the seconds of this part."""
    data = tfgen.data.load("fashion_mnist", batch_size=args.batch_size, seed=args.seed, drop_remainder=True)
    gan = keras.models.load_model(path)
    if not isinstance(gan, GAN) or gan.loss_name != loss:
        raise SystemExit(f"--gan-resume {loss}={path}: expected a GAN trained with the {loss!r} loss, "
                         f"got {type(gan).__name__} with loss {getattr(gan, 'loss_name', None)!r}")
    done = epochs_done(gan, args.steps_per_epoch or int(data.cardinality()), path)
    if done >= args.gan_epochs:
        raise SystemExit(f"{path} has already trained {done} epochs; --gan-epochs {args.gan_epochs} must be more")
    start = time.perf_counter()
    gan.fit(data, initial_epoch=done, epochs=args.gan_epochs, steps_per_epoch=args.steps_per_epoch, verbose=2)
    return gan, done, time.perf_counter() - start


def resumed_training(previous, path, done, epochs, seconds):
    """The training description of a GAN trained ``done`` epochs (``previous``, read beside ``path``)
    and then ``epochs - done`` more in ``seconds``."""
    if "train_seconds" not in previous:
        return {"training": f"{epochs} epochs ({done} + {epochs - done} resumed)", "resumed_from": path}
    total = previous["train_seconds"] + seconds
    return {"training": f"{epochs} epochs ({done} + {epochs - done} resumed), {total / 60:.0f} min",
            "train_seconds": round(total, 1), "resumed_from": path}


def training_path(model_path):
    """Where the description of a saved model's training is kept (beside the model)."""
    return os.path.splitext(model_path)[0] + ".training.json"


def refuse_to_overwrite(path):
    """Stops with a clear message when ``path`` or its training description exists."""
    for target in (path, training_path(path)):
        if os.path.exists(target):
            raise SystemExit(f"{target} exists; pass it with --vae-model / --gan-model, or choose another --models-dir")


def save_model(model, path, training):
    """Saves ``model`` and its training description; refuses to overwrite either."""
    refuse_to_overwrite(path)
    model.save(path)
    with open(training_path(path), "w") as file:
        json.dump(training, file, indent=2)


def read_training(model_path):
    """The training description saved beside ``model_path``, or just the path when there is none."""
    try:
        with open(training_path(model_path)) as file:
            return json.load(file)
    except FileNotFoundError:
        return {"training": model_path}


def row_name(name, label):
    """``name`` with ``label`` added inside its brackets: ``row_name("GAN (hinge)", "30 epochs")`` is
    ``"GAN (hinge, 30 epochs)"``; a name without brackets gets them."""
    if not label:
        return name
    if name.endswith(")") and "(" in name:
        return f"{name[:-1]}, {label})"
    return f"{name} ({label})"


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


# Settings that make two reports' numbers comparable (the real set, the sample
# counts, the seed of the generated images and of the KID subsets).
_PROTOCOL_KEYS = ("num_images", "fashion_images", "seed")


def merge_reports(reports, sources=None):
    """Pools the rows of several ``quality_fashion_mnist`` reports into one report.

    Raises ``ValueError`` when a report is of another benchmark, when two differ
    in a protocol setting (``_PROTOCOL_KEYS``) or when two hold a row of the same
    model.
    """
    sources = list(sources or [f"report {i}" for i in range(len(reports))])
    check_mergeable(reports, sources, "quality_fashion_mnist", "settings", _PROTOCOL_KEYS)
    rows, seen = [], {}
    for report, source in zip(reports, sources):
        for row in report["rows"]:
            if row["model"] in seen:
                raise ValueError(f"{source} repeats the row {row['model']!r}, already in {seen[row['model']]}")
            seen[row["model"]] = source
            rows.append(dict(row, source=source))
    return {
        "benchmark": "quality_fashion_mnist",
        "settings": {key: reports[0]["settings"].get(key) for key in _PROTOCOL_KEYS},
        "rows": rows,
        "merged_from": {source: report["settings"] for report, source in zip(reports, sources)},
        "versions": reports[0].get("versions"),
        "machine": reports[0].get("machine"),
    }


def markdown(rows, args):
    lines = [
        f"| model | FID ({args['num_images']} vs test) | KID x 1000 | fashion_fd ({args['fashion_images']}) | training |",
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
    parser.add_argument("--label", default=None,
                        help="added to every model row's name, e.g. '30 epochs' gives 'GAN (hinge, 30 epochs)', "
                             "so that reports of differently trained models of one kind can be merged")
    parser.add_argument("--skip-vae", action="store_true")
    parser.add_argument("--skip-floor", action="store_true", help="leave out the training-set row")
    parser.add_argument("--train-only", action="store_true",
                        help="train and save the models (in --models-dir), then stop before any features")
    parser.add_argument("--vae-model", default=None, help="evaluate this .keras VAE instead of training one")
    parser.add_argument("--gan-model", action="append", help="LOSS=PATH: evaluate this .keras GAN for LOSS")
    parser.add_argument("--gan-resume", action="append",
                        help="LOSS=PATH: train this saved GAN on, up to --gan-epochs epochs in all, instead of "
                             "training one from scratch (saved as a new model in --models-dir)")
    parser.add_argument("--models-dir", default=os.path.join("runs", "quality_fashion_mnist"))
    parser.add_argument("--output", default=os.path.join("benchmarks", "results", "quality_fashion_mnist.json"))
    parser.add_argument("--merge", nargs="+", metavar="FILE",
                        help="pool the rows of these reports into --output (no training, no features)")
    args = parser.parse_args(argv)
    if args.merge:
        report = merge_files(args.merge, args.output, merge_reports)[1]
        print(markdown(report["rows"], report["settings"]) + "\n")
        write_result(report, args.output)
        return
    losses = [] if args.gan_losses == "none" else [loss.strip() for loss in args.gan_losses.split(",") if loss.strip()]
    for loss in losses:
        if loss not in GAN_LOSSES:
            raise SystemExit(f"Unknown GAN loss {loss!r}. Valid losses: {sorted(GAN_LOSSES)}")
    gan_models = _parse_models(args.gan_model)
    gan_resume = _parse_models(args.gan_resume, "--gan-resume")
    for loss in set(gan_models) & set(gan_resume):
        raise SystemExit(f"--gan-model and --gan-resume both name the {loss!r} GAN; pass one of them")
    count = max(args.num_images, args.fashion_images)
    os.makedirs(args.models_dir, exist_ok=True)

    started = time.perf_counter()
    # Models first (train or load), so that a --train-only run never touches Inception.
    models = []
    if not args.skip_vae:
        models.append((row_name("VAE (Bernoulli, latent 16)", args.label), "vae", args.vae_model, lambda: train_vae(args),
                       f"{args.vae_epochs} epochs"))
    for loss in losses:
        if loss in gan_resume:
            source = gan_resume[loss]
            models.append((row_name(f"GAN ({loss})", args.label), f"gan_{loss}_{args.gan_epochs}epochs", None,
                           lambda loss=loss, source=source: resume_gan(args, loss, source), source))
            continue
        models.append((row_name(f"GAN ({loss})", args.label), f"gan_{loss}", gan_models.get(loss), lambda loss=loss: train_gan(args, loss),
                       f"{args.gan_epochs} epochs"))
    for name, stem, path, train, epochs in models:
        if not path:  # checked before hours of training, not after
            refuse_to_overwrite(os.path.join(args.models_dir, f"{stem}.keras"))
    loaded = []
    for name, stem, path, train, epochs in models:
        if path:
            model, training = keras.models.load_model(path), read_training(path)
        else:
            result = train()
            path = os.path.join(args.models_dir, f"{stem}.keras")
            if len(result) == 3:  # resumed: ``epochs`` names the saved GAN it continued
                model, done, seconds = result
                training = resumed_training(read_training(epochs), epochs, done, args.gan_epochs, seconds)
            else:
                model, seconds = result
                training = {"training": f"{epochs}, {seconds / 60:.0f} min", "train_seconds": round(seconds, 1)}
            save_model(model, path, training)
            print(f"saved {path} ({training['training']})", flush=True)
        loaded.append((name, model, training))
    if args.train_only:
        return

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
        write_result(report, args.output)  # after every row: hours of features are never lost

    if not args.skip_floor:
        floor = {
            name: reference_features("fashion_mnist", "train", n, name)["activations"]
            for name, n in (("inception", args.num_images), ("fashion_classifier", args.fashion_images))
        }
        record(scores("training set (floor)", floor["inception"], floor["fashion_classifier"], real, args,
                      training="first N training images"))

    for name, model, training in loaded:
        images = np.asarray(model.generate(count, seed=args.seed))
        record(score_generated(name, images, real, args, **training))

    print()
    print(markdown(report["rows"], vars(args)))
    print(f"\n{len(report['rows'])} rows in {args.output} ({report['seconds'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
