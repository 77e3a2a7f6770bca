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
# # 5. How good are the samples?
#
# Loss values say little about sample quality (a GAN's losses hardly
# move while its samples improve). This notebook trains a VAE and a GAN
# briefly, plots their loss curves, and compares their samples with real
# Fashion-MNIST images using `tfgen.metrics`:
#
# * **FID** (Frechet Inception distance): the distance between Gaussians
#   fitted to InceptionV3 features of real and generated images; lower
#   is better; it measures quality and diversity together.
# * **KID** (kernel Inception distance): an unbiased kernel
#   (MMD) estimate on the same features, usable at small sample sizes.
# * **Precision and recall** (k-nearest-neighbour manifolds): precision
#   is the fraction of generated images that look like some real image
#   (quality); recall the fraction of real images the generator can
#   produce something like (diversity).
# * **fashion_fd**: the Frechet distance of a small Fashion-MNIST
#   classifier's features: thousands of images per second, so it suits
#   monitoring during training; its scale is its own.
#
# **Cost, stated plainly.** FID's InceptionV3 runs at 299x299: about 16
# images per second on this 2-core CPU when the machine is quiet. So
# the full mode of this notebook uses **500 images** per set
# (`NUM_IMAGES` below), and the small mode a handful. FID is biased
# upwards for small N: compare only values computed with the same N,
# and quote N with them. `python -m tfgen evaluate ... --num-samples
# 10000` computes the standard figures when you have the time (or a
# GPU).
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

import keras
from IPython.display import Image, display

import tfgen
from tfgen import plotting
from tfgen import metrics

RUN_DIR = tempfile.mkdtemp(prefix="tfgen-notebooks-05_evaluate-")   # a fresh directory for everything this notebook writes
print(f"mode: {mode}\nwriting to: {RUN_DIR}")

# %% [markdown]
# ## Two models to evaluate, and their loss curves
#
# A VAE (2 epochs) and a class-conditional GAN (1,200 steps, EMA
# generator; notebook 2 explains both). The GAN
# also gets a `MetricCallback` that computes `fashion_fd` on 1000
# samples after every epoch: a quality curve next to its loss curves.

# %%
vae_train = tfgen.data.load("fashion_mnist", batch_size=128, binarize=True, seed=0,
                            num_examples=None if mode == "full" else 256)
vae_validation = tfgen.data.load("fashion_mnist", split="test", batch_size=500, binarize=True, seed=1,
                                 num_examples=2000 if mode == "full" else 100)
vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=16, seed=0)
vae.compile(optimizer=keras.optimizers.Adam(1e-3))
vae_history = vae.fit(vae_train, validation_data=vae_validation,
                      epochs=2 if mode == "full" else 1, verbose=2)
display(Image(filename=plotting.save_loss_curves(vae_history, os.path.join(RUN_DIR, "vae_losses.png"),
                                                 title="VAE")))

# %%
gan_train = tfgen.data.load("fashion_mnist", batch_size=64, with_labels=True, seed=0, repeat=True,
                            drop_remainder=True, num_examples=None if mode == "full" else 512)
gan = tfgen.GAN(input_shape=(28, 28, 1), latent_dim=64, num_classes=10, base_filters=32, seed=0)
gan.compile(ema_decay=0.99)
# generate() without labels cycles through the classes: 10% of the samples per class, like the test set.
quality = metrics.MetricCallback(["fashion_fd"], dataset="fashion_mnist",
                                 num_samples=1000 if mode == "full" else 50, every_n_epochs=1)
gan_history = gan.fit(gan_train, epochs=8 if mode == "full" else 2,
                      steps_per_epoch=150 if mode == "full" else 4, callbacks=[quality], verbose=2)
display(Image(filename=plotting.save_loss_curves(gan_history, os.path.join(RUN_DIR, "gan_losses.png"),
                                                 title="GAN (fashion_fd: lower is better)")))

