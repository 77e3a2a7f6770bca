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
# # 8. The VAE family: decoder likelihoods, learned variance, conditional VAEs
#
# Notebook 1 builds the VAE with a Bernoulli decoder on binarised images.
# What a VAE can model depends on its decoder's likelihood `p(x|z)`; this
# notebook trains the same VAE with each of tfgen's four likelihoods on
# Fashion-MNIST and compares what they generate, what the learned variance
# becomes, and which give a real log-likelihood of 8-bit images (bits per
# dimension). It then trains a class-conditional VAE and generates each
# class on demand.
#
# | `likelihood=` | the decoder outputs | for |
# |---|---|---|
# | `bernoulli` | logits | binary pixels (binarised data) |
# | `gaussian` | means; one scale, learned (or fixed with `observation_std`) | continuous data |
# | `gaussian_per_pixel` | means and a log standard deviation per pixel | continuous data with uneven noise |
# | `discretized_logistic` | location and log-scale per pixel (PixelCNN++) | 8-bit images: `log_likelihood` is a probability |
#
# Not in tfgen yet: the two-stage VAE, hierarchical (ladder) VAEs and the
# VampPrior. They are planned; this notebook will show them once they land.
#
# *Full and small mode.* The first code cell sets `mode = "full"`; it is a
# [papermill](https://papermill.readthedocs.io) parameter, and sizes
# (epochs, image counts, importance samples) are written `A if mode ==
# "full" else B`. The committed notebook shows the **full** mode; the test
# suite runs it with `mode = "small"`, where every number shrinks so the
# whole notebook runs in under a minute (and its pictures are noise).
# Everything the notebook writes goes to a fresh temporary directory
# (`RUN_DIR`), never into the repository.

# %% tags=["parameters"]
mode = "full"   # "full" (what the committed notebook shows) or "small" (under a minute: papermill -p mode small)

# %%
if mode not in ("full", "small"):
    raise ValueError(f"mode must be 'full' or 'small'; received {mode!r}.")

import math
import os
import tempfile
import time
import warnings
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # keep TensorFlow's C++ log out of the outputs
warnings.filterwarnings("ignore", message="`shuffle=True` was passed")

import keras
import numpy as np
import tensorflow as tf
from IPython.display import Image, display

import tfgen
from tfgen import plotting

tf.get_logger().setLevel("ERROR")   # several models fit in one session: keep TensorFlow's retracing notes out
RUN_DIR = tempfile.mkdtemp(prefix="tfgen-notebooks-08_vae_family-")   # everything this notebook writes
EPOCHS = 3 if mode == "full" else 1
NUM_EXAMPLES = None if mode == "full" else 256
NUM_TEST = 1000 if mode == "full" else 16
print(f"mode: {mode}\nwriting to: {RUN_DIR}\n"
      f"precision: {tfgen.precision.precision_name(tfgen.precision.default_setting())}")

# %% [markdown]
# ## One VAE, four likelihoods
#
# The same encoder and decoder networks (latent 16), trained for the same
# epochs; only `likelihood=` changes, and with it the decoder's last layer
# (one map per channel, or two for the per-pixel scales). The Bernoulli
# model trains on dynamically binarised images, the others on the 8-bit
# images scaled to [-1, 1].

# %%
LIKELIHOODS = ["bernoulli", "gaussian", "gaussian_per_pixel", "discretized_logistic"]
models, seconds = {}, {}
for likelihood in LIKELIHOODS:
    train = tfgen.data.load("fashion_mnist", batch_size=128, seed=0, binarize=likelihood == "bernoulli",
                            num_examples=NUM_EXAMPLES)
    vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=16, likelihood=likelihood, seed=0, name=f"vae_{likelihood}")
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = time.perf_counter()
    history = vae.fit(train, epochs=EPOCHS, verbose=0)
    seconds[likelihood] = time.perf_counter() - start
    models[likelihood] = vae
    print(f"{likelihood:22s} loss {history.history['loss'][-1]:9.2f} nats per image after {EPOCHS} epochs "
          f"({seconds[likelihood]:.0f} s)")

# %% [markdown]
# The losses are negative ELBOs, but of different things: the Bernoulli one
# is about binary pixels, the Gaussian ones about continuous densities, so
# they are not comparable with each other. Their samples are: each panel is
# the decoder's mean image for the same 40 latent vectors.

# %%
display(Image(plotting.save_image_panels(
    {likelihood: model.generate(40, seed=1) for likelihood, model in models.items()},
    os.path.join(RUN_DIR, "samples.png"), num_rows=8, title="decoder means, same latent vectors")))

