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
# # 4. Export a model and serve it
#
# A trained model becomes a plain TensorFlow **SavedModel** with named
# signatures (`generate`, `generate_png`, `decode`, `encode`,
# `reconstruct`, `sample`, `serving_default`) in TensorFlow Serving's layout
# `<base>/<version>/`. The export loads with `tf.saved_model.load` in a
# process without tfgen, and `tfgen serve` (or TensorFlow Serving
# itself) answers the TensorFlow Serving REST API for it. This notebook
# trains a small VAE, exports it, inspects and loads the export, serves
# it on a free port, calls it with `tfgen.serving.Client` and with plain
# HTTP, and stops the server.
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

RUN_DIR = tempfile.mkdtemp(prefix="tfgen-notebooks-04_export_and_serve-")   # a fresh directory for everything this notebook writes
print(f"mode: {mode}\nwriting to: {RUN_DIR}")

# %% [markdown]
# ## A model to export
#
# A VAE trained briefly on Fashion-MNIST (notebook 1 explains it). Any
# `tfgen.VAE` or `tfgen.GAN` exports the same way.

# %%
train = tfgen.data.load("fashion_mnist", batch_size=128, binarize=True, seed=0,
                        num_examples=None if mode == "full" else 256)
vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=16, seed=0, name="vae_fashion_mnist")
vae.compile(optimizer=keras.optimizers.Adam(1e-3))
history = vae.fit(train, epochs=1, verbose=2)

# %% [markdown]
# ## Export
#
# `tfgen.export_saved_model(model, base_dir)` writes version 1 (or the
# next free version) under `base_dir` and returns its path. It never
# overwrites an existing version unless you ask (`overwrite=True`); here
# the base directory is inside this run's fresh directory anyway. Each
# version holds a `model_card.json` describing the model.

# %%
import json

tf.get_logger().setLevel("ERROR")   # TensorFlow logs "Assets written to ..." while saving
base_dir = os.path.join(RUN_DIR, "saved_models", "vae_fashion_mnist")
export_path = tfgen.export_saved_model(vae, base_dir, metadata={"dataset": "fashion_mnist"})
print("exported to", export_path)
for root, _, files in sorted(os.walk(base_dir)):
    for file in sorted(files):
        print("  ", os.path.relpath(os.path.join(root, file), base_dir))
with open(os.path.join(export_path, "model_card.json")) as handle:
    print(json.dumps(json.load(handle), indent=2))

# %% [markdown]
# ## Inspect the signatures
#
# Every signature is a concrete function with named inputs and outputs
# and a dynamic batch dimension. (`saved_model_cli show --dir <path>
# --all` prints the same from a shell.)

# %%
loaded = tf.saved_model.load(export_path)
for name, function in sorted(loaded.signatures.items()):
    inputs = {key: (spec.dtype.name, spec.shape.as_list())
              for key, spec in function.structured_input_signature[1].items()}
    outputs = {key: (spec.dtype.name, spec.shape.as_list())
               for key, spec in function.structured_outputs.items()}
    print(f"{name:16s} {inputs} -> {outputs}")

latent = tf.random.stateless_normal([16, 16], seed=[0, 0])
images = loaded.signatures["generate"](latent=latent)["images"]
same = np.allclose(images, vae.decode(latent), atol=1e-5)
print("export's generate == vae.decode:", same)
path = plotting.save_image_grid(images, os.path.join(RUN_DIR, "export_generate.png"))
display(Image(filename=path, width=250))

# %% [markdown]
# ## Load it where tfgen is not installed
#
# The export contains the TensorFlow graph and weights only; no tfgen
# class is needed to run it. To prove it, a fresh Python process that
# *cannot* import tfgen loads the export and runs two signatures.

# %%
import subprocess
import sys

script = '''
import sys
sys.modules["tfgen"] = None          # any "import tfgen" now fails
import json, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
images = model.signatures["generate"](latent=tf.zeros([2, 16]))["images"]
codes = model.signatures["encode"](images=images)
pngs = model.signatures["generate_png"](latent=tf.zeros([2, 16]))["images_bytes"]
print(json.dumps({"images": images.shape.as_list(), "z_mean": codes["z_mean"].shape.as_list(),
                  "png_bytes": [len(p) for p in pngs.numpy()], "tfgen_importable": False}))
'''
result = subprocess.run([sys.executable, "-c", script, export_path],
                        capture_output=True, text=True, timeout=300)
print(result.stdout.strip() or result.stderr[-2000:])

# %% [markdown]
# ## Serve it
#
# `tfgen serve --model-base-path <base>` serves the highest version
# under the base directory (and switches to a newer one when it
# appears) on the TensorFlow Serving REST API, and on its gRPC API on a
# second port. With `--port 0 --grpc-port 0` it picks free ports and
# prints the REST URL and the gRPC address. We start it as a subprocess, read
# that line, and make sure the server is stopped when the notebook's
# kernel exits even if a later cell fails.

# %%
import atexit
import re

