"""Benchmark: does ``model.fit`` with tfgen's ``train_step`` train as fast as a hand-written loop?

In one process, with every contender built and traced once, then timed in
alternating rounds (round ``r`` runs every contender for ``--steps`` steps,
so machine load hits all of them alike), on the same ``tfgen.data.load``
pipeline (Fashion-MNIST, batch 256, 28x28x1):

GAN (the TensorFlow DCGAN tutorial's ``make_generator_model`` /
``make_discriminator_model``, latent 100, Adam(1e-4) for both networks):

* ``gan_loop``: the tutorial's ``@tf.function`` train step (``tf.random.normal``
  noise, ``BinaryCrossentropy(from_logits=True)``, one generator forward
  shared by a *simultaneous* update of both networks);
* ``gan_loop_alternating``: a hand-written ``@tf.function`` step doing what
  tfgen's ``GAN.train_step`` does (a discriminator update, then a generator
  update on fresh noise against the updated discriminator; as in the
  keras-io DCGAN example) -- it separates the cost of the algorithm from the
  cost of the framework;
* ``gan_fit``: ``tfgen.GAN(generator=G, discriminator=D, latent_dim=100)``
  with the tutorial's networks through ``fit``;
* ``gan_fit_simultaneous``: the same with ``compile(update="simultaneous")``,
  the tutorial's algorithm (one generator forward shared by both updates)
  inside tfgen's ``train_step``;
* ``gan_default_fit``: ``tfgen.GAN()`` with its own DCGAN networks (latent 64,
  Adam(2e-4, 0.5)) through ``fit``;
* ``gan_fit_own_dataset``: ``gan_fit_simultaneous`` fed a user's own
  pipeline instead of tfgen's, ``tf.data.Dataset.from_tensor_slices(x)
  .batch(B, drop_remainder=True).cache().repeat()`` with tf.data's defaults
  (autotuning on), as a user would write it: ``fit`` must not pay the
  iterator-teardown stall tfgen's own pipelines avoid (its ratio is taken
  against ``gan_loop``, whose pipeline is tfgen's; both pipelines are
  thousands of times faster than the training, see ``benchmarks.pipeline``).

VAE (tfgen's default conv encoder/decoder, latent 16, Adam(1e-3), Bernoulli
reconstruction + KL, dynamically binarised images):

* ``vae_loop``: a hand-written ``@tf.function`` step over the same networks and loss;
* ``vae_fit``: ``tfgen.VAE(encoder=E, decoder=D)`` through ``fit``.

Each in float32 and, where the machine computes bfloat16 natively (or when
``--dtypes`` asks for it), under Keras's ``mixed_bfloat16`` policy.
A round of a loop contender iterates a fresh iterator for ``--steps``
batches; a round of a fit contender is ``fit(data, epochs=1,
steps_per_epoch=--steps)``: both include creating the iterator, like an
epoch, and ``fit`` also its per-call set-up (callbacks, data adapter) and
the teardown of its iterator (which took seconds per call while tf.data's
autotuning was on in tfgen's pipelines). So each round is also timed from
the start of its first step to the end of its last ("in epoch": the rate a
long epoch converges to), and the set-up per round is reported in seconds.
Reported: median images/s over rounds, the ratios fit/loop of the same
algorithm and networks (``RATIOS``; median of the
per-round ratios of wall time, whole round and in epoch; also of process
CPU time, which other processes on the machine disturb less), FLOPs of one train step counted analytically
(2 x the multiply-accumulates of every Dense/Conv2D/Conv2DTranspose pass the
step runs: forwards, weight gradients, input gradients; elementwise work not
counted; see ``gan_flops_per_example``), achieved GFLOP/s, and the peak of a 2048x2048 ``tf.matmul`` (float32 and bfloat16),
itself timed in every round.

    python -m benchmarks.throughput                  # 5 rounds x 20 steps, float32 (and bfloat16 where native)
    python -m benchmarks.throughput --rounds 12 --steps 4   # more, shorter rounds: steadier ratios under load
    python -m benchmarks.throughput --quick          # 2 rounds x 3 steps, float32, loops and fit only

Results go to stdout and, as JSON, to ``benchmarks/results/throughput.json``.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

import tfgen  # noqa: E402
from benchmarks.common import machine, write_result  # noqa: E402
from tfgen import losses as tfgen_losses  # noqa: E402
from tfgen import precision as tfgen_precision  # noqa: E402
from tfgen.models import vae_networks  # noqa: E402
from tfgen.models.gan import GAN  # noqa: E402
from tfgen.models.vae import VAE  # noqa: E402

IMAGE_SHAPE = (28, 28, 1)
GAN_LATENT_DIM = 100
VAE_LATENT_DIM = 16


# ---------------------------------------------------------------- networks
def make_generator_model():
    """The TensorFlow DCGAN tutorial's generator: ``[B, 100] -> [B, 28, 28, 1]`` in [-1, 1]."""
    return keras.Sequential(
        [
            keras.Input((GAN_LATENT_DIM,)),
            layers.Dense(7 * 7 * 256, use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Reshape((7, 7, 256)),
            layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same", use_bias=False, activation="tanh"),
        ],
        name="tutorial_generator",
    )


def make_discriminator_model():
    """The TensorFlow DCGAN tutorial's discriminator: ``[B, 28, 28, 1] -> [B, 1]`` logits."""
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Flatten(),
            layers.Dense(1),
        ],
        name="tutorial_discriminator",
    )


