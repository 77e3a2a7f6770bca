"""GPU check of tfgen's networks on a machine without TensorFlow: the same Keras networks, trained by Keras 3 on JAX.

Why this exists: the GPU machine lent to tfgen's sessions has PyTorch, JAX
and CUDA 13 but no TensorFlow, and nothing can be installed there from a
registry. TensorFlow 2.21 with its CUDA 12 libraries is about 2.4 GB of
wheels (``tensorflow`` alone 546 MiB), against 64 MiB that may travel per
call. tfgen's networks are plain functional Keras models
(``tfgen.models.gan_networks`` / ``resnet_networks`` / ``vae_networks``
import Keras, not TensorFlow), so Keras 3's JAX backend can build and train
them unchanged. This measures what the *networks* give a GPU: images/s of
one training step written here in JAX with the algorithm of tfgen's
``train_step`` (alternating discriminator and generator Adam updates with
the default non-saturating loss, or the modern recipe: relativistic pairing
loss with R1 + R2 and a generator EMA; the VAE's Bernoulli ELBO), and the
share of the chip's measured matrix peak the step reaches (its FLOPs as
XLA counts them). It does not measure tfgen's TensorFlow ``fit``: the
framework overhead was measured on CPU (``benchmarks/throughput.py``:
``fit`` within 3% of a hand-written loop) and TensorFlow's GPU kernels are
not JAX's, so read these as the networks' shape on a GPU, not tfgen's
figures.

    KERAS_BACKEND=jax python -m benchmarks.gpu_networks_jax --output benchmarks/results/gpu_networks_jax.json
    KERAS_BACKEND=jax python -m benchmarks.gpu_networks_jax --steps 2 --warmup 1 --quick --output /tmp/g.json  # CPU smoke

Every measurement is independent (one that fails records its error) and the
run stops starting new ones after ``--budget-seconds``.
"""

import argparse
import importlib.util
import json
import os
import pathlib
import platform
import sys
import time
import traceback
import types

os.environ.setdefault("KERAS_BACKEND", "jax")
if os.environ["KERAS_BACKEND"] != "jax":
    raise SystemExit(f"benchmarks.gpu_networks_jax needs KERAS_BACKEND=jax, got {os.environ['KERAS_BACKEND']!r}.")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _network_modules():
    """tfgen's network modules without ``tfgen/__init__`` (which imports TensorFlow).

    The DCGAN generator's ``BatchNormalization(synchronized=True)`` (replica-
    count invariance under ``tf.distribute``) is TensorFlow-only in Keras, so
    batch norm is swapped for :class:`_BatchNormalization`, the same layer
    without that flag, before any network is built. Registers bare package modules for ``tfgen`` and ``tfgen.models`` whose
    ``__path__`` is the source tree, so their Keras-only submodules import alone.
    """
    for name, path in (("tfgen", ROOT / "tfgen"), ("tfgen.models", ROOT / "tfgen" / "models")):
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = [str(path)]
            sys.modules[name] = module
    from tfgen.models import gan_networks, vae_networks  # noqa: E402

    keras.layers.BatchNormalization = _BatchNormalization
    return gan_networks, vae_networks


class _BatchNormalization(keras.layers.BatchNormalization):
    """Keras' batch norm without ``synchronized`` (TensorFlow-only; on one device it changes nothing)."""

    def __init__(self, *args, synchronized=False, **kwargs):
        super().__init__(*args, **kwargs)


# name -> (family, image shape, network settings, loss settings); defaults are tfgen's
# (GANConfig: latent 64, base_filters 64; VAEConfig: latent 16, base_filters 32).
MODELS = {
    "gan_dcgan_28": ("gan", (28, 28, 1), {"architecture": "dcgan"}, {"loss": "non_saturating"}),
    "vae_conv_28": ("vae", (28, 28, 1), {}, {}),
    "gan_resnet_64": ("gan", (64, 64, 3), {"architecture": "resnet"}, {"loss": "relativistic", "r1": 0.1, "r2": 0.1}),
    "gan_resnet_128": ("gan", (128, 128, 3), {"architecture": "resnet"}, {"loss": "relativistic", "r1": 0.1, "r2": 0.1}),
    "gan_resnet_256": ("gan", (256, 256, 3), {"architecture": "resnet"}, {"loss": "relativistic", "r1": 0.1, "r2": 0.1}),
}
# Most important first (the budget may end the list early): (model, precision, batch size).
PLAN = [
    ("gan_dcgan_28", "float32", 256), ("gan_dcgan_28", "bfloat16", 256),
    ("vae_conv_28", "float32", 256), ("vae_conv_28", "bfloat16", 256),
    ("gan_resnet_64", "float32", 64), ("gan_resnet_64", "bfloat16", 64),
    ("gan_dcgan_28", "bfloat16", 4096), ("vae_conv_28", "bfloat16", 4096),
    ("gan_resnet_128", "bfloat16", 64), ("gan_resnet_256", "bfloat16", 32),
    ("gan_resnet_64", "bfloat16", 512), ("gan_dcgan_28", "float32", 4096),
    ("gan_resnet_128", "float32", 64), ("gan_resnet_256", "float32", 32),
]
QUICK_PLAN = [("gan_dcgan_28", "bfloat16", 8), ("vae_conv_28", "float32", 8), ("gan_resnet_64", "bfloat16", 4)]
LATENT = {"gan": 64, "vae": 16}
LEARNING_RATE, BETA_1, BETA_2, EPSILON, EMA_DECAY = 2e-4, 0.5, 0.999, 1e-7, 0.999