# %% [markdown]
# ## The learned variance
#
# With `likelihood="gaussian"` and no `observation_std`, the VAE learns one
# scale for all pixels: the noise level its decoder cannot explain. A fixed
# scale is a hidden weight between reconstruction and KL (the "beta" of a
# beta-VAE); learning it removes that choice and is what Dai & Wipf (2019)
# found closes much of the VAE's gap in sample quality. The per-pixel model
# learns a whole map of scales instead. In the committed run that freedom
# hurt: its samples (third panel above) are the blurriest of the four,
# likely because a free scale per pixel lets the decoder call detail noise
# rather than encode it in the latent vector.
# Three epochs is short; whether longer training or a floor on the scales
# changes that has not been measured here.

# %%
gaussian = models["gaussian"]
print(f"learned observation standard deviation: {math.exp(float(gaussian.log_scale.numpy())):.4f} "
      "(images in [-1, 1])")
test_images, test_labels = tfgen.data.load_arrays("fashion_mnist", split="test")
test = test_images[:NUM_TEST].astype("float32") / 127.5 - 1.0
per_pixel = models["gaussian_per_pixel"]
mean_rmse = float(np.sqrt(np.mean((per_pixel.reconstruct(test[:256]) - test[:256]) ** 2)))
print(f"gaussian_per_pixel: reconstruction RMSE {mean_rmse:.4f} on {len(test[:256])} test images")

# %% [markdown]
# ## A real log-likelihood: bits per dimension
#
# Only `discretized_logistic` assigns a probability to each 8-bit pixel
# value, so only its `log_likelihood` (an importance-sampled bound, IWAE, in
# nats per image) is a probability of the data, comparable with any other
# model's on the same images: bits per dimension are
# `-log_likelihood / (28 * 28 * ln 2)`. (The Gaussian models give densities
# of continuous values: not comparable. The Bernoulli model's is a
# probability of *binarised* images: notebook 1 measures it.)

# %%
k_values = [1, 10, 100] if mode == "full" else [1, 2]
logistic = models["discretized_logistic"]
for k in k_values:
    log_px = np.asarray(logistic.log_likelihood(test, num_samples=k, seed=0))
    print(f"K = {k:4d}: log p(x) >= {log_px.mean():9.2f} nats per image, "
          f"{-log_px.mean() / (28 * 28 * math.log(2)):.3f} bits per dimension ({len(test)} test images)")

# %% [markdown]
# K = 1 is the ELBO; more importance samples give a tighter bound, never a
# looser one (in expectation).
#
# ## A conditional VAE
#
# `num_classes=10` adds a learned label embedding to the encoder and the
# decoder: batches are `(images, labels)`, and `generate` takes the
# labels to draw. Each row below is one class; each column one latent
# vector, shared by the whole column (so a column keeps its style across
# classes).

# %%
train = tfgen.data.load("fashion_mnist", batch_size=128, seed=0, with_labels=True, num_examples=NUM_EXAMPLES)
cvae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=16, likelihood="discretized_logistic", num_classes=10,
                 seed=0, name="cvae")
cvae.compile(optimizer=keras.optimizers.Adam(1e-3))
cvae.fit(train, epochs=EPOCHS, verbose=0)
latents = cvae.sample_latents(8, seed=2)
grid = np.concatenate([np.asarray(cvae.decode(latents, np.full(8, label, "int32"))) for label in range(10)])
display(Image(plotting.save_image_grid(grid, os.path.join(RUN_DIR, "conditional.png"), num_rows=10,
                                       title="one class per row, one latent vector per column")))

# %% [markdown]
# Labels condition the likelihood too: `cvae.log_likelihood(images,
# labels=labels)` is `log p(x | y)`, which is higher than the unconditional
# model's `log p(x)` when the label carries information the latent vector
# would otherwise have to encode.

# %%
k = 100 if mode == "full" else 2
conditional = np.asarray(cvae.log_likelihood(test, num_samples=k, seed=0,
                                             labels=test_labels[:NUM_TEST].astype("int32")))
unconditional = np.asarray(logistic.log_likelihood(test, num_samples=k, seed=0))
print(f"K = {k}: log p(x | y) {conditional.mean():.2f} against log p(x) {unconditional.mean():.2f} nats per image")

# %% [markdown]
# ## On the command line
#
# ```bash
# tfgen train vae --dataset fashion_mnist --likelihood discretized_logistic
# tfgen train vae --dataset fashion_mnist --likelihood gaussian_per_pixel
# tfgen train vae --dataset fashion_mnist --conditional --likelihood discretized_logistic
# tfgen evaluate --model runs/vae_fashion_mnist/model.keras --metrics log_likelihood
# ```