# %% [markdown]
# ## The real-data floor
#
# Even two sets of *real* images are not at distance 0: with finite N,
# the estimates carry noise and (for FID) bias. Comparing real training
# images with real test images, at the same N, gives the floor that no
# generator can be expected to beat. Real features are cached
# (`~/.cache/tfgen/reference`), so the test set's features are
# computed once and reused for every model.

# %%
import time

NUM_IMAGES = 500 if mode == "full" else 24
# FID's matrix square root of 2048 x 2048 covariances costs seconds per call whatever N is: small mode skips it.
METRIC_NAMES = (["fid", "kid", "precision_recall", "fashion_fd"] if mode == "full"
                else ["kid", "precision_recall", "fashion_fd"])
# KID: mean and std over random subsets of half the images (subsets of all N would all be the same).
options = {"kid_subset_size": NUM_IMAGES // 2, "kid_subsets": 100 if mode == "full" else 10}
real_test = metrics.real_features(METRIC_NAMES, dataset="fashion_mnist", split="test",
                                  num_real_images=NUM_IMAGES)

train_pixels, _ = tfgen.data.load_arrays("fashion_mnist", split="train")
candidates = {
    "real (floor)": train_pixels[:NUM_IMAGES].astype("float32") / 127.5 - 1.0,
    "VAE": vae.generate(NUM_IMAGES, seed=1).numpy(),
    "GAN (EMA)": gan.generate(NUM_IMAGES, seed=1).numpy(),
}
results = {}
for name, images in candidates.items():
    start = time.perf_counter()
    results[name] = metrics.evaluate_images(images, METRIC_NAMES, real_activations=real_test, **options)
    print(f"{name}: {time.perf_counter() - start:.0f} s")

# %%
columns = [c for c in ["fid", "kid", "kid_std", "precision", "recall", "fashion_fd"]
           if c in next(iter(results.values()))]
print(f"N = {NUM_IMAGES} images per set, compared with the first {NUM_IMAGES} test images\n")
print(f"{'':14s}" + "".join(f"{c:>12s}" for c in columns))
for name, row in results.items():
    print(f"{name:14s}" + "".join(f"{row[c]:12.4f}" for c in columns))

path = plotting.save_image_panels({name: images[:36] for name, images in candidates.items()},
                                  os.path.join(RUN_DIR, "compared.png"), num_rows=6)
display(Image(filename=path))

# %% [markdown]
# ## Reading the numbers
#
# * The floor row is the yardstick: a model's FID means something only
#   next to the floor at the same N. At N = 500 the floor is about 38,
#   far above the ~0 one might expect, because FID's bias shrinks only
#   like 1/N (at N = 2000 the quality benchmark measured about 12).
# * The VAE's samples are blurry (its decoder outputs the *mean* image):
#   few of them land near a real image in Inception space (precision
#   about 0.1).
# * The GAN's samples are sharper (precision about 0.5), but after
#   1,200 steps they cover little of the variety of real garments
#   (recall near 0), and FID, which counts both, ends up in the same
#   range as the VAE's. Longer training is what closes the gap: the
#   quality benchmark (`python -m benchmarks.quality_fashion_mnist`,
#   N = 2000, 10 GAN epochs) measured FID about 49 for the GAN against
#   about 104 for a 2-epoch VAE and a floor of about 12.
# * KID is unbiased, so its floor is about 0 at any N; quote its
#   standard deviation over subsets with it.
# * `fashion_fd` ranks the two models the other way round from FID in
#   this run: a different feature network weighs blur and texture
#   differently. It is cheap and follows one model's progress well (the
#   GAN's curve above), but quote the metric, N and feature network
#   together, and compare different kinds of models with more than one
#   number.
#
# The same from the command line, for a saved model or an export:
#
# ```bash
# python -m tfgen evaluate --model runs/vae_fashion_mnist/model.keras --dataset fashion_mnist \
#     --metrics fid,kid,precision_recall,log_likelihood --num-samples 10000
# ```
