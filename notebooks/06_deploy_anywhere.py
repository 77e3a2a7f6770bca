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
# # 6. Deploy anywhere: LiteRT, ONNX and the browser
#
# Notebook 4 exports a SavedModel and serves it over TensorFlow Serving's
# REST and gRPC APIs with `tfgen serve`. A generator can also run where
# there is no TensorFlow at all: on phones and microcontrollers
# (**LiteRT**, the former TensorFlow Lite), in any language with an
# **ONNX** runtime (C, C++, C#, Java, JavaScript, Python, Rust), and in a
# **web page** (onnxruntime-web, WebAssembly). This notebook trains a small
# class-conditional GAN, exports it in each format (and with int8 weights),
# runs every export in its own runtime beside the SavedModel, compares
# pictures, differences, sizes and latency, and shows what the browser page
# is made of.
#
# Conversion needs the deploy extra: `pip install "tfgen[deploy]"`
# (tf2onnx, onnx, onnxruntime, ai-edge-litert). The command line does the
# same as the Python calls below: `tfgen export MODEL.keras --format
# tflite|onnx|web [--quantize int8]`.
#
# *Full and small mode.* The first code cell sets `mode = "full"`; it is a
# [papermill](https://papermill.readthedocs.io) parameter, and sizes (epochs,
# image counts, repeats) are written `A if mode == "full" else B`. The
# committed notebook shows the **full** mode; the test suite runs it with
# `mode = "small"`, where every number shrinks so the whole notebook runs in
# a minute (and its pictures are noise). Everything the notebook writes goes
# to a fresh temporary directory (`RUN_DIR`), never into the repository.

# %% tags=["parameters"]
mode = "full"   # "full" (what the committed notebook shows) or "small" (a minute: papermill -p mode small)

# %%
if mode not in ("full", "small"):
    raise ValueError(f"mode must be 'full' or 'small'; received {mode!r}.")

import os
import platform
import tempfile
import time
import warnings
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # keep TensorFlow's C++ log out of the outputs
warnings.filterwarnings("ignore", message="`shuffle=True` was passed")

import numpy as np
import tensorflow as tf
from IPython.display import Image, display

import tfgen
from tfgen import plotting

try:
    import onnxruntime
    from ai_edge_litert.interpreter import Interpreter
except ImportError as error:
    raise ImportError('This notebook needs the deploy extra: pip install "tfgen[deploy]"') from error

RUN_DIR = tempfile.mkdtemp(prefix="tfgen-notebooks-06_deploy_anywhere-")   # everything this notebook writes
print(f"mode: {mode}\nwriting to: {RUN_DIR}")

# %% [markdown]
# ## A model to deploy
#
# A class-conditional DCGAN on Fashion-MNIST (notebook 2 explains GANs),
# trained briefly: deployment does not care how good it is. It is built
# with tfgen's default precision, `auto`: bfloat16 on processors that
# compute it natively, float32 elsewhere. Whichever it is, the exports take
# and return float32 (a mixed-precision model is exported from a float32
# copy with the same weights, since the runtimes have no mixed-precision
# kernels).

# %%
train = tfgen.data.load("fashion_mnist", batch_size=128, seed=0, with_labels=True,
                        num_examples=None if mode == "full" else 256)
gan = tfgen.GAN(input_shape=(28, 28, 1), num_classes=10, seed=0, name="gan_fashion_mnist")
gan.compile()
print(f"the GAN computes in {gan.dtype_policy.compute_dtype} ('auto' picks "
      f"{tfgen.precision.default_precision()} on this machine)")
start = time.perf_counter()
gan.fit(train, epochs=3 if mode == "full" else 1, verbose=2)
print(f"trained in {time.perf_counter() - start:.0f} s")

# %% [markdown]
# ## Export in every format
#
# `tfgen.export.export_model(model, format, path)` writes one format and
# returns its folder. Nothing is written until the format's own runtime has
# loaded the converted model and run every signature on batches of 1 and
# 7; a float conversion that differs from the model by more than 1e-4 is
# refused. `quantize="int8"` stores the weights as int8 (dynamic-range
# quantisation: activations stay float), about four times smaller, and is
# checked too, but without a limit: it is meant to differ a little.

# %%
from tfgen.export import export_model

