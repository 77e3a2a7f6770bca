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
# # 1. A variational autoencoder on Fashion-MNIST
#
# This notebook trains `tfgen.VAE` and looks inside it: the data, the
# encoder, the reparameterised sampling layer, the decoder and the loss;
# then training with plain `model.fit`, reconstructions, samples, a walk
# through latent space, the 2-D latent space of a `latent_dim=2` model,
# and the importance-weighted (IWAE) estimate of the log-likelihood.
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
import tensorflow as tf
from IPython.display import Image, display

import tfgen
from tfgen import plotting

RUN_DIR = tempfile.mkdtemp(prefix="tfgen-notebooks-01_vae-")   # a fresh directory for everything this notebook writes
print(f"mode: {mode}\nwriting to: {RUN_DIR}")

# %% [markdown]
# ## Data
#
# `tfgen.data.load` returns a batched `tf.data.Dataset` of float32
# images in [-1, 1]. Fashion-MNIST is read from the original files on
# disk (nothing is downloaded). With `binarize=True` every pixel becomes
# 1 with probability `(x + 1) / 2` and -1 otherwise, redrawn on every
# pass over the data (*dynamic binarisation*): the Bernoulli likelihood
# we use below models binary pixels, and fresh draws each epoch act as
# data augmentation. `load_arrays` gives the raw uint8 arrays, handy for
# picking particular test images.

# %%
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]   # Fashion-MNIST labels 0..9
BATCH_SIZE = 128
train = tfgen.data.load("fashion_mnist", batch_size=BATCH_SIZE, binarize=True, seed=0,
                        num_examples=None if mode == "full" else 256)
validation = tfgen.data.load("fashion_mnist", split="test", batch_size=500, binarize=True, seed=1,
                             num_examples=2000 if mode == "full" else 100)

test_pixels, test_labels = tfgen.data.load_arrays("fashion_mnist", split="test")  # uint8, int64
test_images = test_pixels.astype("float32") / 127.5 - 1.0                         # [-1, 1]
print("test images:", test_images.shape, test_images.dtype, test_images.min(), test_images.max())

batch = next(iter(train))                                    # one binarised training batch
print("training batch:", batch.shape, "values:", np.unique(batch.numpy()))
path = plotting.save_image_panels(
    {"test images": test_images[:32], "a binarised training batch": batch[:32]},
    os.path.join(RUN_DIR, "data.png"), num_rows=4)
display(Image(filename=path))

# %% [markdown]
# ## The model's parts
#
# `tfgen.VAE` holds two plain functional Keras models:
#
# * the **encoder** maps an image to the parameters of a diagonal
#   Gaussian posterior `q(z|x)`: `z_mean` and `z_log_var`, each
#   `[batch, latent_dim]`;
# * the **decoder** maps a latent vector `z` to one logit per pixel
#   (Bernoulli likelihood), i.e. the parameters of `p(x|z)`.
#
# Both are sized from the image shape (two stride-2 convolutions for
# 28x28). You can pass your own networks instead:
# `tfgen.VAE(encoder=E, decoder=D, latent_dim=...)`.

# %%
LATENT_DIM = 16
vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=LATENT_DIM, likelihood="bernoulli", seed=0)
vae.encoder.summary()
vae.decoder.summary()

# %% [markdown]
# ### Sampling: the reparameterisation trick
#
# Training needs gradients through a *random* draw `z ~ q(z|x)`. The
# `Sampling` layer writes the draw as a deterministic function of the
# encoder's outputs and independent noise,
# `z = z_mean + exp(z_log_var / 2) * noise` with `noise ~ N(0, I)`, so
# gradients flow to `z_mean` and `z_log_var`. In `train_step` the VAE
# draws the noise itself from its seed, the step number and the row of
# the global batch (`tfgen.random`), which makes runs reproducible and
# independent of the number of replicas (notebook 3).

