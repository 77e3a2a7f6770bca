"""Benchmark: does ``tfgen tune`` find a GAN that beats the default at the same number of epochs?

1. The search: ``tfgen tune gan`` on Fashion-MNIST with the default space
   (``tfgen tune gan --print-space``), ``--budget TRIALSxEPOCHS``, the
   default objective (``fashion_fd`` of ``--objective-samples`` samples
   against as many training images, after every epoch) and Hyperband
   pruning, ``--jobs`` processes side by side.
2. The default: ``tfgen train gan`` with every default, for the same epochs,
   once per ``--baseline-seeds`` seed.
3. Both judged alike afterwards: ``fashion_fd`` of 10,000 samples against
   the 10,000 test images, which the search never saw (its objective used
   fewer samples and training images, so the best trial is re-measured, not
   just read off the search).

Every step resumes when the same command runs again (the search continues,
finished baselines and evaluations are read back from their folders).

    python -m benchmarks.tune_gan_fashion_mnist                              # 16x3, 2 jobs, 2 default seeds
    python -m benchmarks.tune_gan_fashion_mnist --budget 2x1 --num-examples 1024 --baseline-seeds 0 \\
        --work-dir /tmp/tune_smoke --output /tmp/tune_smoke.json                # smoke run

Results go to stdout and, as JSON, to ``benchmarks/results/tune_gan_fashion_mnist.json``
(the best trial's sample grid beside it, ``.png``, and the search's objective plot, ``_objective.png``).
"""

import argparse
import json
import os
import shutil
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks.common import machine, write_result  # noqa: E402
from tfgen.cli import model_io, train_lib, tune_lib  # noqa: E402
from tfgen.metrics import evaluate_images  # noqa: E402

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def fashion_fd(model_path, num_samples, seed=0):
    """``fashion_fd`` of ``num_samples`` samples of a ``.keras`` model against as many test images."""
    images = np.asarray(model_io.load_keras_model(model_path).generate(num_samples, seed=seed))
    return float(evaluate_images(images, ["fashion_fd"], dataset="fashion_mnist", split="test",
                                 num_real_images=num_samples)["fashion_fd"])


def _evaluated(folder, model_path, num_samples):
    """The 10k evaluation of a model, computed once and kept in its folder."""
    path = os.path.join(folder, f"fashion_fd_{num_samples}.json")
    if not os.path.exists(path):
        with open(path, "w") as handle:
            json.dump({"fashion_fd": fashion_fd(model_path, num_samples)}, handle)
    with open(path) as handle:
        return json.load(handle)["fashion_fd"]


def run(args):
    common = {"dataset": "fashion_mnist", "num_examples": args.num_examples, "precision": args.precision}
    common = {key: value for key, value in common.items() if value is not None}
    start = time.time()
    search = tune_lib.tune({"model": "gan", **common, "budget": args.budget, "jobs": args.jobs, "seed": args.seed,
                            "objective_samples": args.objective_samples,
                            "output": os.path.join(args.work_dir, "search"), "export": False})
    search_minutes = (time.time() - start) / 60
    trials, epochs = tune_lib.parse_budget(args.budget)
    best_folder = search["best"]["config"]["output"]
    best = {"trial": search["best"]["trial"], "params": search["best"]["params"],
            "objective": search["best"]["value"],
            "fashion_fd_10k": _evaluated(best_folder, os.path.join(best_folder, "model.keras"), args.eval_samples),
            "command": search["best"]["command"]}

    defaults = []
    for seed in args.baseline_seeds:
        folder = os.path.join(args.work_dir, f"default_seed{seed}")
        model_path = os.path.join(folder, train_lib.MODEL_FILENAME)
        seconds_path = os.path.join(folder, "seconds.json")
        if not os.path.exists(model_path):
            begin = time.time()
            train_lib.train({"model": "gan", **common, "epochs": epochs, "seed": seed, "output": folder,
                             "export": False, "verbose": 0})
            with open(seconds_path, "w") as handle:
                json.dump({"seconds": time.time() - begin}, handle)
        with open(seconds_path) as handle:
            seconds = json.load(handle)["seconds"]
        defaults.append({"seed": seed, "fashion_fd_10k": _evaluated(folder, model_path, args.eval_samples),
                         "train_minutes": seconds / 60})
        print(f"default, seed {seed}: fashion_fd {defaults[-1]['fashion_fd_10k']:.2f}", flush=True)

    with open(search["csv"]) as handle:
        table = handle.read()
    values = [row["fashion_fd_10k"] for row in defaults]
    result = {
        "benchmark": "tune_gan_fashion_mnist",
        "machine": machine(),
        "settings": {"budget": args.budget, "trials": trials, "epochs": epochs, "jobs": args.jobs,
                     "seed": args.seed, "objective": "fashion_fd", "objective_samples": args.objective_samples,
                     "eval_samples": args.eval_samples, "num_examples": args.num_examples,
                     "precision": search["best"]["config"]["precision"], "space": tune_lib.SPACES["gan"],
                     "pruner": "hyperband"},
        "search": {"trials": search["trials"], "minutes_this_run": search_minutes, "table_csv": table},
        "best": best,
        "default": {"runs": defaults, "mean": statistics.fmean(values),
                    "stdev": statistics.stdev(values) if len(values) > 1 else None},
    }
    result["best_beats_every_default_seed"] = best["fashion_fd_10k"] < min(values)
    write_result(result, args.output)
    picture = os.path.splitext(args.output)[0] + ".png"
    shutil.copyfile(search["best_samples"], picture)
    shutil.copyfile(search["plot"], os.path.splitext(args.output)[0] + "_objective.png")
    print(search["text"], end="")
    print(f"best trial {best['trial']}: fashion_fd {best['fashion_fd_10k']:.2f} (10k) after {epochs} epochs; "
          f"default: {', '.join(f'{v:.2f}' for v in values)} (seeds {args.baseline_seeds})")
    print(f"wrote {args.output} and {picture}")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", default="16x3", help="TRIALSxEPOCHS of the search (default: 16x3)")
    parser.add_argument("--jobs", type=int, default=2, help="trials at once (default: 2, one core each)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the search (default: 0)")
    parser.add_argument("--baseline-seeds", type=int, nargs="+", default=[0, 1], help="seeds of the default runs")
    parser.add_argument("--objective-samples", type=int, default=2000, help="samples per in-search evaluation")
    parser.add_argument("--eval-samples", type=int, default=10000, help="samples of the final evaluation")
    parser.add_argument("--num-examples", type=int, default=None, help="train on the first N images (smoke runs)")
    parser.add_argument("--precision", default=None, help="precision of every run (default: auto)")
    parser.add_argument("--work-dir", default=os.path.join("runs", "benchmark_tune_gan"),
                        help="folder of the search and the default runs (default: runs/benchmark_tune_gan)")
    parser.add_argument("--output", default=os.path.join(RESULTS, "tune_gan_fashion_mnist.json"))
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
