"""Benchmark: does the input pipeline keep up, and how much memory does training take?

Speed, in one process, alternating rounds (so machine load hits all alike):

* ``tfgen.data.load("fashion_mnist", batch_size=256, repeat=True)`` iterated
  alone (and with ``binarize=True``, the VAE's input), in images per second;
* the training rate on that pipeline: ``tfgen.GAN`` with the TensorFlow DCGAN
  tutorial's networks and ``tfgen.VAE`` with its default networks, through
  ``fit`` (see :mod:`benchmarks.throughput`);

and the ratio pipeline / training (the target is at least 10).

Memory, each in a fresh subprocess, from ``/proc/self/status``
(``VmRSS`` at each stage) and ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
(peak): a Fashion-MNIST training run of ``--memory-steps`` steps of
``tfgen.GAN`` (tutorial networks, batch 256), against the same run on a
256-image array. The difference of the two peaks is what holding the
60,000 training images costs: 47 MB when they are held once as uint8
(a float32 copy would be 188 MB).

    python -m benchmarks.pipeline
    python -m benchmarks.pipeline --quick

Results go to stdout and, as JSON, to ``benchmarks/results/pipeline.json``.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FASHION_TRAIN_UINT8_MB = 60000 * 28 * 28 / 1e6


def _rss_mb():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def memory_child(source, steps, batch_size):
    """Runs in a subprocess: trains ``steps`` GAN steps, prints RSS at each stage as JSON."""
    stages = {"start": _rss_mb()}
    import numpy as np
    import tensorflow as tf  # noqa: F401

    import tfgen
    from benchmarks import throughput

    stages["imports"] = _rss_mb()
    if source == "fashion_mnist":
        data = tfgen.data.load("fashion_mnist", batch_size=batch_size, seed=0, repeat=True, drop_remainder=True)
    else:
        images = np.random.default_rng(0).integers(0, 256, (batch_size, 28, 28, 1), dtype=np.uint8)
        data = tfgen.data.from_numpy(images, batch_size=batch_size, seed=0, repeat=True, drop_remainder=True)
        del images
    stages["data_loaded"] = _rss_mb()
    contender = throughput.gan_fit_contender(data, "float32", batch_size)
    stages["model_built"] = _rss_mb()
    contender.run(steps)
    stages["trained"] = _rss_mb()
    return {"source": source, "steps": steps, "rss_mb": stages, "peak_rss_mb": _peak_rss_mb()}


def measure_memory(steps, batch_size):
    rows = {}
    for source in ("fashion_mnist", "tiny_array"):
        command = [sys.executable, "-m", "benchmarks.pipeline", "--memory-child", source,
                   "--memory-steps", str(steps), "--batch-size", str(batch_size)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        rows[source] = json.loads(output.strip().splitlines()[-1])
        print(f"memory [{source}]: {json.dumps(rows[source])}", flush=True)
    fashion, tiny = rows["fashion_mnist"], rows["tiny_array"]
    return {
        "runs": rows,
        "fashion_mnist_train_uint8_mb": FASHION_TRAIN_UINT8_MB,
        "fashion_mnist_train_float32_mb": 4 * FASHION_TRAIN_UINT8_MB,
        "peak_rss_difference_mb": fashion["peak_rss_mb"] - tiny["peak_rss_mb"],
        "load_rss_growth_mb": fashion["rss_mb"]["data_loaded"] - fashion["rss_mb"]["imports"],
        "final_rss_difference_mb": fashion["rss_mb"]["trained"] - tiny["rss_mb"]["trained"],
    }


def measure_speed(rounds, pipeline_batches, train_steps, batch_size):
    import tfgen
    from benchmarks import throughput

    gan_data = tfgen.data.load("fashion_mnist", batch_size=batch_size, seed=0, repeat=True, drop_remainder=True)
    vae_data = tfgen.data.load("fashion_mnist", batch_size=batch_size, seed=0, repeat=True, drop_remainder=True,
                               binarize=True)

    class PipelineAlone:
        def __init__(self, name, dataset):
            self.name, self.dataset = name, dataset

        def run(self, batches):
            iterator = iter(self.dataset)
            for _ in range(batches):
                next(iterator)

    contenders = [
        (PipelineAlone("pipeline", gan_data), pipeline_batches),
        (throughput.gan_fit_contender(gan_data, "float32", batch_size), train_steps),
        (PipelineAlone("pipeline_binarized", vae_data), pipeline_batches),
        (throughput.vae_fit_contender(vae_data, "float32", batch_size), train_steps),
    ]
    for contender, _ in contenders:
        contender.run(2)  # traces
    rates = {contender.name: [] for contender, _ in contenders}
    for round_index in range(rounds):
        order = contenders if round_index % 2 == 0 else contenders[::-1]
        for contender, steps in order:
            start = time.perf_counter()
            contender.run(steps)
            rates[contender.name].append(batch_size * steps / (time.perf_counter() - start))
        print(f"round {round_index + 1}/{rounds}: "
              + ", ".join(f"{name} {values[-1]:.0f}" for name, values in rates.items()), flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "images_per_second": rates,
        "median_images_per_second": medians,
        "pipeline_over_gan_training": medians["pipeline"] / medians["gan_fit_float32"],
        "binarized_pipeline_over_vae_training": medians["pipeline_binarized"] / medians["vae_fit_float32"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pipeline-batches", type=int, default=200, help="batches per pipeline round")
    parser.add_argument("--train-steps", type=int, default=10, help="train steps per training round")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--memory-steps", type=int, default=30, help="train steps of each memory run")
    parser.add_argument("--quick", action="store_true", help="2 rounds, 50 pipeline batches, 3 train steps, 5 memory steps")
    parser.add_argument("--memory-child", choices=["fashion_mnist", "tiny_array"], help=argparse.SUPPRESS)
    parser.add_argument("--output", default=os.path.join("benchmarks", "results", "pipeline.json"))
    args = parser.parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.memory_steps, args.batch_size)))
        return None
    if args.quick:
        args.rounds, args.pipeline_batches, args.train_steps, args.memory_steps = 2, 50, 3, 5
    from benchmarks.common import machine, write_result

    started = time.time()
    load_before = os.getloadavg()[0]
    memory = measure_memory(args.memory_steps, args.batch_size)
    speed = measure_speed(args.rounds, args.pipeline_batches, args.train_steps, args.batch_size)
    result = {
        "benchmark": "pipeline",
        "command": "python -m benchmarks.pipeline " + " ".join(argv if argv is not None else sys.argv[1:]),
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "machine": machine(),
        "load_average_1min_at_start": round(load_before, 2),
        "seconds": time.time() - started,
        "speed": speed,
        "memory": memory,
    }
    print()
    for name, value in speed["median_images_per_second"].items():
        print(f"{name}: {value:.0f} images/s (median of {args.rounds} rounds)")
    print(f"pipeline / GAN training: {speed['pipeline_over_gan_training']:.1f}x; "
          f"binarised pipeline / VAE training: {speed['binarized_pipeline_over_vae_training']:.1f}x")
    fashion = memory["runs"]["fashion_mnist"]
    print(f"peak RSS of {args.memory_steps} GAN steps on Fashion-MNIST: {fashion['peak_rss_mb']:.0f} MB; "
          f"on a 256-image array: {memory['runs']['tiny_array']['peak_rss_mb']:.0f} MB; difference "
          f"{memory['peak_rss_difference_mb']:.0f} MB (data set: {FASHION_TRAIN_UINT8_MB:.0f} MB uint8, "
          f"{4 * FASHION_TRAIN_UINT8_MB:.0f} MB float32); RSS growth at load: {memory['load_rss_growth_mb']:.0f} MB")
    print(f"load average: {result['load_average_1min_at_start']} at start, {result['machine']['load_average_1min']} at end")
    return write_result(result, args.output)


if __name__ == "__main__":
    main()
