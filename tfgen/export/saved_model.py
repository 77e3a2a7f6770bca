"""Export trained models as TensorFlow SavedModels with named signatures.

The export is a plain SavedModel: it loads with ``tf.saved_model.load`` in a
process that never imports tfgen, and TensorFlow Serving serves it from the
``<base>/<version>/`` layout (``saved_models/<name>/<version>/`` by default).

Signatures of a VAE export (float32 unless noted, dynamic batch dimension):

==============  ===========================  =================================
signature       inputs                       outputs
==============  ===========================  =================================
generate        latent ``[N, latent_dim]``   images ``[N, H, W, C]`` in [-1, 1]
generate_png    latent ``[N, latent_dim]``   images_bytes: string ``[N]``, PNGs
decode          latent ``[N, latent_dim]``   images ``[N, H, W, C]`` in [-1, 1]
encode          images ``[N, H, W, C]``      z_mean, z_log_var ``[N, latent_dim]``
reconstruct     images ``[N, H, W, C]``      images ``[N, H, W, C]`` in [-1, 1]
serving_default same as ``generate``
==============  ===========================  =================================

``generate_png`` returns one PNG file per image (uint8 pixels
``round((x + 1) * 127.5)``), so that a web or mobile client can show samples
without handling arrays. Its output is named ``images_bytes`` because
TensorFlow Serving's REST API base64-encodes string outputs (as
``{"b64": "..."}``) only when their name ends in ``_bytes``. Every export
has it: when a model's endpoint builder does not add it (with
:func:`png_endpoint`), ``export_saved_model`` wraps its ``generate``.

Example:
```python
path = tfgen.export_saved_model(vae)              # saved_models/vae/1
loaded = tf.saved_model.load(path)
images = loaded.signatures["generate"](latent=tf.zeros([4, 16]))["images"]
```
"""

import functools
import json
import os
import re
import shutil
import tempfile

import keras
import tensorflow as tf

from tfgen.version import __version__

DEFAULT_BASE_DIR = "saved_models"
MODEL_CARD_FILENAME = "model_card.json"
_VERSION_PATTERN = re.compile(r"^[0-9]+$")
PNG_SIGNATURE_NAME = "generate_png"
# TensorFlow Serving's REST API base64-encodes a string output only when its
# name ends in "_bytes"; any other name would be written as raw (invalid) text.
PNG_OUTPUT_KEY = "images_bytes"


def images_to_png(images):
    """Encodes a batch of images as PNG files, inside a TensorFlow graph.

    Args:
        images: float tensor ``[N, H, W, C]`` in [-1, 1] with ``C`` in
            {1, 3, 4}. Pixels become uint8 ``round((x + 1) * 127.5)``; values
            outside [-1, 1] are clipped first.

    Returns:
        A string tensor ``[N]``: the bytes of one PNG file per image.

    Example:
    ```python
    png = images_to_png(tf.zeros([2, 16, 16, 1]))   # two 16x16 grey PNGs
    ```
    """
    images = tf.clip_by_value(tf.cast(images, tf.float32), -1.0, 1.0)
    pixels = tf.cast(tf.round((images + 1.0) * 127.5), tf.uint8)
    return tf.map_fn(tf.io.encode_png, pixels, fn_output_signature=tf.TensorSpec([], tf.string))


def png_endpoint(generate_fn, input_signature, name=PNG_SIGNATURE_NAME):
    """Wraps an image-producing endpoint into one that returns PNG files.

    Model-specific endpoint builders (``_vae_endpoints``, the GAN's
    ``gan_endpoints``) call this on their ``generate`` function so that every
    export carries the same ``generate_png`` signature.

    Args:
        generate_fn: function taking the tensors of ``input_signature`` and
            returning ``{"images": float [N, H, W, C] in [-1, 1]}``.
        input_signature: list of ``tf.TensorSpec`` (named) of ``generate_fn``.
        name: signature name, ``"generate_png"`` by default.

    Returns:
        ``(name, fn, input_signature)``, an endpoint triple as returned by the
        builders; ``fn`` returns ``{"images_bytes": string [N]}``.

    Example:
    ```python
    latent_spec = tf.TensorSpec((None, 16), tf.float32, name="latent")
    endpoint = png_endpoint(lambda latent: {"images": vae.decode(latent)}, [latent_spec])
    ```
    """

    @functools.wraps(generate_fn)
    def generate_png(*tensors):
        return {PNG_OUTPUT_KEY: images_to_png(generate_fn(*tensors)["images"])}

    return (name, generate_png, list(input_signature))