def layer_macs(network):
    """Multiply-accumulates per example of every Dense/Conv2D/Conv2DTranspose layer, in call order.

    Batch norm, activations and losses (elementwise work) are not counted.
    """
    macs = []
    for layer in network.layers:
        if isinstance(layer, keras.Model):
            macs.extend(layer_macs(layer))
            continue
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        if isinstance(layer, layers.Dense):
            macs.append(int(np.prod(kernel.shape)))
        elif isinstance(layer, layers.Conv2DTranspose):  # every input pixel meets the whole kernel
            height, width = layer.input.shape[1:3]
            macs.append(int(height * width * np.prod(kernel.shape)))
        elif isinstance(layer, layers.Conv2D):  # every output pixel meets the whole kernel
            height, width = layer.output.shape[1:3]
            macs.append(int(height * width * np.prod(kernel.shape)))
    return macs


def pass_flops(network, forward=True, weight_gradients=True, input_gradient=False):
    """FLOPs (2 per multiply-accumulate) per example of one use of ``network`` in a train step.

    Backpropagation costs one forward's worth for the weight gradients and one
    for the input gradients of every layer whose input needs a gradient: all
    but the first, unless the gradient must reach the network's input.
    """
    macs = layer_macs(network)
    macs_sum = sum(macs)
    total = (macs_sum if forward else 0) + (macs_sum if weight_gradients else 0)
    total += macs_sum if input_gradient else macs_sum - macs[0]
    return 2 * total


def gan_flops_per_example(generator, discriminator, alternating):
    """Analytic train-step FLOPs per real example (see ``pass_flops``).

    Simultaneous (the tutorial): G forward, D forward on real and fake, the
    discriminator tape's D backward on both, the generator tape's D backward
    on the fakes down to the images, G backward. Alternating (tfgen): the same
    plus a second G forward and D forward on fresh fakes for the generator update.
    """
    generator_update = pass_flops(generator) + pass_flops(
        discriminator, forward=alternating, weight_gradients=False, input_gradient=True
    )
    discriminator_update = 2 * pass_flops(discriminator)  # real and fake: forward + backward
    if alternating:
        discriminator_update += 2 * sum(layer_macs(generator))  # G forward for the D update
    return generator_update + discriminator_update