server_log = open(os.path.join(RUN_DIR, "serve.log"), "w")
server = subprocess.Popen(
    [sys.executable, "-m", "tfgen", "serve", "--model-base-path", base_dir, "--port", "0", "--grpc-port", "0"],
    stdout=subprocess.PIPE, stderr=server_log, text=True)
atexit.register(server.terminate)

first_line = server.stdout.readline()     # printed once the server accepts requests
print(first_line.strip())
match = re.search(r"at (http://\S+)/v1/models/(\S+) ", first_line)
if match is None:
    server.terminate()
    raise RuntimeError(f"tfgen serve did not start: {first_line!r}; see {server_log.name}")
URL, MODEL_NAME = match.group(1), match.group(2)

# %% [markdown]
# ## Call it with `tfgen.serving.Client`
#
# The client speaks the REST API with the standard library (no
# TensorFlow needed on the client side) and returns NumPy arrays.
# `generate(n, seed=s)` runs the export's own `sample` signature, so it returns
# the images of `vae.generate(n, seed=s)`.

# %%
from tfgen.serving import Client

client = Client(URL, MODEL_NAME)
print("status:", client.status())
signatures = client.metadata()["metadata"]["signature_def"]["signature_def"]
print("signatures:", sorted(name for name in signatures if not name.startswith("__")))

images = client.generate(num_samples=16, seed=0)             # float32 [16, 28, 28, 1]
reconstructions = client.reconstruct(images)                 # a round trip through encode/decode
print("generate:", images.shape, images.dtype, "| reconstruct:", reconstructions.shape)
path = plotting.save_image_panels({"client.generate": images, "client.reconstruct": reconstructions},
                                  os.path.join(RUN_DIR, "client.png"), num_rows=4)
display(Image(filename=path))

# %% [markdown]
# ## Call it with plain HTTP
#
# Any language can do this. `GET /v1/models/NAME` gives the version
# status; `POST /v1/models/NAME:predict` with a signature name and
# `instances` (one JSON object per example) runs the model. The
# `generate_png` signature returns each image as a PNG file, and
# because its output's name ends in `_bytes` the answer carries it
# base64-encoded as `{"b64": "..."}`: ready for a web page.

# %%
import base64
import urllib.request

with urllib.request.urlopen(f"{URL}/v1/models/{MODEL_NAME}") as response:
    print("GET status:", json.loads(response.read()))

latents = np.random.default_rng(1).standard_normal((6, 16)).round(4).tolist()
body = json.dumps({"signature_name": "generate_png",
                   "instances": [{"latent": z} for z in latents]}).encode()
request = urllib.request.Request(f"{URL}/v1/models/{MODEL_NAME}:predict", data=body,
                                 headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request) as response:
    answer = json.loads(response.read())
print("predictions:", len(answer["predictions"]), "| first:", str(answer["predictions"][0])[:60], "...")

pngs = [base64.b64decode(prediction["b64"]) for prediction in answer["predictions"]]
print("PNG files of", [len(png) for png in pngs], "bytes; the first three, enlarged:")
for png in pngs[:3]:
    display(Image(data=png, width=84))

# %% [markdown]
# `client.generate_png(...)` does the same in one call and returns the
# PNG files as `bytes`. A bad request gets a 4xx answer with an
# `{"error": ...}` body, which the client raises as `ServingError`:

# %%
from tfgen.serving import ServingError

pngs = client.generate_png(num_samples=4, seed=2)
decoded = np.stack([tf.io.decode_png(png).numpy() for png in pngs])
print("client.generate_png:", len(pngs), "PNGs, decoded", decoded.shape, decoded.dtype)
path = plotting.save_image_grid(decoded.astype("float32") / 127.5 - 1.0,
                                os.path.join(RUN_DIR, "client_png.png"), num_rows=1)
display(Image(filename=path, width=250))

try:
    client.decode(np.zeros((2, 3), "float32"))      # wrong latent size
except ServingError as error:
    print("ServingError:", error.status, error.message[:120])

# %% [markdown]
# ## Stop the server
#
# `tfgen serve` finishes the requests in flight and exits cleanly on
# SIGTERM (or Ctrl-C in a terminal).

# %%
server.terminate()
return_code = server.wait(timeout=60)
print("tfgen serve exited with", return_code, "|", server.stdout.read().strip())
server.stdout.close()
server_log.close()
atexit.unregister(server.terminate)

# %% [markdown]
# From a shell, the same steps are:
#
# ```bash
# python -m tfgen export --model runs/vae/model.keras --output saved_models/vae_fashion_mnist
# python -m tfgen serve --model-base-path saved_models/vae_fashion_mnist --port 8501
# curl -s localhost:8501/v1/models/vae_fashion_mnist/metadata
# ```
#
# TensorFlow Serving serves the same directory:
# `docker run -p 8501:8501 -v $PWD/saved_models/vae_fashion_mnist:/models/vae_fashion_mnist
# -e MODEL_NAME=vae_fashion_mnist tensorflow/serving`.