def _adam(params, grads, moments, step):
    """One Adam update (Keras' defaults but beta_1 = 0.5, as tfgen's GAN)."""
    first, second = moments
    first = jax.tree.map(lambda m, g: BETA_1 * m + (1 - BETA_1) * g, first, grads)
    second = jax.tree.map(lambda v, g: BETA_2 * v + (1 - BETA_2) * g * g, second, grads)
    t = step + 1.0
    scale = LEARNING_RATE * jnp.sqrt(1 - BETA_2**t) / (1 - BETA_1**t)
    params = jax.tree.map(lambda p, m, v: p - scale * m / (jnp.sqrt(v) + EPSILON), params, first, second)
    return params, (first, second)


def _zeros_like(tree):
    return jax.tree.map(jnp.zeros_like, tree)


def _state(model):
    return [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables]


def _gan_step(generator, discriminator, loss):
    relativistic = loss["loss"] == "relativistic"
    r1, r2 = loss.get("r1", 0.0), loss.get("r2", 0.0)

    def logits(d_params, d_rest, images):
        out, d_rest = discriminator.stateless_call(d_params, d_rest, images, training=True)
        return out.astype("float32")[:, 0], d_rest

    def penalty(d_params, d_rest, images):
        grad = jax.grad(lambda x: logits(d_params, d_rest, x)[0].sum())(images)
        return jnp.sum(jnp.square(grad.astype("float32")), axis=(1, 2, 3))

    def d_loss(d_params, d_rest, g_params, g_rest, real, z):
        fake, g_rest = generator.stateless_call(g_params, g_rest, z, training=True)
        fake = jax.lax.stop_gradient(fake.astype("float32"))
        real_logits, d_rest = logits(d_params, d_rest, real)
        fake_logits, d_rest = logits(d_params, d_rest, fake)
        if relativistic:
            per_example = jax.nn.softplus(-(real_logits - fake_logits))
        else:
            per_example = jax.nn.softplus(-real_logits) + jax.nn.softplus(fake_logits)
        if r1:
            per_example = per_example + 0.5 * r1 * penalty(d_params, d_rest, real)
        if r2:
            per_example = per_example + 0.5 * r2 * penalty(d_params, d_rest, fake)
        return per_example.mean(), (d_rest, g_rest)

    def g_loss(g_params, g_rest, d_params, d_rest, real, z):
        fake, g_rest = generator.stateless_call(g_params, g_rest, z, training=True)
        fake_logits, d_rest = logits(d_params, d_rest, fake.astype("float32"))
        if relativistic:
            real_logits, d_rest = logits(d_params, d_rest, real)
            per_example = jax.nn.softplus(-(fake_logits - real_logits))
        else:
            per_example = jax.nn.softplus(-fake_logits)
        return per_example.mean(), (g_rest, d_rest)

    def step(state, real, key):
        g_params, g_rest, d_params, d_rest, g_moments, d_moments, ema, count = state
        z_d, z_g = jax.random.normal(key, (2, real.shape[0], generator.inputs[0].shape[-1]))
        (d_value, (d_rest, g_rest)), d_grads = jax.value_and_grad(d_loss, has_aux=True)(
            d_params, d_rest, g_params, g_rest, real, z_d)
        d_params, d_moments = _adam(d_params, d_grads, d_moments, count)
        (g_value, (g_rest, d_rest)), g_grads = jax.value_and_grad(g_loss, has_aux=True)(
            g_params, g_rest, d_params, d_rest, real, z_g)
        g_params, g_moments = _adam(g_params, g_grads, g_moments, count)
        ema = jax.tree.map(lambda e, p: EMA_DECAY * e + (1 - EMA_DECAY) * p, ema, g_params)
        return (g_params, g_rest, d_params, d_rest, g_moments, d_moments, ema, count + 1), d_value + g_value

    def init():
        g_params, g_rest = _state(generator)
        d_params, d_rest = _state(discriminator)
        moments = lambda p: (_zeros_like(p), _zeros_like(p))  # noqa: E731
        return (g_params, g_rest, d_params, d_rest, moments(g_params), moments(d_params), jax.tree.map(jnp.copy, g_params),
                jnp.zeros((), "float32"))

    return step, init


