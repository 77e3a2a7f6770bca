"""Benchmark: does mixed precision keep the quality of float32 training?

The evidence behind ``--precision auto`` (:func:`tfgen.precision.default_precision`):
trains the default VAE and the default DCGAN on full Fashion-MNIST once per
precision and seed, same settings otherwise, and reports

* VAE: the test ELBO (nats per image, the 10k test images binarised once
  with a fixed seed, single-sample estimate), and training images/s;
* GAN: the fast ``fashion_fd`` (Frechet distance on the shipped Fashion
  classifier's features) of 10k EMA samples against the 10k test images, and
  training images/s;

with, per precision, the mean and standard error over seeds and the
difference from float32 in units of the float32 seed-to-seed standard
deviation. Mixed precision "keeps quality" when its mean lies within the
spread that changing the seed alone gives in float32.

    python -m benchmarks.precision_quality                                   # 3 VAE / 2 GAN epochs, 2 seeds
    python -m benchmarks.precision_quality --models vae --vae-epochs 1 --seeds 1   # smoke run

Results go to stdout and, as JSON, to ``benchmarks/results/precision_quality.json``.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tfgen  # noqa: E402
from benchmarks.common import EpochTimer, machine, write_result  # noqa: E402
from benchmarks.vae_fashion_mnist import binarised_test_images  # noqa: E402
from tfgen import precision as tfgen_precision  # noqa: E402
from tfgen.metrics import frechet_fashion_distance  # noqa: E402
from tfgen.models.gan import GAN  # noqa: E402

TRAIN_IMAGES = 60000
# model -> (quality measure, True when larger is better)
MEASURES = {"vae": ("test_elbo_nats", True), "gan": ("fashion_fd", False)}


def train_vae(seed, args, test_images):
    data = tfgen.data.load("fashion_mnist", batch_size=args.batch_size, binarize=True, seed=seed)
    model = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=16, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    timer = EpochTimer()
    model.fit(data, epochs=args.vae_epochs, steps_per_epoch=args.steps_per_epoch, callbacks=[timer], verbose=0)
    quality = float(np.mean(model.elbo(test_images["vae"], seed=0)))
    return quality, timer


def train_gan(seed, args, test_images):
    data = tfgen.data.load("fashion_mnist", batch_size=args.batch_size, seed=seed, drop_remainder=True)
    model = GAN(input_shape=(28, 28, 1), latent_dim=64, seed=seed)
    model.compile(ema_decay=0.999)
    timer = EpochTimer()
    model.fit(data, epochs=args.gan_epochs, steps_per_epoch=args.steps_per_epoch, callbacks=[timer], verbose=0)
    fake = model.generate(args.eval_samples, seed=seed)
    quality = frechet_fashion_distance(test_images["gan"][: args.eval_samples], fake)
    return quality, timer


TRAINERS = {"vae": train_vae, "gan": train_gan}


def summarise(runs, higher_is_better):
    """Mean, standard error and speed per precision; the gap to float32 in float32 standard deviations."""
    summary = {}
    for precision, rows in runs.items():
        values = [row["quality"] for row in rows]
        summary[precision] = {
            "quality_mean": statistics.mean(values),
            "quality_standard_error": statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else None,
            "images_per_second_mean": statistics.mean(row["images_per_second"] for row in rows),
        }
    reference = runs.get("float32")
    if reference and len(reference) > 1:
        spread = statistics.stdev(row["quality"] for row in reference)
        base = summary["float32"]
        for precision, row in summary.items():
            gap = row["quality_mean"] - base["quality_mean"]
            row["gap_to_float32"] = gap
            row["gap_in_float32_seed_std"] = gap / spread if spread > 0 else None
            # Worse by more than 2 seed standard deviations counts as a loss of quality.
            worse = -gap if higher_is_better else gap
            row["keeps_quality"] = bool(worse <= 2 * spread)
            row["speedup_over_float32"] = row["images_per_second_mean"] / base["images_per_second_mean"]
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(TRAINERS), choices=sorted(TRAINERS))
    parser.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"],
                        choices=sorted(tfgen_precision.PRECISIONS))
    parser.add_argument("--seeds", type=int, default=2, help="number of seeds (0, 1, ...)")
    parser.add_argument("--vae-epochs", type=int, default=3)
    parser.add_argument("--gan-epochs", type=int, default=2)
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="limit every epoch (smoke runs)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--eval-samples", type=int, default=10000, help="GAN samples for fashion_fd")
    parser.add_argument("--output", default=os.path.join("benchmarks", "results", "precision_quality.json"))
    args = parser.parse_args(argv)

    started = time.time()
    load_before = machine()["load_average_1min"]
    test_images = {"vae": binarised_test_images(1), "gan": tfgen.data.load_arrays("fashion_mnist", "test")[0]}
    results = {}
    for model_name in args.models:
        epochs = args.vae_epochs if model_name == "vae" else args.gan_epochs
        images_per_epoch = (args.steps_per_epoch or TRAIN_IMAGES // args.batch_size) * args.batch_size
        runs = {precision: [] for precision in args.precisions}
        # Seeds outermost, precisions alternating: load on the machine hits every precision alike.
        for seed in range(args.seeds):
            for precision in args.precisions:
                keras.backend.clear_session()
                start = time.perf_counter()
                with tfgen_precision.policy_scope(precision):
                    quality, timer = TRAINERS[model_name](seed, args, test_images)
                row = {
                    "seed": seed,
                    "quality": quality,
                    "images_per_second": timer.steady_images_per_second(images_per_epoch),
                    "epoch_seconds": [round(s, 1) for s in timer.seconds],
                    "seconds": round(time.perf_counter() - start, 1),
                }
                runs[precision].append(row)
                print(f"{model_name} {precision} seed {seed}: {MEASURES[model_name][0]} {quality:.3f}, "
                      f"{row['images_per_second']:.0f} images/s, {row['seconds']:.0f} s", flush=True)
        results[model_name] = {
            "measure": MEASURES[model_name][0],
            "higher_is_better": MEASURES[model_name][1],
            "epochs": epochs,
            "runs": runs,
            "summary": summarise(runs, MEASURES[model_name][1]),
        }

    result = {
        "benchmark": "precision_quality",
        "command": "python -m benchmarks.precision_quality " + " ".join(argv if argv is not None else os.sys.argv[1:]),
        "settings": vars(args),
        "default_precision_here": tfgen_precision.default_precision(),
        "results": results,
        "load_average_1min_at_start": load_before,
        "seconds": round(time.time() - started, 1),
        "machine": machine(),
    }
    print()
    print("| model | measure | precision | mean | std. error | gap to float32 (seed stds) | images/s | speed-up |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for model_name, entry in results.items():
        for precision, row in entry["summary"].items():
            error = row["quality_standard_error"]
            gap = row.get("gap_in_float32_seed_std")
            print(f"| {model_name} | {entry['measure']} | {precision} | {row['quality_mean']:.2f} | "
                  f"{'' if error is None else f'{error:.2f}'} | {'' if gap is None else f'{gap:+.2f}'} | "
                  f"{row['images_per_second_mean']:.0f} | {row.get('speedup_over_float32', float('nan')):.2f} |")
    print(f"auto precision on this machine: {result['default_precision_here']}")
    return write_result(result, args.output)


if __name__ == "__main__":
    main()