# %%
z_mean, z_log_var = vae.encode(test_images[:4])
noise = tf.random.stateless_normal(z_mean.shape, seed=[0, 1])
z = vae.sampling([z_mean, z_log_var], noise=noise)
print(type(vae.sampling).__name__, "->", z.shape)
print("z == z_mean + exp(z_log_var / 2) * noise:",
      np.allclose(z, z_mean + np.exp(0.5 * z_log_var) * noise, atol=1e-6))

with tf.GradientTape() as tape:
    tape.watch(z_mean)
    z = vae.sampling([z_mean, z_log_var], noise=noise)
print("dz/dz_mean is the identity:", np.allclose(tape.gradient(z, z_mean), 1.0))

# %% [markdown]
# ### The loss
#
# Per image, in nats:
#
# `loss = -log p(x|z) + beta * KL(q(z|x) || N(0, I))`
#
# With `beta=1` this is the negative evidence lower bound (ELBO). The
# first term is the reconstruction loss (binary cross-entropy summed
# over the 784 pixels for the Bernoulli likelihood), the second keeps
# the posterior close to the prior so that decoding prior samples gives
# sensible images. Both are pure functions in `tfgen.losses`; this is
# the method `train_step` calls:

# %%
import inspect
print(inspect.getsource(tfgen.VAE._per_example_losses))

# The same terms, computed by hand on a few test images with the untrained model.
images = tf.constant(test_images[:8])
z_mean, z_log_var = vae.encoder(images)
logits = vae.decoder(vae.sampling([z_mean, z_log_var], noise=tf.zeros_like(z_mean)))
reconstruction = tfgen.losses.bernoulli_reconstruction_loss(images, logits)
kl = tfgen.losses.kl_divergence(z_mean, z_log_var)
print("reconstruction [nats/image]:", np.round(reconstruction.numpy(), 1))
print("KL             [nats/image]:", np.round(kl.numpy(), 2))
print(f"untrained: about 784 * log(2) = {784 * np.log(2):.0f} nats, a coin flip per pixel")

# %% [markdown]
# ## Training
#
# `compile` takes a Keras optimizer; `fit` runs the VAE's own
# `train_step` and reports the running means of `loss`,
# `reconstruction_loss` and `kl_loss` (and the same on the validation
# set). `tfgen.callbacks.SampleGrid` writes a grid of samples from
# fixed latent vectors after every epoch, so you can watch the model
# learn.

# %%
EPOCHS = 2 if mode == "full" else 1
vae.compile(optimizer=keras.optimizers.Adam(1e-3))
samples_callback = tfgen.callbacks.SampleGrid(os.path.join(RUN_DIR, "samples"), num_samples=64, seed=1)
history = vae.fit(train, validation_data=validation, epochs=EPOCHS,
                  callbacks=[samples_callback], verbose=2)

path = plotting.save_loss_curves(history, os.path.join(RUN_DIR, "losses.png"))
display(Image(filename=path))

# %% [markdown]
# ## Reconstructions
#
# `vae.reconstruct(x)` decodes the posterior mean `z_mean` of each
# image: the VAE's best guess of the image after squeezing it through
# 16 numbers. The decoder outputs the *mean* image (per-pixel
# probabilities mapped to [-1, 1]), so reconstructions look smoother
# than the binarised training data.

# %%
originals = test_images[:32]
path = plotting.save_reconstructions(originals, vae.reconstruct(originals),
                                     os.path.join(RUN_DIR, "reconstructions.png"), num_rows=4)
display(Image(filename=path))

# %% [markdown]
# ## Samples
#
# `vae.generate(n, seed=...)` decodes `n` draws from the prior
# `N(0, I)`. The same seed gives the same images. Below: the grids that
# `SampleGrid` wrote after each epoch, then a fresh set.

# %%
for grid_path in samples_callback.written_paths:
    print(os.path.basename(grid_path))
    display(Image(filename=grid_path, width=300))
path = plotting.save_image_grid(vae.generate(64, seed=2), os.path.join(RUN_DIR, "samples.png"),
                                title="64 samples from the prior")
display(Image(filename=path))