def _vae_step(encoder, decoder):
    def loss(params, rest, images, key):
        (e_params, d_params), (e_rest, d_rest) = params, rest
        (mean, log_var), e_rest = encoder.stateless_call(e_params, e_rest, images, training=True)
        z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape)
        logits, d_rest = decoder.stateless_call(d_params, d_rest, z, training=True)
        logits = logits.astype("float32")
        targets = (images + 1.0) / 2.0
        reconstruction = jnp.sum(jnp.maximum(logits, 0) - logits * targets + jnp.log1p(jnp.exp(-jnp.abs(logits))),
                                 axis=(1, 2, 3))
        kl = -0.5 * jnp.sum(1 + log_var - jnp.square(mean) - jnp.exp(log_var), axis=1)
        return jnp.mean(reconstruction + kl), (e_rest, d_rest)

    def step(state, images, key):
        params, rest, moments, count = state
        (value, rest), grads = jax.value_and_grad(loss, has_aux=True)(params, rest, images, key)
        params, moments = _adam(params, grads, moments, count)
        return (params, rest, moments, count + 1), value

    def init():
        (e_params, e_rest), (d_params, d_rest) = _state(encoder), _state(decoder)
        params = (e_params, d_params)
        return params, (e_rest, d_rest), (_zeros_like(params), _zeros_like(params)), jnp.zeros((), "float32")

    return step, init


def _build(name, dtype):
    gan_networks, vae_networks = _network_modules()
    family, shape, network, loss = MODELS[name]
    keras.config.set_dtype_policy("float32" if dtype == "float32" else f"mixed_{dtype}")
    try:
        if family == "gan":
            generator = gan_networks.make_generator(shape, LATENT["gan"], seed=0, **network)
            discriminator = gan_networks.make_discriminator(shape, seed=0, **network)
            return shape, _gan_step(generator, discriminator, loss), generator.count_params()
        encoder = vae_networks.make_encoder(shape, LATENT["vae"], seed=0)
        decoder = vae_networks.make_decoder(shape, LATENT["vae"], seed=0)
        return shape, _vae_step(encoder, decoder), encoder.count_params() + decoder.count_params()
    finally:
        keras.config.set_dtype_policy("float32")


def _flops(stage):
    """XLA's FLOP count of a lowered or compiled computation (NaN when it gives none)."""
    analysis = stage.cost_analysis()
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0] if analysis else {}
    return float((analysis or {}).get("flops", float("nan")))


def _prepared(name, dtype, batch_size):
    """The jitted training step of a model, its initial state, a synthetic batch and the parameter count."""
    shape, (step, init), parameters = _build(name, dtype)
    images = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (batch_size, *shape)).astype("float32"))
    return jax.jit(step, donate_argnums=0), init(), images, parameters


def recount(path):
    """Fills a result file's FLOP figures from the unoptimised program, lowered here (nothing runs).

    For result files written before the count came from the lowered program
    (the GPU's compiled count leaves out cuDNN convolutions): the program is
    the same on every platform, so counting it on a CPU is exact.
    """
    with open(path) as handle:
        result = json.load(handle)
    for row in result["rows"]:
        if "images_per_second" not in row:
            continue
        jitted, state, images, _ = _prepared(row["model"], row["precision"], row["batch_size"])
        flops = _flops(jitted.lower(state, images, jax.random.key(0)))
        row.setdefault("compiled_step_gflop", row["step_gflop"])
        row["step_gflop"] = flops / 1e9
        row["tflop_per_second"] = flops / (row["step_milliseconds"] / 1000) / 1e12
        peak = result["peaks"].get(row["precision"], {}).get("tflop_per_second")
        if peak:
            row["share_of_matmul_peak"] = row["tflop_per_second"] / peak
        print(json.dumps(row), flush=True)
    result["recounted"] = ("step_gflop from the lowered (unoptimised) program, counted with jax "
                           f"{jax.__version__} on {platform.processor() or platform.machine()}")
    with open(path, "w") as handle:
        json.dump(result, handle, indent=2)
    return result


