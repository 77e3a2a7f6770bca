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
# # 3. The same training on several devices
#
# tfgen models train under `tf.distribute` without code changes: create
# the model inside `strategy.scope()`, give `fit` batches of the
# *global* batch size. This notebook runs `MirroredStrategy` on two
# *logical* CPU devices (so it works on any machine), shows that the
# result equals training on one device, and then says what changes for
# GPUs and for several machines.
#
# **First cell first.** A physical CPU can be split into logical devices
# only before TensorFlow initialises its devices, i.e. before the first
# TensorFlow operation. So the first code cell after the `mode` parameter
# splits it; if you re-run the notebook, restart the kernel.

# %% tags=["parameters"]
mode = "full"   # "full" (what the committed notebook shows) or "small" (seconds: papermill -p mode small)

# %%
if mode not in ("full", "small"):
    raise ValueError(f"mode must be 'full' or 'small'; received {mode!r}.")

import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import warnings
warnings.filterwarnings("ignore", message="`shuffle=True` was passed")  # tf.data pipelines shuffle themselves

import tensorflow as tf
import tfgen

devices = tfgen.distribute.split_cpu(2)          # before anything touches a device
tf.config.experimental.enable_op_determinism()   # same kernels, same order: comparable runs
tf.get_logger().setLevel("ERROR")                # MirroredStrategy logs every all-reduce it sets up
print("logical devices:", devices)

# %%
import tempfile

import numpy as np
import keras
from IPython.display import Image, display
from tfgen import plotting

RUN_DIR = tempfile.mkdtemp(prefix="tfgen-notebooks-03_distributed-")
print(f"mode: {mode}\nwriting to: {RUN_DIR}")

# %% [markdown]
# ## Why the number of replicas does not matter
#
# `MirroredStrategy` keeps a copy of every variable on each device,
# splits each global batch between the replicas, and sums the gradients
# over replicas (an all-reduce) before every replica applies the same
# update. tfgen makes that equal to a single-device step:
#
# * losses are averaged over the **global** batch
#   (`tfgen.distribute.global_mean`), so the summed gradients are those of
#   the whole batch;
# * noise is drawn per **row of the global batch**: row `i` at step `t`
#   gets the same noise whichever replica holds it;
# * the GAN's batch normalisation is synchronised across replicas;
# * reported metrics are global means.
#
# So one device and two replicas, from the same seed and the same
# batches, should end with the same weights up to float round-off.
# Let's check, for a VAE and for a GAN (with batch norm in the
# generator, an EMA generator and a gradient penalty), on the same
# `STEPS` global batches of Fashion-MNIST.

# %%
GLOBAL_BATCH = 64
STEPS = 60 if mode == "full" else 3

# Both runs must see exactly the same global batches in the same order: read them once into an array
# and batch it in order (as tests/distribute/test_equivalence.py does).
images = np.concatenate([batch.numpy() for batch in tfgen.data.load(
    "fashion_mnist", batch_size=GLOBAL_BATCH, seed=0, drop_remainder=True, num_examples=GLOBAL_BATCH * STEPS)])

def fashion_batches():
    return tf.data.Dataset.from_tensor_slices(images).batch(GLOBAL_BATCH)

def build_vae():
    model = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=8, likelihood="gaussian", seed=7)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model

def build_gan():
    model = tfgen.GAN(input_shape=(28, 28, 1), latent_dim=32, base_filters=16, seed=7)
    model.compile(gradient_penalty=10.0, ema_decay=0.9)
    return model

BUILDERS = {"VAE": build_vae, "GAN": build_gan}
initial_weights = {name: build().get_weights() for name, build in BUILDERS.items()}

# %% [markdown]
# ### One device
#
# No strategy at all (the default strategy). This is ordinary training.

# %%
one_device = {}
for name, build in BUILDERS.items():
    model = build()
    history = model.fit(fashion_batches(), epochs=1, verbose=0)
    one_device[name] = (model, {k: v[-1] for k, v in history.history.items()})
    print(name, {k: round(float(v), 4) for k, v in one_device[name][1].items()})

# %% [markdown]
# ### Two replicas
#
# `tfgen.distribute.get_strategy("mirrored", num_devices=2)` uses two
# GPUs when there are GPUs, else two logical CPU devices (the ones we
# made in the first cell). Only two lines change: the strategy, and
# building the model in its scope (so that its variables and optimizer
# state are mirrored).

# %%
strategy = tfgen.distribute.get_strategy("mirrored", num_devices=2)
print("replicas in sync:", strategy.num_replicas_in_sync)
two_replicas = {}
for name, build in BUILDERS.items():
    with strategy.scope():
        model = build()
    history = model.fit(fashion_batches(), epochs=1, verbose=0)
    two_replicas[name] = (model, {k: v[-1] for k, v in history.history.items()})
    print(name, {k: round(float(v), 4) for k, v in two_replicas[name][1].items()})


# %% [markdown]
# ### Compare
#
# For every model: how far apart the two runs' weights are, relative
# to how far training moved them from their initial values (Euclidean
# norms over all weights), the largest single difference, and how much
# the reported metrics differ. Then samples from both, from the same
# latent vectors.

