"""Benchmark: mode coverage of the 2-D MLP GAN on the ring8 and grid25 mixtures.

For every data set and GAN loss, trains ``tfgen.models.gan.GAN`` on 2-D points
with several seeds, draws 2,500 samples and reports (mean +- standard error
over seeds) the modes captured, the fraction of high-quality samples (within
3 standard deviations of a mode) and the KL divergence of the high-quality
samples' mode histogram from uniform (:func:`tfgen.metrics.mode_coverage`).

Published best (PacGAN, Lin et al. 2018, 3-std criterion): ring8 7.9 / 8 modes,
95.6% high quality; grid25 24.8 / 25 modes, 93.6% high quality. Our target:
every mode captured for every seed with >= 98% (ring8) / >= 95% (grid25)
high-quality samples.

Default setting (same for every loss and both data sets): MLPs of 4 x 256
units for both networks (ReLU generator with a linear output, LeakyReLU
discriminator), latent_dim 16, batch 512, Adam(beta_1=0.5) with the learning
rate cosine-decayed from 1e-3 to 0 over 16,000 steps, R1 penalty gamma = 0.3
(WGAN-GP lambda = 10 instead for the Wasserstein loss), EMA generator with
decay 0.999 for sampling. The R1 penalty is what makes every mode appear; the
annealed learning rate is what pulls samples into the narrow modes (ring8's
standard deviation is 0.01 on a unit circle).

    python -m benchmarks.mixtures                         # full run: 5 seeds, all losses
    python -m benchmarks.mixtures --seeds 1 --steps 500   # smoke test

Results go to stdout as a Markdown table and, as JSON, to
``benchmarks/results/mixtures.json``.
"""

import argparse
import json
import math
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfgen.data  # noqa: E402
from tfgen.data import mixtures  # noqa: E402
from tfgen.metrics import mode_coverage  # noqa: E402
from tfgen.models.gan import GAN  # noqa: E402

DATASETS = ("ring8", "grid25")
TARGETS = {"ring8": 0.98, "grid25": 0.95}  # high-quality fraction, with every mode captured
PUBLISHED = {"ring8": (7.9, 0.956), "grid25": (24.8, 0.936)}  # PacGAN (modes, high quality)

# compile() settings per loss, on top of --r1-penalty: the Wasserstein critic
# uses the WGAN-GP gradient penalty (lambda = 10) instead of R1.
LOSS_SETTINGS = {
    "non_saturating": {},
    "hinge": {},
    "wasserstein": {"gradient_penalty": 10.0, "r1_penalty": 0.0},
    "least_squares": {},
    "minimax": {},
}


def train_and_evaluate(dataset, loss, seed, args):
    """Trains one GAN and returns its mode-coverage results (EMA and raw generator)."""
    keras.backend.clear_session()
    data = tfgen.data.load(dataset, batch_size=args.batch_size, seed=seed, repeat=True, drop_remainder=True)
    gan = GAN(input_shape=(2,), latent_dim=args.latent_dim, hidden_units=tuple(args.hidden_units), seed=seed)

    def optimizer():
        # Cosine decay to 0: the annealed end of training is what pulls the
        # samples into the narrow modes (std 0.01 on ring8).
        schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, decay_steps=args.steps)
        return keras.optimizers.Adam(schedule, beta_1=args.beta_1, beta_2=args.beta_2)

    settings = {"r1_penalty": args.r1_penalty, **LOSS_SETTINGS[loss]}
    gan.compile(
        d_optimizer=optimizer(),
        g_optimizer=optimizer(),
        loss=loss,
        ema_decay=args.ema_decay or None,
        steps_per_execution=args.steps_per_execution,
        **settings,
    )
    start = time.perf_counter()
    gan.fit(data, epochs=1, steps_per_epoch=args.steps, verbose=0)
    seconds = time.perf_counter() - start
    means, std = mixtures.mixture_means(dataset), mixtures.mixture_std(dataset)
    result = mode_coverage(gan.generate(args.num_samples, seed=seed + 1).numpy(), means, std)
    result["raw_generator"] = mode_coverage(
        gan.generate(args.num_samples, seed=seed + 1, use_ema=False).numpy(), means, std
    )
    result.update({"seed": seed, "train_seconds": seconds})
    return result


def _mean_and_standard_error(values):
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return float(values.mean()), float("nan")
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


