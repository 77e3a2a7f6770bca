"""Runs every benchmark, collects their results into one dated JSON file and a Markdown table.

Each benchmark runs in its own subprocess (several ``tf.distribute``
strategies, or a ``mixed_bfloat16`` policy, in one process would clash),
with the full or the quick argument set of :data:`BENCHMARKS`:

    python -m benchmarks.run                       # full: hours (FID on 10k images, 20-epoch GAN, ...)
    python -m benchmarks.run --quick               # smoke settings: about 10 minutes on an idle 2-core CPU
    python -m benchmarks.run --quick --only throughput pipeline
    python -m benchmarks.run --list

A full run writes each benchmark's own result file (``benchmarks/results/<name>.json``)
and ``benchmarks/results/<YYYY-MM-DD>.json`` / ``.md``. A quick run writes the
benchmarks' files under ``benchmarks/output/quick/`` (so it never overwrites a
full result; each quick run of a benchmark first empties its folder there, so
models saved by the last quick run never stand in the way) and
``benchmarks/results/<YYYY-MM-DD>-quick.json`` / ``.md``.
Every row records the machine's load average before and after it ran.
"""

import argparse
import datetime
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

RESULTS_DIR = os.path.join("benchmarks", "results")
QUICK_DIR = os.path.join("benchmarks", "output", "quick")


def _quick(name, *parts):
    return os.path.join(QUICK_DIR, name, *parts)


# name -> (full arguments, quick arguments, result file of a full run, headline keys).
# Every module of benchmarks/ except common, run and __init__ must be listed
# (tests/benchmarks/test_run.py checks it). Both argument lists end up with
# an --output; quick outputs live under QUICK_DIR.
BENCHMARKS = {
    "throughput": {
        "full": [],
        "quick": ["--quick"],
        "output": os.path.join(RESULTS_DIR, "throughput.json"),
    },
    "pipeline": {
        "full": [],
        "quick": ["--quick"],
        "output": os.path.join(RESULTS_DIR, "pipeline.json"),
    },
    "scaling": {
        "full": [],
        "quick": ["--steps", "8", "--warmup", "2"],
        "output": os.path.join(RESULTS_DIR, "scaling.json"),
    },
    "vae_fashion_mnist": {
        "full": [],
        "quick": ["--epochs", "1", "--batch-size", "256", "--iwae-samples", "10", "--test-images", "500",
                  "--save-model", _quick("vae_fashion_mnist", "vae.keras")],
        "output": os.path.join(RESULTS_DIR, "vae_fashion_mnist.json"),
    },
    "gan_fashion_mnist": {
        "full": [],
        "quick": ["--epochs", "2", "--steps-per-epoch", "10", "--eval-every", "0", "--eval-samples", "500",
                  "--grid-dir", _quick("gan_fashion_mnist", "grids"),
                  "--save-model", _quick("gan_fashion_mnist", "gan.keras")],
        "output": os.path.join(RESULTS_DIR, "gan_fashion_mnist_non_saturating.json"),
    },
    "mixtures": {
        "full": [],
        "quick": ["--datasets", "ring8", "--losses", "non_saturating", "--seeds", "1", "--steps", "300"],
        "output": os.path.join(RESULTS_DIR, "mixtures.json"),
    },
    "quality_fashion_mnist": {
        "full": [],
        "quick": ["--num-images", "100", "--fashion-images", "500", "--vae-epochs", "1", "--gan-epochs", "1",
                  "--gan-losses", "hinge", "--steps-per-epoch", "10",
                  "--models-dir", _quick("quality_fashion_mnist", "models")],
        "output": os.path.join(RESULTS_DIR, "quality_fashion_mnist.json"),
    },
    "precision_quality": {
        "full": [],
        "quick": ["--models", "vae", "--vae-epochs", "1", "--steps-per-epoch", "10", "--seeds", "1"],
        "output": os.path.join(RESULTS_DIR, "precision_quality.json"),
    },
    "inception_agreement": {
        "full": [],
        "quick": ["--num-images", "4"],
        "output": os.path.join(RESULTS_DIR, "inception_agreement.json"),
        "stdout_json": True,  # prints its result as JSON lines, has no --output
    },
    "serving": {
        "full": [],
        "quick": ["--requests", "20"],
        "output": os.path.join(RESULTS_DIR, "serving.json"),
    },
    "serving_memory": {
        "full": [],
        "quick": [],
        "output": os.path.join(RESULTS_DIR, "serving_memory.json"),
    },
    "deploy": {  # untrained default models; a trained one: --model PATH.keras (README)
        "full": [],
        "quick": ["--repeats", "5", "--samples", "250"],
        "output": os.path.join(RESULTS_DIR, "deploy_untrained.json"),
    },
    "precision_layers": {  # per-layer float32 against bfloat16 time of the default networks
        "full": [],
        "quick": ["--models", "vae", "--batch-size", "32", "--calls", "2", "--repeats", "2"],
        "output": os.path.join(RESULTS_DIR, "precision_layers.json"),
    },
    "gpu_check": {  # meant for a GPU machine; on a CPU it measures the same things, slowly
        "full": [],
        "quick": ["--steps", "2", "--warmup", "1", "--batch-size", "8", "--budget-seconds", "60"],
        "output": os.path.join(RESULTS_DIR, "gpu_check.json"),
    },
    "tune_gan_fashion_mnist": {  # tfgen tune's best GAN against the default, same epochs
        "full": [],
        "quick": ["--budget", "2x1", "--num-examples", "1024", "--baseline-seeds", "0", "--objective-samples", "500",
                  "--eval-samples", "1000", "--work-dir", _quick("tune_gan_fashion_mnist", "work")],
        "output": os.path.join(RESULTS_DIR, "tune_gan_fashion_mnist.json"),
        "requires": "optuna",
    },
    "gpu_networks_jax": {  # tfgen's networks on Keras + JAX, for GPU machines without TensorFlow
        "full": [],
        "quick": ["--quick", "--steps", "2", "--warmup", "1", "--matmul-size", "256"],
        "output": os.path.join(RESULTS_DIR, "gpu_networks_jax.json"),
        "requires": "jax",
    },
}