def vae_flops_per_example(encoder, decoder):
    """Encoder and decoder forward + backward; the decoder's gradient reaches z (the encoder)."""
    return pass_flops(encoder) + pass_flops(decoder, input_gradient=True)


# Precisions timed (tfgen.precision names; each contender is built under policy_scope, which also
# keeps tfgen's default precision, auto, from replacing a float32 contender's policy).
DTYPES = ("float32", "bfloat16")


# -------------------------------------------------------------- contenders
class LoopContender:
    """A hand-written ``@tf.function`` step called from a Python loop over the pipeline."""

    def __init__(self, name, family, dtype, dataset, step, flops_per_step):
        self.name, self.family, self.dtype, self.dataset, self.step = name, family, dtype, dataset, step
        self.flops_per_step = flops_per_step
        self.steps_seconds = self.steps_cpu_seconds = None

    def run(self, steps):
        iterator = iter(self.dataset)
        # The steps alone (from before the first batch is read to the end of the
        # last step): what a long epoch converges to.
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(steps):
            result = self.step(next(iterator))
        float(result)  # the step has finished
        self.steps_seconds = time.perf_counter() - start
        self.steps_cpu_seconds = time.process_time() - cpu_start


class _StepsTimer(keras.callbacks.Callback):
    """Wall and CPU time from the start of the first batch to the end of the last one of ``fit``."""

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def on_train_batch_end(self, batch, logs=None):
        self.end, self.cpu_end = time.perf_counter(), time.process_time()


class FitContender:
    """A tfgen model trained with ``fit(data, epochs=1, steps_per_epoch=steps)``."""

    def __init__(self, name, family, dtype, dataset, model, flops_per_step):
        self.name, self.family, self.dtype, self.dataset, self.model = name, family, dtype, dataset, model
        self.flops_per_step = flops_per_step
        self.steps_seconds = self.steps_cpu_seconds = None

    def run(self, steps):
        # On a CPU a tf.function call returns when its step has run, so the
        # batch callbacks' clocks bracket the steps (on a GPU they would not).
        timer = _StepsTimer()
        self.model.fit(self.dataset, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
        self.steps_seconds = timer.end - timer.start
        self.steps_cpu_seconds = timer.cpu_end - timer.cpu_start


class MatmulContender:
    """``repeats`` chained ``[n, n] @ [n, n]`` products (each feeds the next): the dense-algebra peak."""

    def __init__(self, dtype, size=2048, repeats=8):
        self.name, self.family, self.dtype = f"matmul_{dtype}", "peak", dtype
        tf_dtype = tf.bfloat16 if dtype == "bfloat16" else tf.float32
        self.a = tf.random.stateless_normal((size, size), seed=(1, 2), dtype=tf_dtype) / size**0.5
        self.b = tf.random.stateless_normal((size, size), seed=(3, 4), dtype=tf_dtype) / size**0.5
        self.repeats = repeats

        @tf.function
        def chain(a, b):
            # Each product feeds the next: identical independent products would be
            # merged by Grappler's common-subexpression elimination.
            for _ in range(repeats):
                a = tf.matmul(a, b)
            return tf.cast(a[0, 0], tf.float32)

        self.chain = chain
        self.flops_per_step = 2 * size**3 * repeats

    def run(self, steps):
        for _ in range(steps):
            float(self.chain(self.a, self.b))


def gan_loop_contender(dataset, dtype, batch_size, alternating=False):
    with tfgen_precision.policy_scope(dtype):
        generator = make_generator_model()
        discriminator = make_discriminator_model()
        generator_optimizer = keras.optimizers.Adam(1e-4)
        discriminator_optimizer = keras.optimizers.Adam(1e-4)
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    def discriminator_loss(real_output, fake_output):
        real_loss = cross_entropy(tf.ones_like(real_output), real_output)
        fake_loss = cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real_loss + fake_loss

    def generator_loss(fake_output):
        return cross_entropy(tf.ones_like(fake_output), fake_output)

    def discriminate(images):
        return tf.cast(discriminator(images, training=True), tf.float32)

    @tf.function
    def train_step(images):  # the tutorial's step
        noise = tf.random.normal([tf.shape(images)[0], GAN_LATENT_DIM])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminate(images)
            fake_output = discriminate(generated_images)
            gen_loss = generator_loss(fake_output)
            disc_loss = discriminator_loss(real_output, fake_output)
        gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, discriminator.trainable_variables))
        return disc_loss

    @tf.function
    def alternating_train_step(images):  # tfgen's algorithm, written by hand
        batch_size = tf.shape(images)[0]
        noise = tf.random.normal([batch_size, GAN_LATENT_DIM])
        generated_images = generator(noise, training=True)
        with tf.GradientTape() as disc_tape:
            disc_loss = discriminator_loss(discriminate(images), discriminate(generated_images))
        gradients = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        discriminator_optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))
        noise = tf.random.normal([batch_size, GAN_LATENT_DIM])
        with tf.GradientTape() as gen_tape:
            gen_loss = generator_loss(discriminate(generator(noise, training=True)))
        gradients = gen_tape.gradient(gen_loss, generator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients, generator.trainable_variables))
        return disc_loss

    step = alternating_train_step if alternating else train_step
    flops = batch_size * gan_flops_per_example(generator, discriminator, alternating)
    name = "gan_loop_alternating" if alternating else "gan_loop"
    return LoopContender(f"{name}_{dtype}", "gan", dtype, dataset, step, flops)