def summarise(runs, num_modes, target):
    summary = {}
    for key in ("modes_captured", "high_quality_fraction", "kl_to_uniform"):
        summary[key + "_mean"], summary[key + "_standard_error"] = _mean_and_standard_error(
            [run[key] for run in runs]
        )
    summary["seeds_with_every_mode"] = sum(run["modes_captured"] == num_modes for run in runs)
    summary["meets_target"] = all(
        run["modes_captured"] == num_modes and run["high_quality_fraction"] >= target for run in runs
    )
    return summary


def _format(mean, standard_error, scale=1.0, digits=1):
    text = f"{mean * scale:.{digits}f}"
    if not math.isnan(standard_error):
        text += f" ± {standard_error * scale:.{digits}f}"
    return text


def markdown_table(results, num_seeds):
    lines = [
        "| data | loss | modes captured | high quality (%) | KL to uniform | seeds with all modes | target met |",
        "|---|---|---|---|---|---|---|",
    ]
    for dataset, by_loss in results.items():
        num_modes = len(mixtures.mixture_means(dataset))
        for loss, entry in by_loss.items():
            s = entry["summary"]
            lines.append(
                f"| {dataset} | {loss} "
                f"| {_format(s['modes_captured_mean'], s['modes_captured_standard_error'])} / {num_modes} "
                f"| {_format(s['high_quality_fraction_mean'], s['high_quality_fraction_standard_error'], 100)} "
                f"| {_format(s['kl_to_uniform_mean'], s['kl_to_uniform_standard_error'], digits=3)} "
                f"| {s['seeds_with_every_mode']} / {num_seeds} | {'yes' if s['meets_target'] else 'no'} |"
            )
    return "\n".join(lines)


def write_report(results, args, start):
    """Writes the report of the runs so far (complete or not) to ``args.output``; returns it."""
    report = {
        "benchmark": "mixtures",
        "config": vars(args),
        "targets_high_quality_fraction": TARGETS,
        "published_best_pacgan": {k: {"modes": m, "high_quality_fraction": q} for k, (m, q) in PUBLISHED.items()},
        "results": results,
        "markdown": markdown_table(results, args.seeds),
        "seconds": time.perf_counter() - start,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "platform": platform.platform(),
    }
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w") as file:
        json.dump(report, file, indent=2, default=float)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--losses", nargs="+", default=list(LOSS_SETTINGS), choices=sorted(LOSS_SETTINGS))
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0, 1, ...)")
    parser.add_argument("--steps", type=int, default=16000, help="train steps (generator updates)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--hidden-units", type=int, nargs="+", default=[256, 256, 256, 256])
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="initial, cosine-decayed to 0")
    parser.add_argument("--beta-1", type=float, default=0.5)
    parser.add_argument("--beta-2", type=float, default=0.999)
    parser.add_argument("--r1-penalty", type=float, default=0.3, help="gamma (not for wasserstein)")
    parser.add_argument("--ema-decay", type=float, default=0.999, help="0 disables the EMA generator")
    parser.add_argument("--steps-per-execution", type=int, default=20)
    parser.add_argument("--num-samples", type=int, default=2500)
    parser.add_argument("--output", default=os.path.join("benchmarks", "results", "mixtures.json"))
    args = parser.parse_args(argv)

    start = time.perf_counter()
    results = {}
    for dataset in args.datasets:
        num_modes = len(mixtures.mixture_means(dataset))
        results[dataset] = {}
        for loss in args.losses:
            runs = []
            for seed in range(args.seeds):
                run = train_and_evaluate(dataset, loss, seed, args)
                runs.append(run)
                print(
                    f"{dataset} {loss} seed {seed}: {run['modes_captured']}/{num_modes} modes, "
                    f"{100 * run['high_quality_fraction']:.1f}% high quality, KL {run['kl_to_uniform']:.3f} "
                    f"(raw generator: {run['raw_generator']['modes_captured']} modes, "
                    f"{100 * run['raw_generator']['high_quality_fraction']:.1f}%), {run['train_seconds']:.0f} s",
                    flush=True,
                )
                # Rewritten after every run: an interrupted benchmark keeps what it finished.
                results[dataset][loss] = {
                    "settings": {"r1_penalty": args.r1_penalty, **LOSS_SETTINGS[loss]},
                    "runs": runs,
                    "summary": summarise(runs, num_modes, TARGETS[dataset]),
                }
                write_report(results, args, start)
    table = markdown_table(results, args.seeds)
    print()
    print(table)
    report = write_report(results, args, start)
    print(f"\nWrote {args.output}")
    return report


if __name__ == "__main__":
    main()