exports = {
    "SavedModel": export_model(gan, "saved_model", os.path.join(RUN_DIR, "saved_model")),
    "LiteRT": export_model(gan, "tflite", os.path.join(RUN_DIR, "tflite")),
    "LiteRT int8": export_model(gan, "tflite", os.path.join(RUN_DIR, "tflite_int8"), quantize="int8"),
    "ONNX": export_model(gan, "onnx", os.path.join(RUN_DIR, "onnx")),
    "ONNX int8": export_model(gan, "onnx", os.path.join(RUN_DIR, "onnx_int8"), quantize="int8"),
    "web page": export_model(gan, "web", os.path.join(RUN_DIR, "web")),
}


def folder_bytes(folder, skip=("ort",)):
    """Bytes of the model files in ``folder`` (the web page's bundled runtime, ort/, not counted)."""
    total = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in skip]
        total += sum(os.path.getsize(os.path.join(root, name)) for name in files)
    return total


print(f"{'format':12s} {'files':>10s}  folder")
for label, folder in exports.items():
    print(f"{label:12s} {folder_bytes(folder) / 1e6:8.2f} MB  {os.path.relpath(folder, RUN_DIR)}/: "
          + ", ".join(sorted(os.listdir(folder))))

# %% [markdown]
# Each converted folder holds `model_card.json`: the signatures with their
# inputs and outputs as the runtime reports them, what was left out and
# why, and the largest difference from the model the check measured.

# %%
import json

with open(os.path.join(exports["ONNX"], "model_card.json")) as handle:
    card = json.load(handle)
print(json.dumps(card["signatures"], indent=1))
for name, why in card["omitted_signatures"].items():
    print(f"left out: {name}: {why}")
print("labels:", card["labels"])
for label in ("LiteRT", "LiteRT int8", "ONNX", "ONNX int8"):
    with open(os.path.join(exports[label], "model_card.json")) as handle:
        difference = json.load(handle)["max_abs_difference"]["generate"]
    print(f"{label:12s} largest difference from the model (checked at export): {difference:.2e}")

# %% [markdown]
# ## Run each export in its own runtime
#
# The converted formats have no `sample` signature (TensorFlow's random ops
# have no LiteRT or ONNX equivalent): the client draws the latent vectors,
# N(0, I), and calls `generate`. The same 40 latent vectors and labels (four
# of each class) go to every runtime. None of the three calls below imports
# tfgen: a deployment needs only the runtime.

# %%
rng = np.random.default_rng(0)
latent = rng.standard_normal((40, 64)).astype("float32")
labels = np.tile(np.arange(10, dtype="int32"), 4)   # each row of the grids: classes 0 to 9

saved = tf.saved_model.load(exports["SavedModel"])
outputs = {"SavedModel": saved.signatures["generate"](latent=tf.constant(latent), labels=tf.constant(labels))["images"].numpy()}

for label in ("LiteRT", "LiteRT int8"):
    interpreter = Interpreter(model_path=os.path.join(exports[label], "model.tflite"))
    outputs[label] = interpreter.get_signature_runner("generate")(latent=latent, labels=labels)["images"]

for label in ("ONNX", "ONNX int8"):
    session = onnxruntime.InferenceSession(os.path.join(exports[label], "generate.onnx"),
                                           providers=["CPUExecutionProvider"])
    outputs[label] = session.run(["images"], {"latent": latent, "labels": labels})[0]

# Differences in grey levels: an image in [-1, 1] is drawn as round((x + 1) * 127.5), so 1/127.5 is one level.
print("difference from the SavedModel, in grey levels")
print(f"{'format':12s} {'output':16s} {'largest':>8s} {'mean':>8s}")
for label, images in outputs.items():
    levels = np.abs(images - outputs["SavedModel"]) * 127.5
    print(f"{label:12s} {str(images.shape):16s} {levels.max():8.2f} {levels.mean():8.3f}")

# %%
for label in ("SavedModel", "ONNX", "ONNX int8"):
    path = os.path.join(RUN_DIR, f"grid_{label.replace(' ', '_')}.png")
    plotting.save_image_grid(outputs[label], path, num_rows=4, title=label)
    display(Image(path))

# %% [markdown]
# The pictures agree to the eye. The numbers say how closely. A float32
# model's LiteRT and ONNX exports agree with its SavedModel to about 1e-7
# (rounding). Where the GAN computes in bfloat16 (see its first cell), the
# SavedModel does too, while the converted formats compute in float32 with
# the same weights: they agree with the model's float32 copy to about 1e-6
# (the check at export), and differ from the bfloat16 SavedModel by what
# bfloat16 rounds away, a few grey levels at the worst pixel and a small
# fraction of one on average. The int8 exports differ more (up to about
# twenty grey levels at the worst pixel, under one on average): that is
# what weights four times smaller cost. Measure it on your own model before you ship int8
# (`benchmarks/deploy.py` compares the formats' sample quality).
#
# ## Labels out of range
#
# TensorFlow refuses a label outside `[0, 10)`; the converters drop
# TensorFlow's assertions, so tfgen's exports turn such a label into NaN in
# every output of its row instead of silently drawing another class (or
# reading outside the embedding table). The other rows are unaffected.

