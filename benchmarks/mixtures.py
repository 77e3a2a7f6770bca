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
    python -m benchmarks.mixtures --losses hinge --seeds 4 --first-seed 1 --output part.json
    python -m benchmarks.mixtures --merge a.json part.json --output all.json   # one table

Runs can be split over processes or sessions (each writes its own JSON) and
merged: ``--merge`` pools the runs of every (data, loss) pair over the files,
refuses files whose settings differ or that repeat a seed, and recomputes the
summaries. On a 2-core CPU, two processes with ``TF_NUM_INTRAOP_THREADS=1``
use the machine at least as well as one process with both cores (these
MLPs are too small for two threads to help much).

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

from benchmarks.common import check_mergeable, merge_files  # noqa: E402
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


def markdown_table(results):
    lines = [
        "| data | loss | seeds | modes captured | high quality (%) | KL to uniform "
        "| worst seed: modes, HQ % | target met |",
        "|---|---|---:|---|---|---|---|---|",
    ]
    for dataset, by_loss in results.items():
        num_modes = len(mixtures.mixture_means(dataset))
        for loss, entry in by_loss.items():
            s = entry["summary"]
            worst = min(entry["runs"], key=lambda run: (run["modes_captured"], run["high_quality_fraction"]))
            lines.append(
                f"| {dataset} | {loss} | {len(entry['runs'])} "
                f"| {_format(s['modes_captured_mean'], s['modes_captured_standard_error'])} / {num_modes} "
                f"| {_format(s['high_quality_fraction_mean'], s['high_quality_fraction_standard_error'], 100)} "
                f"| {_format(s['kl_to_uniform_mean'], s['kl_to_uniform_standard_error'], digits=3)} "
                f"| {worst['modes_captured']}, {100 * worst['high_quality_fraction']:.1f} "
                f"| {'yes' if s['meets_target'] else 'no'} |"
            )
    return "\n".join(lines)


# Options that change what a run measures: files merged together must agree on them.
_PROTOCOL_KEYS = (
    "steps", "batch_size", "latent_dim", "hidden_units", "learning_rate", "beta_1", "beta_2",
    "r1_penalty", "ema_decay", "num_samples",
)


def merge_reports(reports, sources=None):
    """Pools the runs of several ``mixtures`` reports into one ``results`` dict.

    Raises ``ValueError`` when two reports differ in a protocol setting (steps,
    network sizes, optimiser, penalties, sample count) or hold the same seed of
    the same (data, loss) pair.
    """
    sources = list(sources or [f"report {i}" for i in range(len(reports))])
    check_mergeable(reports, sources, "mixtures", "config", _PROTOCOL_KEYS)
    results = {}
    for report, source in zip(reports, sources):
        for dataset, by_loss in report["results"].items():
            for loss, entry in by_loss.items():
                pooled = results.setdefault(dataset, {}).setdefault(
                    loss, {"settings": entry["settings"], "runs": [], "sources": []}
                )
                seen = {run["seed"] for run in pooled["runs"]}
                for run in entry["runs"]:
                    if run["seed"] in seen:
                        raise ValueError(
                            f"{source} repeats seed {run['seed']} of {dataset}/{loss}, "
                            f"already in {', '.join(pooled['sources'])}; each seed may appear once"
                        )
                pooled["runs"].extend(entry["runs"])
                pooled["sources"].append(source)
    for dataset, by_loss in results.items():
        num_modes = len(mixtures.mixture_means(dataset))
        for entry in by_loss.values():
            entry["runs"].sort(key=lambda run: run["seed"])
            entry["summary"] = summarise(entry["runs"], num_modes, TARGETS[dataset])
    return results


def _report(results, config, **extra):
    return {
        "benchmark": "mixtures",
        "config": config,
        "targets_high_quality_fraction": TARGETS,
        "published_best_pacgan": {k: {"modes": m, "high_quality_fraction": q} for k, (m, q) in PUBLISHED.items()},
        "results": results,
        "markdown": markdown_table(results),
        **extra,
    }


def _write(report, path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as file:
        json.dump(report, file, indent=2, default=float)


def write_report(results, args, start):
    """Writes the report of the runs so far (complete or not) to ``args.output``; returns it."""
    report = _report(
        results,
        vars(args),
        seconds=time.perf_counter() - start,
        tensorflow=tf.__version__,
        keras=keras.__version__,
        platform=platform.platform(),
    )
    _write(report, args.output)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--losses", nargs="+", default=list(LOSS_SETTINGS), choices=sorted(LOSS_SETTINGS))
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed, first-seed + 1, ...")
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
    parser.add_argument("--merge", nargs="+", metavar="REPORT", help="merge these reports into --output; train nothing")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    if args.first_seed < 0:
        parser.error(f"--first-seed must be 0 or more, got {args.first_seed}")
    if args.merge:
        return merge_main(args)

    start = time.perf_counter()
    results = {}
    for dataset in args.datasets:
        num_modes = len(mixtures.mixture_means(dataset))
        results[dataset] = {}
        for loss in args.losses:
            runs = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
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
    table = markdown_table(results)
    print()
    print(table)
    report = write_report(results, args, start)
    print(f"\nWrote {args.output}")
    return report


def merge_main(args):
    """``--merge``: pools the given reports, prints the table and writes ``--output``."""
    reports, results = merge_files(args.merge, args.output, merge_reports)
    report = _report(
        results,
        {key: reports[0]["config"].get(key) for key in _PROTOCOL_KEYS},  # what every merged file shares
        merged_from=list(args.merge),
        platforms=sorted({r.get("platform", "unknown") for r in reports}),
    )
    _write(report, args.output)
    print(report["markdown"])
    print(f"\nWrote {args.output}")
    return report


if __name__ == "__main__":
    main()