def measure_step(name, dtype, batch_size, steps, warmup):
    """images/s, step FLOPs (XLA's count) and TFLOP/s of one model's jitted training step."""
    jitted, state, images, parameters = _prepared(name, dtype, batch_size)
    begin = time.perf_counter()
    lowered = jitted.lower(state, images, jax.random.key(0))
    compiled = lowered.compile()
    compile_seconds = time.perf_counter() - begin
    # The count of the unoptimised program: on GPUs the compiled program's
    # convolutions are cuDNN calls that XLA's count leaves out.
    flops = _flops(lowered)
    for index in range(warmup):
        state, value = compiled(state, images, jax.random.key(index))
    value.block_until_ready()
    begin = time.perf_counter()
    for index in range(steps):
        state, value = compiled(state, images, jax.random.key(1000 + index))
    value = float(value)  # waits for the last step
    seconds = time.perf_counter() - begin
    return {
        "images_per_second": steps * batch_size / seconds,
        "step_milliseconds": 1000 * seconds / steps,
        "step_gflop": flops / 1e9,
        "tflop_per_second": flops * steps / seconds / 1e12,
        "compiled_step_gflop": _flops(compiled) / 1e9,
        "compile_seconds": compile_seconds,
        "parameters": parameters,
        "last_loss": value,
        "finite": bool(np.isfinite(value)),
    }


def matmul_peak(dtype, size, repeats=10):
    """TFLOP/s of a ``size``-cubed matrix product (mean of ``repeats`` after 3 warm-ups)."""
    a = jax.random.normal(jax.random.key(0), (size, size), dtype)
    b = jax.random.normal(jax.random.key(1), (size, size), dtype)
    product = jax.jit(lambda x, y: x @ y)
    for _ in range(3):
        product(a, b).block_until_ready()
    begin = time.perf_counter()
    for _ in range(repeats):
        out = product(a, b)
    out.block_until_ready()
    return {"tflop_per_second": 2 * size**3 * repeats / (time.perf_counter() - begin) / 1e12, "size": size}


def _environment():
    devices = jax.devices()
    return {
        "python": platform.python_version(), "jax": jax.__version__, "keras": keras.__version__,
        "backend": keras.backend.backend(), "devices": [str(device) for device in devices],
        "device_kind": devices[0].device_kind, "platform": devices[0].platform,
        "tensorflow_importable": importlib.util.find_spec("tensorflow") is not None,
        "jax_default_matmul_precision": str(jax.config.jax_default_matmul_precision),
        "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps after compiling")
    parser.add_argument("--budget-seconds", type=float, default=240.0)
    parser.add_argument("--matmul-size", type=int, default=8192)
    parser.add_argument("--quick", action="store_true", help="tiny batches of three models (CPU smoke run)")
    parser.add_argument("--rows", type=int, nargs="*", help="indices into PLAN to run (default: all, in order)")
    parser.add_argument("--output", default=os.path.join("benchmarks", "results", "gpu_networks_jax.json"))
    parser.add_argument("--recount", metavar="RESULT_JSON",
                        help="only fill FLOP figures of an existing result from the lowered program (see recount)")
    args = parser.parse_args(argv)
    if args.recount:
        return recount(args.recount)
    start = time.perf_counter()
    result = {
        "benchmark": "gpu_networks_jax",
        "command": "KERAS_BACKEND=jax python -m benchmarks.gpu_networks_jax "
                   + " ".join(argv if argv is not None else sys.argv[1:]),
        "environment": _environment(), "steps": args.steps, "warmup": args.warmup,
        "note": "tfgen's Keras networks and train-step algorithm on Keras 3 + JAX, not tfgen's TensorFlow fit",
        "peaks": {}, "rows": [],
    }

    def write():
        result["seconds"] = time.perf_counter() - start
        os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
        with open(args.output, "w") as handle:
            json.dump(result, handle, indent=2)

    for dtype in ("bfloat16", "float32"):
        try:
            result["peaks"][dtype] = matmul_peak(dtype, args.matmul_size)
        except Exception as error:  # noqa: BLE001 (recorded; the rows still run)
            result["peaks"][dtype] = {"error": f"{type(error).__name__}: {error}"[:500]}
        print(dtype, "matmul", json.dumps(result["peaks"][dtype]), flush=True)
    write()
    plan = QUICK_PLAN if args.quick else [PLAN[index] for index in (args.rows or range(len(PLAN)))]
    for name, dtype, batch_size in plan:
        row = {"model": name, "precision": dtype, "batch_size": batch_size}
        if time.perf_counter() - start > args.budget_seconds:
            row["skipped"] = "time budget spent"
        else:
            try:
                row.update(measure_step(name, dtype, batch_size, args.steps, args.warmup))
                peak = result["peaks"].get(dtype, {}).get("tflop_per_second")
                if peak:
                    row["share_of_matmul_peak"] = row["tflop_per_second"] / peak
            except Exception as error:  # noqa: BLE001 (recorded; the others go on)
                row["error"] = f"{type(error).__name__}: {error}"[:500]
                traceback.print_exc()
        result["rows"].append(row)
        print(json.dumps(row), flush=True)
        write()
    print(f"wrote {args.output} after {time.perf_counter() - start:.0f} s")
    return result


if __name__ == "__main__":
    main()