# %%
bad_labels = np.array([3, 10, -1], "int32")
images = session.run(["images"], {"latent": latent[:3], "labels": bad_labels})[0]
print("ONNX, labels", bad_labels.tolist(), "-> rows all NaN:", [bool(np.isnan(row).all()) for row in images])
try:
    saved.signatures["generate"](latent=tf.constant(latent[:3]), labels=tf.constant(bad_labels))
except tf.errors.InvalidArgumentError as error:
    reason = next(line for line in error.message.splitlines() if line.startswith("assertion failed"))
    print("SavedModel refuses them:", reason)

# %% [markdown]
# ## Latency, batch of one
#
# Milliseconds per `generate` call with one image, on this machine, every
# runtime allowed all its cores (the median of the repeats after two
# warm-ups). The SavedModel is called through TensorFlow's eager signature,
# so its figure includes TensorFlow's per-call overhead, which a serving
# binary avoids.

# %%
repeats = 200 if mode == "full" else 5
cores = os.cpu_count()


def median_ms(call):
    for _ in range(2):
        call()
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        call()
        times.append(time.perf_counter() - begin)
    return 1000 * float(np.median(times))


one_latent, one_label = latent[:1], labels[:1]
calls = {"SavedModel": lambda: saved.signatures["generate"](latent=tf.constant(one_latent), labels=tf.constant(one_label))}
for label in ("LiteRT", "LiteRT int8"):
    runner = Interpreter(model_path=os.path.join(exports[label], "model.tflite"),
                         num_threads=cores).get_signature_runner("generate")
    calls[label] = lambda runner=runner: runner(latent=one_latent, labels=one_label)
options = onnxruntime.SessionOptions()
options.intra_op_num_threads = cores
for label in ("ONNX", "ONNX int8"):
    one = onnxruntime.InferenceSession(os.path.join(exports[label], "generate.onnx"), options,
                                       providers=["CPUExecutionProvider"])
    calls[label] = lambda one=one: one.run(["images"], {"latent": one_latent, "labels": one_label})
print(f"{platform.processor() or platform.machine()}, {cores} cores; {repeats} calls each")
for label, call in calls.items():
    print(f"{label:12s} {median_ms(call):7.3f} ms")

# %% [markdown]
# On this x86 CPU, LiteRT's int8 (dynamic-range) kernels are far slower
# than its float ones, while ONNX Runtime's int8 costs almost nothing: int8
# buys size here, not speed. Time it on the device you deploy to.
#
# `benchmarks/deploy.py` measures the same with more care (and the sizes,
# agreement and int8 quality of a trained model); its figures are in the
# README.
#
# ## The browser page
#
# The `web` export is a self-contained static folder: `index.html`,
# `tfgen_generator.mjs` (a small ES module that loads the model and turns
# latent vectors into pictures), `generate.onnx`, and `ort/`, the
# WebAssembly build of onnxruntime-web taken from the npm registry (pinned
# by checksum). Any static file server serves it; nothing runs on the
# server:
#
# ```bash
# python -m http.server --directory saved_models/gan_fashion_mnist/web 8000   # then open http://localhost:8000
# ```
#
# The page draws a grid of random samples, walks between two seeds, and has
# a class picker for conditional models. The test suite opens it in
# headless Chromium and checks its pixels against the model.

# %%
web = exports["web page"]
for root, dirs, files in os.walk(web):
    depth = os.path.relpath(root, web).count(os.sep) + (root != web)
    for name in sorted(files):
        print(f"{'  ' * depth}{os.path.relpath(os.path.join(root, name), web):48s} "
              f"{os.path.getsize(os.path.join(root, name)) / 1e6:7.2f} MB")
with open(os.path.join(web, "model_card.json")) as handle:
    print("\nserve it with:", json.load(handle)["serve"])

# %% [markdown]
# The page's model is the ONNX `generate` graph, so the ONNX run above is
# what the browser computes (onnxruntime-web runs the same graph with its
# WebAssembly kernels).
#
# ## Where next
#
# * Notebook 4: the SavedModel behind TensorFlow Serving's REST and gRPC APIs
#   (`tfgen serve`).
# * README, "LiteRT (TFLite) and ONNX" and "In the browser": the command line,
#   the model card, and what each format leaves out.
