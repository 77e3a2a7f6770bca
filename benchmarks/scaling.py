"""Benchmark: training throughput on 1 and 2 replicas, and the cost of a strategy.

For the VAE and the GAN (tfgen defaults, Fashion-MNIST, global batch 128)
measures training images per second with

* no strategy (the default, one device),
* MirroredStrategy over 1 device (the strategy's own per-step overhead),
* MirroredStrategy over 2 logical CPU devices (on a GPU machine: 2 GPUs).

Each configuration runs in its own process (the CPU must be split before
TensorFlow starts). On a 2-core CPU, two replicas share the same two cores,
so no speed-up is expected here: the figure shows the cost of the
all-reduce and of running two smaller batches, not GPU scaling.

    python -m benchmarks.scaling --steps 60
"""

import argparse
import json
import os
import subprocess
import sys
import time

CONFIGS = [("none", 1), ("mirrored", 1), ("mirrored", 2)]


def _child(kind, strategy_name, replicas, steps, warmup, batch_size):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    import tfgen
    from tfgen import distribute
    from tfgen.models.gan import GAN

    if strategy_name == "none":
        strategy = tf.distribute.get_strategy()
    else:
        strategy = distribute.get_strategy("mirrored", num_devices=replicas)
    with strategy.scope():
        if kind == "vae":
            model = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=16, seed=0)
            model.compile(optimizer="adam")
        else:
            model = GAN(input_shape=(28, 28, 1), latent_dim=64, seed=0)
            model.compile()
    data = tfgen.data.load("fashion_mnist", batch_size=batch_size, seed=0, repeat=True)
    model.fit(data, steps_per_epoch=warmup, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    return {"model": kind, "strategy": strategy_name, "replicas": replicas,
            "images_per_second": steps * batch_size / seconds, "ms_per_step": 1000 * seconds / steps}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--models", default="vae,gan")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--output", default=os.path.join("benchmarks", "results", "scaling.json"))
    args = parser.parse_args(argv)
    if args.child:
        kind, strategy_name, replicas = args.child
        print(json.dumps(_child(kind, strategy_name, int(replicas), args.steps, args.warmup, args.batch_size)))
        return None

    rows = []
    for kind in args.models.split(","):
        for strategy_name, replicas in CONFIGS:
            command = [sys.executable, "-m", "benchmarks.scaling", "--steps", str(args.steps), "--warmup",
                       str(args.warmup), "--batch-size", str(args.batch_size), "--child", kind, strategy_name, str(replicas)]
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    print(f"global batch {args.batch_size}, {args.steps} timed steps after {args.warmup} warm-up steps, {os.cpu_count()} CPU cores")
    print("| model | strategy | replicas | images/s | ms/step | overhead vs no strategy |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        base = next(r for r in rows if r["model"] == row["model"] and r["strategy"] == "none")
        overhead = row["ms_per_step"] - base["ms_per_step"]
        print(f"| {row['model']} | {row['strategy']} | {row['replicas']} | {row['images_per_second']:.0f} | "
              f"{row['ms_per_step']:.1f} | {overhead:+.1f} ms |")
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(rows, handle, indent=2)
    return rows


if __name__ == "__main__":
    main()
