# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -papermill
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Generative adversarial networks
#
# `tfgen.GAN` trains a generator against a discriminator with plain
# `model.fit`. This notebook explains its `train_step`, trains it on two
# 2-D toy problems where we can *see* which modes of the data the
# generator covers, and then trains a class-conditional GAN on
# Fashion-MNIST: sample grids during training, the EMA generator
# against the raw one, and generation by class.
#
# *Full and small mode.* The first code cell sets `mode = "full"`; it is a
# [papermill](https://papermill.readthedocs.io) parameter, and sizes (epochs,
# steps, image counts) are written `A if mode == "full" else B`. The committed
# notebook shows the **full** mode; the test suite runs it with
# `mode = "small"`, where every number shrinks so the whole notebook runs in
# seconds (and its pictures are noise). Everything the notebook writes goes to
# a fresh temporary directory (`RUN_DIR`), never into the repository.

# %% tags=["parameters"]
mode = "full"   # "full" (what the committed notebook shows) or "small" (seconds: papermill -p mode small)

# %%
if mode not in ("full", "small"):
    raise ValueError(f"mode must be 'full' or 'small'; received {mode!r}.")

import os
import tempfile
import warnings
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # keep TensorFlow's C++ log out of the outputs
# Keras warns that fit's default shuffle=True does not apply to a tf.data pipeline (ours shuffle themselves).
warnings.filterwarnings("ignore", message="`shuffle=True` was passed")

import numpy as np
import keras
from IPython.display import Image, display

import tfgen
from tfgen import plotting
from tfgen.data import mixtures
from tfgen.metrics import mode_coverage

RUN_DIR = tempfile.mkdtemp(prefix="tfgen-notebooks-02_gan-")   # a fresh directory for everything this notebook writes
print(f"mode: {mode}\nwriting to: {RUN_DIR}")

# %% [markdown]
# ## What one training step does
#
# `GAN.train_step` runs `d_steps_per_g_step` discriminator updates and
# then one generator update:

# %%
import inspect
print(inspect.getsource(tfgen.GAN.train_step))

# %% [markdown]
# * The discriminator update (`discriminator_step(examples, labels)` when
#   called on its own) draws latent vectors, makes
#   fakes with the generator (whose state is left untouched), computes
#   the discriminator loss on real and fake examples (plus the gradient
#   penalty or R1 penalty if enabled) and updates **only** the
#   discriminator.
# * The generator update (`generator_step(batch_size, labels)` on its
#   own) makes fresh fakes, asks the
#   discriminator about them and updates **only** the generator (and
#   the EMA copy of its weights, if enabled) to make the discriminator
#   call them real.
# * The noise of row `i` at step `t` is a function of `(seed, t, i)`
#   (`tfgen.random`), so runs are reproducible and replicas draw
#   different noise. An update whose loss or gradients are not finite is
#   skipped, and `fit` stops with a message.
# * The losses are pure functions from `tfgen.losses`, chosen by name:
#   `non_saturating` (default), `minimax`, `hinge`, `wasserstein`,
#   `least_squares`.
#
# The two halves are public methods, so we can check the first claim
# directly: one discriminator step changes the discriminator and
# nothing else, one generator step the reverse.

# %%
toy_gan = tfgen.GAN(input_shape=(2,), latent_dim=16, seed=0)
toy_gan.compile(loss="non_saturating")
points = next(iter(tfgen.data.load("ring8", batch_size=64, seed=0)))

def changed(network, before):
    return any(not np.array_equal(a, b) for a, b in zip(before, network.get_weights()))

g_before, d_before = toy_gan.generator.get_weights(), toy_gan.discriminator.get_weights()
results = toy_gan.discriminator_step(points)
print("discriminator step:", {k: tuple(v.shape) for k, v in results.items()})
print("  discriminator changed:", changed(toy_gan.discriminator, d_before),
      "| generator changed:", changed(toy_gan.generator, g_before))

g_before, d_before = toy_gan.generator.get_weights(), toy_gan.discriminator.get_weights()
results = toy_gan.generator_step(64)
print("generator step:", {k: tuple(v.shape) for k, v in results.items()})
print("  discriminator changed:", changed(toy_gan.discriminator, d_before),
      "| generator changed:", changed(toy_gan.generator, g_before))

# %% [markdown]
# ## Mode coverage on 2-D mixtures
#
# `ring8` (8 Gaussians on the unit circle, std 0.01) and `grid25`
# (25 Gaussians on a 5x5 grid, std 0.05) are the classic tests of
# *mode collapse*: a generator that covers only some modes is easy to
# spot. `tfgen.metrics.mode_coverage` gives the standard figures: a
# sample is *high quality* when it lies within 3 standard deviations of
# its nearest mode, a mode is *captured* when it has at least one
# high-quality sample, and the KL divergence from uniform of the
# high-quality samples' histogram says how evenly they are spread
# (0 is perfect).
#
# Settings: MLPs of 3 x 256 units, batch 256, Adam with the learning
# rate cosine-decayed to 0 (the annealed end pulls the samples into the
# narrow modes), a small R1 penalty on the discriminator and an EMA
# generator. A `LambdaCallback` keeps samples at a few points of
# training.