# %% [markdown]
# ## A walk through latent space
#
# Encode two test images, interpolate between their posterior means and
# decode every point on the way: the images change gradually, because
# the KL term packs the codes of similar images close together. With
# `spherical=True` the path follows a great circle instead (its points
# keep a typical norm under the Gaussian prior).

# %%
first_trouser = int(np.flatnonzero(test_labels == CLASS_NAMES.index("Trouser"))[0])
first_sneaker = int(np.flatnonzero(test_labels == CLASS_NAMES.index("Sneaker"))[0])
first_bag = int(np.flatnonzero(test_labels == CLASS_NAMES.index("Bag"))[0])
for a, b in [(first_trouser, first_sneaker), (first_sneaker, first_bag)]:
    path = plotting.save_interpolation(
        vae, test_images[a], test_images[b], os.path.join(RUN_DIR, f"interpolation_{a}_{b}.png"),
        num_steps=10, title=f"{CLASS_NAMES[test_labels[a]]} -> {CLASS_NAMES[test_labels[b]]}")
    display(Image(filename=path))

# %% [markdown]
# ## A two-dimensional latent space
#
# With `latent_dim=2` the whole latent space fits on a page. Each dot
# below is the posterior mean of one test image, coloured by its class:
# the VAE was never told the classes, yet similar garments land close
# together. Decoding a regular grid of points over the same square
# shows what each region of the space stands for.

# %%
vae_2d = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=2, likelihood="bernoulli", seed=0)
vae_2d.compile(optimizer=keras.optimizers.Adam(1e-3))
vae_2d.fit(train, epochs=1, verbose=2)

num_points = 5000 if mode == "full" else 200
z_mean_2d, _ = vae_2d.encode(test_images[:num_points])
path = plotting.save_latent_scatter(z_mean_2d, test_labels[:num_points],
                                    os.path.join(RUN_DIR, "latent_2d.png"),
                                    title="posterior means of test images", class_names=CLASS_NAMES)
display(Image(filename=path))

# Decode a 12 x 12 grid over [-3, 3]^2 (row 0 at the top: largest z[1]).
values = np.linspace(-3.0, 3.0, 12)
z_grid = np.array([[x, y] for y in values[::-1] for x in values], dtype="float32")
path = plotting.save_image_grid(vae_2d.decode(z_grid), os.path.join(RUN_DIR, "latent_2d_grid.png"),
                                num_rows=12, title="decoded grid over z in [-3, 3]^2")
display(Image(filename=path))

# %% [markdown]
# ## How likely are the test images? The IWAE bound
#
# The ELBO is a lower bound on `log p(x)`. Drawing `K` posterior samples
# per image and averaging their importance weights gives a tighter
# bound (Burda et al., 2016) that rises towards `log p(x)` as `K`
# grows; `K = 1` is the ELBO. `vae.log_likelihood(images, num_samples=K)`
# returns it per image, in nats. The images must be binary for a
# Bernoulli model, so we binarise a set of test images once, with a
# fixed seed. (The README's benchmark, 10 epochs and `K = 1000`, reaches
# about -232 nats; a short run here is some way behind.)

# %%
num_images = 500 if mode == "full" else 16
binary_test = next(iter(tfgen.data.load("fashion_mnist", split="test", batch_size=num_images,
                                        binarize=True, seed=1, num_examples=num_images)))
for k in (1, 10, 100) if mode == "full" else (1, 4):
    log_px = vae.log_likelihood(binary_test, num_samples=k, seed=0)
    print(f"K = {k:4d}: log p(x) >= {log_px.mean():8.2f} nats per image  (over {num_images} test images)")

# %% [markdown]
# ## Where next
#
# * Save and reload: `vae.save(path)` and `keras.models.load_model(path)`.
# * Notebook 4 exports this kind of model as a SavedModel and serves it;
#   notebook 5 measures sample quality (FID, KID, precision/recall).
# * The same training from the command line:
#   `python -m tfgen train vae --dataset fashion_mnist --epochs 3`.