def own_dataset(batch_size):
    """A user's pipeline over the Fashion-MNIST training images in [-1, 1], written with tf.data's defaults."""
    images, _ = tfgen.data.load_arrays("fashion_mnist", split="train")
    images = images.astype("float32") / 127.5 - 1.0
    return tf.data.Dataset.from_tensor_slices(images).batch(batch_size, drop_remainder=True).cache().repeat()


def gan_fit_contender(dataset, dtype, batch_size, default_networks=False, update="alternating", name=None):
    with tfgen_precision.policy_scope(dtype):
        if default_networks:
            model = GAN(input_shape=IMAGE_SHAPE, seed=0)
            model.compile()
        else:
            model = GAN(
                generator=make_generator_model(),
                discriminator=make_discriminator_model(),
                latent_dim=GAN_LATENT_DIM,
                seed=0,
            )
            model.compile(d_optimizer=keras.optimizers.Adam(1e-4), g_optimizer=keras.optimizers.Adam(1e-4),
                          update=update)
    alternating = update == "alternating"
    flops = batch_size * gan_flops_per_example(model.generator, model.discriminator, alternating=alternating)
    name = name or ("gan_default_fit" if default_networks else ("gan_fit" if alternating else "gan_fit_simultaneous"))
    return FitContender(f"{name}_{dtype}", "gan", dtype, dataset, model, flops)


def _vae_networks():
    encoder = vae_networks.make_encoder(IMAGE_SHAPE, VAE_LATENT_DIM, seed=0)
    decoder = vae_networks.make_decoder(IMAGE_SHAPE, VAE_LATENT_DIM, seed=1)
    return encoder, decoder


def vae_loop_contender(dataset, dtype, batch_size):
    with tfgen_precision.policy_scope(dtype):
        encoder, decoder = _vae_networks()
        optimizer = keras.optimizers.Adam(1e-3)
    variables = encoder.trainable_variables + decoder.trainable_variables

    @tf.function
    def train_step(images):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = encoder(images, training=True)
            z_mean, z_log_var = tf.cast(z_mean, tf.float32), tf.cast(z_log_var, tf.float32)
            noise = tf.random.normal(tf.shape(z_mean))
            z = z_mean + tf.exp(0.5 * z_log_var) * noise
            logits = tf.cast(decoder(z, training=True), tf.float32)
            loss = tf.reduce_mean(
                tfgen_losses.bernoulli_reconstruction_loss(images, logits)
                + tfgen_losses.kl_divergence(z_mean, z_log_var)
            )
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    flops = batch_size * vae_flops_per_example(encoder, decoder)
    return LoopContender(f"vae_loop_{dtype}", "vae", dtype, dataset, train_step, flops)