# %%
TOY_STEPS = 3000 if mode == "full" else 60
SNAPSHOTS = 4
coverage = {}
for name in ["ring8", "grid25"]:
    data = tfgen.data.load(name, batch_size=256, seed=0, repeat=True, drop_remainder=True)
    gan = tfgen.GAN(input_shape=(2,), latent_dim=16, hidden_units=(256, 256, 256), seed=0)

    def optimizer():
        schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=TOY_STEPS)
        return keras.optimizers.Adam(schedule, beta_1=0.5)

    gan.compile(d_optimizer=optimizer(), g_optimizer=optimizer(), r1_penalty=0.3, ema_decay=0.99)
    steps_per_epoch = TOY_STEPS // SNAPSHOTS
    snapshots = {}
    keep = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.update(
        {f"step {(epoch + 1) * steps_per_epoch}": gan.generate(2000, seed=1).numpy()}))
    gan.fit(data, epochs=SNAPSHOTS, steps_per_epoch=steps_per_epoch, callbacks=[keep], verbose=0)

    means, std = mixtures.mixture_means(name), mixtures.mixture_std(name)
    path = plotting.save_point_panels(snapshots, os.path.join(RUN_DIR, f"{name}_training.png"),
                                      means=means, title=f"{name}: EMA generator samples (red: modes)")
    display(Image(filename=path))
    final = snapshots[f"step {SNAPSHOTS * steps_per_epoch}"]
    path = plotting.save_mode_coverage(final, means, std, os.path.join(RUN_DIR, f"{name}_coverage.png"),
                                       title=f"{name}, after {TOY_STEPS} steps")
    display(Image(filename=path))
    coverage[name] = {"EMA": mode_coverage(final, means, std),
                      "raw": mode_coverage(gan.generate(2000, seed=1, use_ema=False), means, std)}

for name, rows in coverage.items():
    for generator, c in rows.items():
        print(f"{name:7s} {generator:4s}: {c['modes_captured']:2d}/{c['num_modes']} modes, "
              f"{c['high_quality_fraction']:.1%} high quality, KL to uniform {c['kl_to_uniform']:.3f}")

# %% [markdown]
# Early on the generator spreads its samples around and between the
# modes; as the learning rate anneals they contract onto them. In the
# full-mode run above, 3,000 steps cover the ring evenly, while on the
# grid of 25 many samples still lie between the modes and along the
# edges of the square (a low high-quality fraction) and a mode or two
# may be missing (red bars): the grid is the harder problem and needs
# longer training. `python -m benchmarks.mixtures` runs this for every
# loss over several seeds, with 16,000 steps of batch 512.
#
# ## A conditional GAN on Fashion-MNIST
#
# With `num_classes=10` both networks also take the class label (the
# generator draws a garment of the class it is asked for; the
# discriminator judges whether an image is a real example *of that
# class*), and batches are `(images, labels)`. We use the built-in
# DCGAN-style networks with `base_filters=32` (half the default width, to
# keep this quick on a CPU) and keep an exponential moving average (EMA)
# of the generator's weights. `SampleGrid` writes one row per class
# after every epoch, always from the same latent vectors. An "epoch"
# here is `steps_per_epoch` batches of a repeating stream.

# %%
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]   # Fashion-MNIST labels 0..9
train = tfgen.data.load("fashion_mnist", batch_size=64, with_labels=True, seed=0, repeat=True,
                        drop_remainder=True, num_examples=None if mode == "full" else 512)
cgan = tfgen.GAN(input_shape=(28, 28, 1), latent_dim=64, num_classes=10, base_filters=32, seed=0)
# A short run: an EMA decay of 0.99 averages over the last ~100 steps (0.999 suits long runs).
cgan.compile(loss="non_saturating", ema_decay=0.99)

EPOCHS = 8 if mode == "full" else 2
STEPS_PER_EPOCH = 150 if mode == "full" else 4
grids = tfgen.callbacks.SampleGrid(os.path.join(RUN_DIR, "cgan_samples"), num_samples=60, seed=1)
history = cgan.fit(train, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH, callbacks=[grids], verbose=2)

# %%
for epoch in sorted({1, (EPOCHS + 1) // 2, EPOCHS}):
    print(f"after epoch {epoch} ({epoch * STEPS_PER_EPOCH} steps); rows are classes 0..9")
    display(Image(filename=grids.written_paths[epoch - 1], width=260))
path = plotting.save_loss_curves(history, os.path.join(RUN_DIR, "cgan_losses.png"))
display(Image(filename=path))

# %% [markdown]
# The discriminator's and generator's losses do not fall together the
# way a classifier's loss does: each network's loss is the other's
# gain. Steady curves and accuracies away from 0 and 1 mean neither side
# has won; the pictures are the better guide to progress.
#
# ## EMA against raw generator
#
# The raw generator's weights jump around as it chases a moving
# discriminator; the EMA generator averages them over recent steps,
# which usually gives cleaner, more stable samples at no training cost.
# `generate` uses the EMA copy when the GAN was compiled with
# `ema_decay`; `use_ema=False` asks for the raw one. Same latent
# vectors and labels on both sides:

# %%
labels = np.repeat(np.arange(10), 6)
path = plotting.save_image_panels(
    {"raw generator": cgan.generate(60, seed=3, labels=labels, use_ema=False),
     "EMA generator": cgan.generate(60, seed=3, labels=labels)},
    os.path.join(RUN_DIR, "ema_vs_raw.png"), num_rows=10)
display(Image(filename=path))

# %% [markdown]
# ## Generation by class
#
# Ask for any class with `labels=`: below, 10 samples of each class
# (one row per class, fresh latent vectors).

# %%
labels = np.repeat(np.arange(10), 10)
path = plotting.save_image_grid(cgan.generate(100, seed=4, labels=labels),
                                os.path.join(RUN_DIR, "by_class.png"), num_rows=10,
                                title="one row per class")
for label, name in enumerate(CLASS_NAMES):
    print(f"row {label}: {name}")
display(Image(filename=path))

# %% [markdown]
# A thousand steps with half-width networks give recognisable
# garments of the requested classes; the benchmark
# (`python -m benchmarks.gan_fashion_mnist`, full-width networks, tens
# of epochs) gets much further. Notebook 5 puts numbers on sample
# quality.