def command_for(name, quick):
    """The ``python -m benchmarks.<name> ...`` command and the result file it writes."""
    entry = BENCHMARKS[name]
    arguments = list(entry["quick"] if quick else entry["full"])
    output = _quick(name, os.path.basename(entry["output"])) if quick else entry["output"]
    if not entry.get("stdout_json"):
        arguments += ["--output", output]
    return [sys.executable, "-m", f"benchmarks.{name}"] + arguments, output


def _json_lines(text):
    """Every line of ``text`` that parses as a JSON object or list, parsed."""
    values = []
    for line in text.splitlines():
        line = line.strip()
        if line[:1] in "{[":
            try:
                values.append(json.loads(line))
            except ValueError:
                pass
    return values


def run_one(name, quick, timeout):
    command, output = command_for(name, quick)
    required = BENCHMARKS[name].get("requires")
    if required and importlib.util.find_spec(required) is None:
        print(f"\n=== {name}: skipped, it needs {required}, which is not installed", flush=True)
        return {"command": " ".join(["python"] + command[1:]), "skipped": f"needs {required}, not installed"}
    if quick:  # a quick run's folder is scratch: its models and files are the last quick run's
        shutil.rmtree(_quick(name), ignore_errors=True)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    row = {"command": " ".join(["python"] + command[1:]), "load_average_1min_before": round(os.getloadavg()[0], 2)}
    print(f"\n=== {name}: {row['command']}", flush=True)
    start = time.perf_counter()
    try:
        process = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        row["returncode"] = process.returncode
        stdout, stderr = process.stdout, process.stderr
    except subprocess.TimeoutExpired as error:
        row["returncode"] = "timeout"
        stdout = (error.stdout or b"").decode(errors="replace") if isinstance(error.stdout, bytes) else (error.stdout or "")
        stderr = f"timed out after {timeout} s"
    row["seconds"] = round(time.perf_counter() - start, 1)
    row["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    if row["returncode"] != 0:
        row["error"] = (stderr or "")[-3000:]
        print(f"{name} FAILED ({row['returncode']}): {row['error'][-800:]}", flush=True)
        return row
    if BENCHMARKS[name].get("stdout_json"):
        row["result"] = _json_lines(stdout)
        os.makedirs(os.path.dirname(output), exist_ok=True)
        with open(output, "w") as handle:
            json.dump(row["result"], handle, indent=2)
    elif os.path.exists(output):
        with open(output) as handle:
            row["result"] = json.load(handle)
    row["output"] = output
    print(f"{name}: done in {row['seconds']} s -> {output}", flush=True)
    return row


def _throughput_headline(result):
    parts = [f"{key}: {value['median']:.3f} (by CPU time {value.get('median_by_cpu_time', float('nan')):.3f}; "
             f"in epoch {value.get('median_in_epoch', float('nan')):.3f})"
             for key, value in result.get("ratios", {}).items()]
    parts += [f"{key} {row['median_images_per_second']:.0f} img/s" for key, row in result.get("contenders", {}).items()
              if "median_images_per_second" in row]
    return "; ".join(parts)


def _pipeline_headline(result):
    speed, memory = result["speed"], result["memory"]
    return (f"pipeline/GAN training {speed['pipeline_over_gan_training']:.0f}x, binarised pipeline/VAE "
            f"training {speed['binarized_pipeline_over_vae_training']:.0f}x; peak RSS "
            f"{memory['runs']['fashion_mnist']['peak_rss_mb']:.0f} MB (data set adds "
            f"{memory['peak_rss_difference_mb']:.0f} MB; uint8 size {memory['fashion_mnist_train_uint8_mb']:.0f} MB)")


def _precision_quality_headline(result):
    parts = []
    for model_name, entry in result.get("results", {}).items():
        for precision, row in entry["summary"].items():
            parts.append(f"{model_name} {precision} {entry['measure']} {row['quality_mean']:.2f}, "
                         f"{row['images_per_second_mean']:.0f} img/s")
    return "; ".join(parts)


def _generic_headline(result):
    """The numeric top-level fields; for a list of rows, each row's labels and first figure."""
    if isinstance(result, list):
        rows = []
        for row in result:
            if isinstance(row, dict):
                labels = [str(value) for value in row.values() if isinstance(value, (str, int)) and not isinstance(value, bool)]
                numbers = [f"{key} {value:.4g}" for key, value in row.items() if isinstance(value, float)]
                rows.append(" ".join(labels[:3] + numbers[:1]))
        return "; ".join(rows[:8])
    figures = []
    for key, value in result.items():
        if isinstance(value, bool) or key in ("seconds",):
            continue
        if isinstance(value, (int, float)):
            figures.append(f"{key} {value:.4g}")
    return "; ".join(figures[:8])


# Benchmarks whose result needs more than the generic summary.
HEADLINES = {
    "throughput": _throughput_headline,
    "pipeline": _pipeline_headline,
    "precision_quality": _precision_quality_headline,
}


def _headline(name, result):
    """A few figures of a benchmark's result, for the Markdown table."""
    if result is None:
        return ""
    return HEADLINES.get(name, _generic_headline)(result)


def markdown(report):
    lines = [
        f"# Benchmarks {report['date']} ({'quick' if report['quick'] else 'full'})",
        "",
        f"Machine: {report['machine']}",
        "",
        "| benchmark | status | seconds | load avg before/after | figures |",
        "|---|---|---:|---|---|",
    ]
    for name, row in report["benchmarks"].items():
        if "skipped" in row:
            lines.append(f"| {name} | skipped | | | {row['skipped']} |")
            continue
        status = "ok" if row["returncode"] == 0 else f"failed ({row['returncode']})"
        figures = _headline(name, row.get("result")) if row["returncode"] == 0 else row.get("error", "")[-200:].replace("\n", " ")
        lines.append(f"| {name} | {status} | {row['seconds']} | {row['load_average_1min_before']}/"
                     f"{row['load_average_1min_after']} | {figures.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke settings, outputs under benchmarks/output/quick")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per benchmark (default: none; quick: 1800)")
    parser.add_argument("--list", action="store_true", help="print the commands and exit")
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    if args.list:
        for name in names:
            print(" ".join(["python"] + command_for(name, args.quick)[0][1:]))
        return None
    timeout = args.timeout or (1800 if args.quick else None)

    import platform

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    report = {
        "date": date,
        "quick": args.quick,
        "command": "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_average_1min_at_start": round(os.getloadavg()[0], 2)},
        "benchmarks": {},
    }
    stem = os.path.join(RESULTS_DIR, date + ("-quick" if args.quick else ""))
    os.makedirs(RESULTS_DIR, exist_ok=True)
    started = time.perf_counter()
    for name in names:
        report["benchmarks"][name] = run_one(name, args.quick, timeout)
        report["seconds"] = round(time.perf_counter() - started, 1)
        report["machine"]["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
        with open(stem + ".json", "w") as handle:  # rewritten after every benchmark
            json.dump(report, handle, indent=2)
        with open(stem + ".md", "w") as handle:
            handle.write(markdown(report))
    print("\n" + markdown(report))
    print(f"wrote {stem}.json and {stem}.md ({report['seconds'] / 60:.1f} min)")
    return report


if __name__ == "__main__":
    main()