# %%
def distance(weights_a, weights_b):
    return float(np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(weights_a, weights_b))))

for name in BUILDERS:
    one, two = one_device[name][0].get_weights(), two_replicas[name][0].get_weights()
    relative = distance(one, two) / distance(one, initial_weights[name])
    largest = max(float(np.max(np.abs(a - b))) for a, b in zip(one, two) if a.size)
    log_difference = max(abs(float(one_device[name][1][k]) - float(two_replicas[name][1][k]))
                         for k in one_device[name][1])
    samples_difference = float(np.max(np.abs(one_device[name][0].generate(16, seed=1)
                                             - two_replicas[name][0].generate(16, seed=1))))
    print(f"{name}: |w1 - w2| / |w1 - w_initial| = {relative:.1e}; largest weight difference "
          f"{largest:.1e}; metrics differ by at most {log_difference:.1e}; "
          f"samples (in [-1, 1]) by at most {samples_difference:.1e}")

panels = {}
for name in BUILDERS:
    panels[f"{name}, 1 device"] = one_device[name][0].generate(16, seed=1)
    panels[f"{name}, 2 replicas"] = two_replicas[name][0].generate(16, seed=1)
path = plotting.save_image_panels(panels, os.path.join(RUN_DIR, "one_vs_two.png"), num_rows=4)
display(Image(filename=path))

# %% [markdown]
# The two runs agree up to float round-off. The all-reduce adds the
# two halves of each batch in a different order than one device does,
# so gradients differ in their last digits; Adam divides every gradient
# by its own running scale, which turns last-digit differences of
# near-zero gradients into differences of up to about one learning
# rate (1e-3) in a few weights. Relative to how far training moved the
# weights, the runs differ by well under 1%, the reported metrics agree
# to several digits and the samples look the same.
# `tests/distribute/test_equivalence.py` checks equality to 1e-5 after
# a few steps (before such differences can grow) for 1, 2 and 4
# replicas on every commit. (Sixty steps are far too few for the GAN
# to draw garments, hence its grey samples: the point here is only
# that both runs agree.)
#
# One caveat for experiments like this one: two `MirroredStrategy`
# objects *of different sizes* in one process clash in TensorFlow's
# collective ops, so compare a one-device run against a mirrored one (as
# here), or run each replica count in its own process (as the test
# does).
#
# ## On GPUs
#
# Nothing in the code changes. `get_strategy("mirrored")` takes every
# local GPU (or `num_devices=N` of them); each replica gets
# `global batch / N` rows. Things to know:
#
# * **The batch size you give `tfgen.data.load` is the global batch.**
#   To keep the per-GPU batch when adding GPUs, multiply it by the
#   number of replicas (and consider raising the learning rate with
#   it).
# * Keep the model and its `compile` inside `strategy.scope()`: tfgen
#   builds every optimizer in `compile`, so their state is mirrored too.
# * Callbacks that write files (`SampleGrid`, checkpoints) run once, on
#   the chief.
#
# ```python
# strategy = tfgen.distribute.get_strategy("mirrored")      # all local GPUs
# with strategy.scope():
#     gan = tfgen.GAN(input_shape=(28, 28, 1), latent_dim=64, seed=0)
#     gan.compile(ema_decay=0.999)
# gan.fit(tfgen.data.load("fashion_mnist", batch_size=128 * strategy.num_replicas_in_sync, seed=0),
#         epochs=20)
# ```
#
# From the command line: `python -m tfgen train gan --strategy mirrored`
# (all GPUs) or `--strategy mirrored --devices 2` (two GPUs, or two
# logical CPU devices on a machine without GPUs).
#
# ## On several machines
#
# `MultiWorkerMirroredStrategy` does the same across machines. Each
# machine runs the **same program** with its own `TF_CONFIG`
# environment variable: the list of all workers and which one this is.
# Worker 0 is the chief: it writes the run directory and the export;
# the others write to temporary directories
# (`tfgen.distribute.is_chief`).

# %%
import json

cluster = {"worker": ["host1:12345", "host2:12345"]}
for index in range(2):
    tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
    print(f"TF_CONFIG='{json.dumps(tf_config)}' \\\n"
          "  python -m tfgen train vae --strategy multi_worker --output runs/vae\n")

# Without TF_CONFIG, the multi-worker strategy says what it needs:
try:
    tfgen.distribute.get_strategy("multi_worker")
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# In Python the only change from the single-machine code is the
# strategy: `tfgen.distribute.get_strategy("multi_worker")` (it reads
# `TF_CONFIG`; with `num_devices=N` each worker also splits its CPU).
# Start it on every machine; training begins when all workers have
# connected. `tests/distribute/test_multi_worker.py` runs two workers on
# one machine over the loopback interface, and
# `tests/distribute/test_fault_tolerance.py` shows that a killed run
# resumes at the exact batch (`tfgen train` backs up weights, optimizer
# state and progress).