def vae_fit_contender(dataset, dtype, batch_size):
    with tfgen_precision.policy_scope(dtype):
        encoder, decoder = _vae_networks()
        model = VAE(encoder=encoder, decoder=decoder, latent_dim=VAE_LATENT_DIM, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    flops = batch_size * vae_flops_per_example(encoder, decoder)
    return FitContender(f"vae_fit_{dtype}", "vae", dtype, dataset, model, flops)


# --------------------------------------------------------------------- main
CONTENDERS = [
    "gan_loop", "gan_loop_alternating", "gan_fit", "gan_fit_simultaneous", "gan_default_fit", "gan_fit_own_dataset",
    "vae_loop", "vae_fit",
]
RATIOS = [
    # (name, numerator contender, denominator contender): fit against the hand-written
    # loop of the same algorithm and networks only, so a ratio measures the framework.
    # (gan_default_fit has other networks, gan_loop another algorithm than gan_fit:
    # compare their images/s, not a ratio.)
    ("gan_fit_simultaneous / gan_loop", "gan_fit_simultaneous", "gan_loop"),
    ("gan_fit / gan_loop_alternating", "gan_fit", "gan_loop_alternating"),
    ("vae_fit / vae_loop", "vae_fit", "vae_loop"),
    ("gan_fit_own_dataset / gan_loop", "gan_fit_own_dataset", "gan_loop"),
]


def build_contenders(args):
    gan_data = tfgen.data.load("fashion_mnist", batch_size=args.batch_size, seed=0, repeat=True, drop_remainder=True)
    vae_data = tfgen.data.load(
        "fashion_mnist", batch_size=args.batch_size, seed=0, repeat=True, drop_remainder=True, binarize=True
    )
    builders = {
        "gan_loop": lambda dtype: gan_loop_contender(gan_data, dtype, args.batch_size),
        "gan_loop_alternating": lambda dtype: gan_loop_contender(gan_data, dtype, args.batch_size, alternating=True),
        "gan_fit": lambda dtype: gan_fit_contender(gan_data, dtype, args.batch_size),
        "gan_fit_simultaneous": lambda dtype: gan_fit_contender(gan_data, dtype, args.batch_size, update="simultaneous"),
        "gan_default_fit": lambda dtype: gan_fit_contender(gan_data, dtype, args.batch_size, default_networks=True),
        "gan_fit_own_dataset": lambda dtype: gan_fit_contender(
            own_dataset(args.batch_size), dtype, args.batch_size, update="simultaneous", name="gan_fit_own_dataset"),
        "vae_loop": lambda dtype: vae_loop_contender(vae_data, dtype, args.batch_size),
        "vae_fit": lambda dtype: vae_fit_contender(vae_data, dtype, args.batch_size),
    }
    contenders, failures = [], {}
    for dtype in args.dtypes:
        contenders.append(MatmulContender(dtype))
        for kind in args.contenders:
            name = f"{kind}_{dtype}"
            try:
                contender = builders[kind](dtype)
                start = time.perf_counter()
                contender.run(2)  # traces
                print(f"built {name}: {contender.flops_per_step / 1e9:.2f} GFLOP/step, "
                      f"warm-up {time.perf_counter() - start:.1f} s", flush=True)
                contenders.append(contender)
            except Exception as error:  # report (e.g. a model failing under bfloat16), keep going
                failures[name] = f"{type(error).__name__}: {error}"[:2000]
                print(f"FAILED {name}: {failures[name][:300]}", flush=True)
    return contenders, failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="train steps per contender per round")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--dtypes", nargs="+", default=None, choices=sorted(DTYPES),
                        help="default: float32, plus bfloat16 where it is native (--quick: float32)")
    parser.add_argument("--contenders", nargs="+", default=None, choices=CONTENDERS,
                        help="default: all (--quick: gan_loop gan_fit_simultaneous vae_loop vae_fit)")
    parser.add_argument("--quick", action="store_true", help="2 rounds x 3 steps, float32, 4 contenders")
    parser.add_argument("--output", default=os.path.join("benchmarks", "results", "throughput.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.steps = 2, 3
    if args.dtypes is None:
        # Emulated bfloat16 (a CPU without avx512_bf16/amx_bf16) is many times
        # slower than float32: time it only where it is native, unless asked.
        native_bfloat16 = tfgen_precision.default_precision() == "bfloat16"
        args.dtypes = ["float32"] + (["bfloat16"] if native_bfloat16 and not args.quick else [])
        if not native_bfloat16:
            print("bfloat16 is not native on this machine: timing float32 only (--dtypes bfloat16 to force)")
    if args.contenders is None:
        args.contenders = ["gan_loop", "gan_fit_simultaneous", "vae_loop", "vae_fit"] if args.quick else list(CONTENDERS)
    started = time.time()
    load_before = machine()["load_average_1min"]
    contenders, failures = build_contenders(args)

    seconds = {c.name: [] for c in contenders}
    cpu_seconds = {c.name: [] for c in contenders}  # process CPU time: less sensitive to other processes
    steps_seconds = {c.name: [] for c in contenders if c.family != "peak"}  # the steps alone, without set-up
    steps_cpu_seconds = {c.name: [] for c in contenders if c.family != "peak"}
    for round_index in range(args.rounds):
        # Alternate the order too, so no contender always follows the same one.
        order = contenders if round_index % 2 == 0 else contenders[::-1]
        for contender in order:
            steps = 1 if contender.family == "peak" else args.steps
            start, cpu_start = time.perf_counter(), time.process_time()
            contender.run(steps)
            seconds[contender.name].append(time.perf_counter() - start)
            cpu_seconds[contender.name].append(time.process_time() - cpu_start)
            if contender.family != "peak":
                steps_seconds[contender.name].append(contender.steps_seconds)
                steps_cpu_seconds[contender.name].append(contender.steps_cpu_seconds)
        print(f"round {round_index + 1}/{args.rounds}: "
              + ", ".join(f"{c.name} {args.batch_size * args.steps / seconds[c.name][-1]:.0f}"
                          for c in contenders if c.family != "peak"), flush=True)

    rows = {}
    for contender in contenders:
        if contender.family == "peak":
            per_round = [contender.flops_per_step / s / 1e9 for s in seconds[contender.name]]
            rows[contender.name] = {
                "gflops_per_second": per_round,
                "median_gflops_per_second": statistics.median(per_round),
                "median_gflops_per_cpu_second": statistics.median(
                    contender.flops_per_step / s / 1e9 for s in cpu_seconds[contender.name]
                ),
            }
            continue
        images = [args.batch_size * args.steps / s for s in seconds[contender.name]]
        median = statistics.median(images)
        steps_images = [args.batch_size * args.steps / s for s in steps_seconds[contender.name]]
        gflops = contender.flops_per_step / 1e9 * median / args.batch_size
        rows[contender.name] = {
            "family": contender.family,
            "dtype": contender.dtype,
            "images_per_second": images,
            "median_images_per_second": median,
            "median_images_per_cpu_second": statistics.median(
                args.batch_size * args.steps / s for s in cpu_seconds[contender.name]
            ),
            "cpu_seconds": cpu_seconds[contender.name],
            # Without the per-round set-up (iterator; for fit also callbacks,
            # data adapter, distributed iterator): the rate inside a long epoch.
            "steps_images_per_second": steps_images,
            "median_steps_images_per_second": statistics.median(steps_images),
            "median_setup_seconds_per_round": statistics.median(
                total - inside for total, inside in zip(seconds[contender.name], steps_seconds[contender.name])
            ),
            "gflop_per_step": contender.flops_per_step / 1e9,
            "achieved_gflops_per_second": gflops,
        }
    for name, row in rows.items():
        if "dtype" in row and f"matmul_{row['dtype']}" in rows:
            peak = rows[f"matmul_{row['dtype']}"]
            row["fraction_of_matmul_peak"] = row["achieved_gflops_per_second"] / peak["median_gflops_per_second"]
            # Per CPU-second of this process: what the step achieves with the cores it actually got.
            row["fraction_of_matmul_peak_by_cpu_time"] = (
                row["gflop_per_step"] / args.batch_size * row["median_images_per_cpu_second"]
                / peak["median_gflops_per_cpu_second"]
            )
    ratios = {}
    for dtype in args.dtypes:
        for label, top, bottom in RATIOS:
            top_name, bottom_name = f"{top}_{dtype}", f"{bottom}_{dtype}"
            if top_name in seconds and bottom_name in seconds:
                per_round = [b / t for t, b in zip(seconds[top_name], seconds[bottom_name])]
                per_round_cpu = [b / t for t, b in zip(cpu_seconds[top_name], cpu_seconds[bottom_name])]
                in_epoch = [b / t for t, b in zip(steps_seconds[top_name], steps_seconds[bottom_name])]
                in_epoch_cpu = [b / t for t, b in zip(steps_cpu_seconds[top_name], steps_cpu_seconds[bottom_name])]
                ratios[f"{label} [{dtype}]"] = {
                    "median": statistics.median(per_round),
                    "per_round": per_round,
                    "median_by_cpu_time": statistics.median(per_round_cpu),
                    # The steps alone: what the ratio tends to as epochs get longer.
                    "median_in_epoch": statistics.median(in_epoch),
                    "in_epoch_per_round": in_epoch,
                    "median_in_epoch_by_cpu_time": statistics.median(in_epoch_cpu),
                }

    result = {
        "benchmark": "throughput",
        "command": "python -m benchmarks.throughput " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "batch_size": args.batch_size,
        "flops_counted_by": "analytic: 2 x multiply-accumulates of Dense/Conv2D/Conv2DTranspose layers, forward + weight and input gradients as each step needs them (benchmarks.throughput.pass_flops)",
        "machine": machine(),
        "load_average_1min_at_start": load_before,
        "seconds": time.time() - started,
        "contenders": rows,
        "ratios": ratios,
        "failures": failures,
    }
    print()
    print("| contender | images/s (median) | in epoch | set-up s/round | GFLOP/step | GFLOP/s | of matmul peak |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        if "dtype" in row:
            print(f"| {name} | {row['median_images_per_second']:.0f} | {row['median_steps_images_per_second']:.0f} "
                  f"| {row['median_setup_seconds_per_round']:.2f} | {row['gflop_per_step']:.1f} | "
                  f"{row['achieved_gflops_per_second']:.0f} | {row.get('fraction_of_matmul_peak', float('nan')):.2f} |")
        else:
            print(f"| {name} (peak) | | | {row['median_gflops_per_second']:.0f} | |")
    print()
    for label, ratio in ratios.items():
        print(f"{label}: {ratio['median']:.3f}  (rounds: {', '.join(f'{r:.3f}' for r in ratio['per_round'])}; "
              f"by CPU time: {ratio['median_by_cpu_time']:.3f}); in epoch: {ratio['median_in_epoch']:.3f} "
              f"(rounds: {', '.join(f'{r:.3f}' for r in ratio['in_epoch_per_round'])}; "
              f"by CPU time: {ratio['median_in_epoch_by_cpu_time']:.3f})")
    for name, message in failures.items():
        print(f"FAILED {name}: {message[:500]}")
    print(f"load average: {load_before} at start, {result['machine']['load_average_1min']} at end")
    return write_result(result, args.output)


if __name__ == "__main__":
    main()
