"""Benchmark: where bfloat16 gains and where it does not, layer by layer, in tfgen's default networks.

For every layer of the default VAE's encoder and decoder and the default
GAN's generator and discriminator (``tfgen.VAE()``, ``tfgen.GAN()``,
28x28x1), one ``tf.function`` runs the layer forward and backward (the
gradients of its weights and of its input, as a train step does) on a batch
of ``--batch-size`` random inputs, in float32 and under ``mixed_bfloat16``
(the input given in the layer's compute dtype, as the previous layer would
give it). Reported per layer: median milliseconds over ``--repeats``
timings of ``--calls`` calls each, the bfloat16/float32 speed ratio, the
layer's multiply-accumulates per example (Dense/Conv layers) and its share
of the network's summed time; per network, the sum over layers against the
same network's whole forward + backward pass. Layers whose input is a list
(label embeddings, concatenation) are skipped.

    python -m benchmarks.precision_layers                     # both networks of both models
    python -m benchmarks.precision_layers --models vae --repeats 3 --calls 5   # quicker

Results go to stdout and, as JSON, to ``benchmarks/results/precision_layers.json``.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfgen  # noqa: E402
from benchmarks.common import machine, write_result  # noqa: E402
from benchmarks.throughput import layer_macs  # noqa: E402
from tfgen import precision  # noqa: E402

MODELS = {
    "vae": (lambda: tfgen.VAE(input_shape=(28, 28, 1), seed=0), ("encoder", "decoder")),
    "gan": (lambda: tfgen.GAN(input_shape=(28, 28, 1), seed=0), ("generator", "discriminator")),
}
DTYPES = ("float32", "bfloat16")


def _forward_backward(function, variables, inputs):
    """A traced step: ``function(inputs)`` forward, then the gradients of its weights and its input."""

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)
            loss = tf.reduce_sum(tf.cast(y, tf.float32))
        return tape.gradient(loss, [x] + list(variables))

    return lambda: step(inputs)


def _milliseconds(run, calls, repeats):
    run()  # traces
    run()
    timings = []
    for _ in range(repeats):
        begin = time.perf_counter()
        for _ in range(calls):
            out = run()
        float(tf.reduce_sum(tf.cast(out[0], tf.float32)))  # waits for the last call
        timings.append((time.perf_counter() - begin) / calls)
    return 1000 * float(np.median(timings))


def _random_input(shape, dtype, batch_size):
    return tf.cast(tf.random.stateless_normal([batch_size, *shape[1:]], seed=[0, 0]), dtype)


def measure_network(network, batch_size, calls, repeats):
    """Per-layer and whole-network forward+backward milliseconds of ``network``."""
    macs = dict(zip([layer.name for layer in network.layers if getattr(layer, "kernel", None) is not None],
                    layer_macs(network)))
    rows = []
    for layer in network.layers:
        if isinstance(layer, keras.layers.InputLayer) or isinstance(layer.input, (list, tuple)):
            continue
        inputs = _random_input(layer.input.shape, layer.compute_dtype, batch_size)
        run = _forward_backward(lambda x, layer=layer: layer(x, training=True), layer.trainable_variables, inputs)
        rows.append({
            "layer": layer.name, "type": type(layer).__name__, "compute_dtype": layer.compute_dtype,
            "input_shape": list(layer.input.shape[1:]), "output_shape": list(layer.output.shape[1:]),
            "macs_per_example": macs.get(layer.name, 0),
            "milliseconds": _milliseconds(run, calls, repeats),
        })
    whole = None
    if not isinstance(network.input, (list, tuple)):
        inputs = _random_input(network.input.shape, "float32", batch_size)
        whole = _milliseconds(_forward_backward(lambda x: network(x, training=True), network.trainable_variables,
                                                inputs), calls, repeats)
    return {"layers": rows, "sum_of_layers_milliseconds": sum(row["milliseconds"] for row in rows),
            "network_milliseconds": whole}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--calls", type=int, default=10, help="calls per timing")
    parser.add_argument("--repeats", type=int, default=5, help="timings per layer (the median is reported)")
    parser.add_argument("--output", default=os.path.join("benchmarks", "results", "precision_layers.json"))
    args = parser.parse_args(argv)
    result = {"benchmark": "precision_layers", "machine": machine(), "batch_size": args.batch_size,
              "calls": args.calls, "repeats": args.repeats, "cpu_native_bfloat16": precision.cpu_has_native_bfloat16(),
              "networks": {}}
    for model_name in args.models:
        build, network_names = MODELS[model_name]
        measured = {}
        for dtype in DTYPES:
            with precision.policy_scope(dtype):
                model = build()
            for network_name in network_names:
                measured[(network_name, dtype)] = measure_network(
                    getattr(model, network_name), args.batch_size, args.calls, args.repeats)
        for network_name in network_names:
            fp32, bf16 = measured[(network_name, "float32")], measured[(network_name, "bfloat16")]
            rows = []
            print(f"\n{model_name}.{network_name}, batch {args.batch_size}: milliseconds forward + backward")
            print(f"{'layer':28s} {'type':22s} {'MMAC/ex':>8s} {'fp32':>8s} {'bf16':>8s} {'speed-up':>8s} {'share fp32':>10s}")
            for a, b in zip(fp32["layers"], bf16["layers"]):
                row = dict(a, bfloat16_milliseconds=b["milliseconds"], float32_milliseconds=a["milliseconds"],
                           speedup=a["milliseconds"] / b["milliseconds"],
                           share_of_float32=a["milliseconds"] / fp32["sum_of_layers_milliseconds"])
                del row["milliseconds"], row["compute_dtype"]
                rows.append(row)
                print(f"{a['layer'][:28]:28s} {a['type'][:22]:22s} {a['macs_per_example'] / 1e6:8.2f} "
                      f"{a['milliseconds']:8.2f} {b['milliseconds']:8.2f} {row['speedup']:7.2f}x "
                      f"{row['share_of_float32']:9.1%}")
            summary = {
                "layers": rows,
                "float32": {key: fp32[key] for key in ("sum_of_layers_milliseconds", "network_milliseconds")},
                "bfloat16": {key: bf16[key] for key in ("sum_of_layers_milliseconds", "network_milliseconds")},
            }
            for dtype in DTYPES:
                print(f"{dtype}: sum of layers {summary[dtype]['sum_of_layers_milliseconds']:.2f} ms, whole network "
                      + (f"{summary[dtype]['network_milliseconds']:.2f} ms" if summary[dtype]["network_milliseconds"]
                         else "n/a (several inputs)"))
            result["networks"][f"{model_name}.{network_name}"] = summary
            write_result(result, args.output)
    return result


if __name__ == "__main__":
    main()