def _vae_endpoints(model):
    images_spec = tf.TensorSpec((None,) + tuple(model.image_shape), tf.float32, name="images")
    latent_spec = tf.TensorSpec((None, model.latent_dim), tf.float32, name="latent")

    def generate(latent):
        return {"images": model.decode(latent)}

    def decode(latent):
        return {"images": model.decode(latent)}

    def encode(images):
        z_mean, z_log_var = model.encode(images)
        return {"z_mean": z_mean, "z_log_var": z_log_var}

    def reconstruct(images):
        return {"images": model.reconstruct(images)}

    return [
        ("generate", generate, [latent_spec]),
        png_endpoint(generate, [latent_spec]),
        ("decode", decode, [latent_spec]),
        ("encode", encode, [images_spec]),
        ("reconstruct", reconstruct, [images_spec]),
    ]


def _vae_card(model):
    return {
        "model_type": "VAE",
        "input_shape": list(model.image_shape),
        "output_shape": list(model.image_shape),
        "latent_dim": model.latent_dim,
        "likelihood": model.likelihood,
        "num_classes": None,
    }


def _endpoint_builders():
    """Maps model classes to ``(endpoints_fn, card_fn)``; the first endpoint is ``serving_default``."""
    from tfgen.models.vae import VAE

    builders = {VAE: (_vae_endpoints, _vae_card)}
    try:
        from tfgen.models.gan import GAN
        from tfgen.export import gan_signatures

        builders[GAN] = (gan_signatures.gan_endpoints, gan_signatures.gan_card)
    except ImportError:  # the GAN family is optional at this layer
        pass
    return builders


def _builders_for(model):
    builders = _endpoint_builders()
    for cls, functions in builders.items():
        if isinstance(model, cls):
            return functions
    raise ValueError(
        f"Cannot export a {type(model).__name__}. Exportable models: "
        f"{sorted(cls.__name__ for cls in builders)}."
    )


def existing_versions(base_dir):
    """Sorted integer versions present under ``base_dir`` (TensorFlow Serving layout)."""
    if not os.path.isdir(base_dir):
        return []
    return sorted(
        int(entry)
        for entry in os.listdir(base_dir)
        if _VERSION_PATTERN.match(entry) and os.path.isdir(os.path.join(base_dir, entry))
    )


def export_saved_model(model, path=None, version=None, overwrite=False, metadata=None):
    """Exports ``model`` as a SavedModel at ``<path>/<version>/``.

    Args:
        model: a ``tfgen.VAE`` or ``tfgen.GAN``.
        path: base directory of the exported model's versions; default
            ``saved_models/<model.name>``.
        version: positive int; default one more than the highest existing
            version (1 for a new base directory).
        overwrite: replace an existing ``version`` directory. Without it an
            existing version is never touched and a ``ValueError`` is raised.
        metadata: optional dict merged into the model card (for example
            ``{"dataset": "fashion_mnist", "train_steps": 4690}``).

    Returns:
        The path of the written version directory (str).

    Raises:
        ValueError: unsupported model, bad version, or existing version
            without ``overwrite=True``.
    """
    endpoints_fn, card_fn = _builders_for(model)
    base_dir = os.fspath(path) if path is not None else os.path.join(DEFAULT_BASE_DIR, model.name)
    if os.path.exists(base_dir) and not os.path.isdir(base_dir):
        raise ValueError(f"Expected the export path {base_dir!r} to be a directory, found a file.")
    if version is None:
        versions = existing_versions(base_dir)
        version = versions[-1] + 1 if versions else 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"Expected version to be a positive int, got {version!r}.")
    target = os.path.join(base_dir, str(version))
    if os.path.exists(target) and not overwrite:
        raise ValueError(
            f"Export version {target!r} already exists; pass overwrite=True to replace it "
            "or leave version=None to write the next version."
        )
    os.makedirs(base_dir, exist_ok=True)

    archive = keras.export.ExportArchive()
    archive.track(model)
    endpoints = endpoints_fn(model)
    for name, fn, signature in endpoints:
        archive.add_endpoint(name, fn, input_signature=signature)

    # Write beside the target and rename, so that a server watching base_dir
    # never sees a half-written version.
    staging = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=base_dir)
    try:
        archive.write_out(staging, verbose=False)
        card = card_fn(model)
        card.update(
            {
                "name": model.name,
                "version": version,
                "signatures": [name for name, _, _ in endpoints] + ["serving_default"],
                "tfgen_version": __version__,
                "tensorflow_version": tf.__version__,
                "keras_version": keras.__version__,
                # Filled in by the training run (metadata=...); present, as
                # null, in every card so that readers can rely on the keys.
                "dataset": None,
                "train_steps": None,
            }
        )
        card.update(metadata or {})
        with open(os.path.join(staging, MODEL_CARD_FILENAME), "w") as handle:
            json.dump(card, handle, indent=2, sort_keys=True)
        if os.path.exists(target):  # only reachable with overwrite=True
            shutil.rmtree(target)
        os.rename(staging, target)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return target
