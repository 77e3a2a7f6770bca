"""Export trained models as TensorFlow SavedModels with named signatures.

The export is a plain SavedModel: it loads with ``tf.saved_model.load`` in a
process that never imports tfgen, and TensorFlow Serving serves it from the
``<base>/<version>/`` layout (``saved_models/<name>/<version>/`` by default).

The signatures are the model's own list,
:meth:`tfgen.models.GenerativeModel.serving_endpoints`; the first one is
also ``serving_default``. Every model family has (float32 unless noted,
dynamic batch dimension):

==============  ===============================================  =================================
signature       inputs                                           outputs
==============  ===============================================  =================================
generate        latent ``[N, latent_dim]`` (+ labels int32       images ``[N, H, W, C]`` in [-1, 1]
                ``[N]`` when conditional)                        (``samples`` for vector models)
generate_png    as ``generate`` (image models with 1, 3 or 4     images_bytes: string ``[N]``, PNGs
                channels only)
sample          num_samples int32 ``[]``, seed int32 ``[]``      as ``generate``: the samples of
                                                                 ``model.generate(num_samples, seed=seed)``
sample_labels   labels int32 ``[N]``, seed int32 ``[]``          as ``generate``: ``model.generate(N,
                (conditional models only)                        seed=seed, labels=labels)``
serving_default same as ``generate``
==============  ===============================================  =================================

The VAE adds ``decode`` (latent -> images), ``encode`` (images -> z_mean,
z_log_var) and ``reconstruct`` (images -> images). A GAN compiled with
``ema_decay`` is served from its EMA generator.

``generate_png`` returns one PNG file per image (uint8 pixels
``round((x + 1) * 127.5)``), so that a web or mobile client can show samples
without handling arrays. Its output is named ``images_bytes`` because
TensorFlow Serving's REST API base64-encodes string outputs (as
``{"b64": "..."}``) only when their name ends in ``_bytes``.

Example:
```python
path = tfgen.export_saved_model(vae)              # saved_models/vae/1
loaded = tf.saved_model.load(path)
images = loaded.signatures["generate"](latent=tf.zeros([4, 16]))["images"]
images = loaded.signatures["sample"](num_samples=tf.constant(4), seed=tf.constant(0))["images"]
```
"""

import contextlib
import json
import os
import re
import shutil
import tempfile

import keras
import tensorflow as tf

from tfgen.models.base import PNG_OUTPUT_KEY, PNG_SIGNATURE_NAME, GenerativeModel, images_to_png, png_endpoint
from tfgen.version import __version__

DEFAULT_BASE_DIR = "saved_models"
MODEL_CARD_FILENAME = "model_card.json"
_VERSION_PATTERN = re.compile(r"^[0-9]+$")

__all__ = [
    "DEFAULT_BASE_DIR",
    "MODEL_CARD_FILENAME",
    "PNG_OUTPUT_KEY",
    "PNG_SIGNATURE_NAME",
    "existing_versions",
    "export_saved_model",
    "images_to_png",
    "png_endpoint",
]


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_exportable(model):
    """Raises ``ValueError`` unless ``model`` is a tfgen model (what every export format needs)."""
    if not isinstance(model, GenerativeModel):
        raise ValueError(
            f"Cannot export a {type(model).__name__}: expected a tfgen model "
            "(a subclass of tfgen.models.GenerativeModel such as tfgen.VAE or tfgen.GAN)."
        )


def library_versions():
    """The versions of tfgen, TensorFlow and Keras, for a model card."""
    return {"tfgen_version": __version__, "tensorflow_version": tf.__version__, "keras_version": keras.__version__}


@contextlib.contextmanager
def staging_directory(parent, prefix):
    """A new private folder in ``parent`` to write an export into; removed on exit unless published."""
    staging = tempfile.mkdtemp(prefix=prefix, dir=parent)
    try:
        yield staging
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)


def publish(staging, target, card):
    """Writes ``card`` as the model card in ``staging``, then renames ``staging`` to ``target``.

    An existing ``target`` (callers allow that only with ``overwrite=True``)
    is removed just before the rename, once the new export is complete.
    """
    with open(os.path.join(staging, MODEL_CARD_FILENAME), "w") as handle:
        json.dump(card, handle, indent=2, sort_keys=True)
    # mkdtemp makes the folder private (0700); an export gets the permissions
    # of any new folder (0755 under the usual umask), so a server running as
    # another user can read it.
    os.chmod(staging, 0o777 & ~_current_umask())
    if os.path.exists(target):
        shutil.rmtree(target)
    os.rename(staging, target)


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
        model: a tfgen model (any :class:`tfgen.models.GenerativeModel`).
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
    check_exportable(model)
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
    # No archive.track(model): write_out saves every variable the endpoints
    # use, once. Tracking the model would store a second copy of each (its
    # Keras wrappers) plus networks no signature uses (a GAN's discriminator).
    endpoints = model.serving_endpoints()
    for endpoint in endpoints:
        archive.add_endpoint(endpoint.name, endpoint.function, input_signature=endpoint.input_signature)

    # Write beside the target and rename, so that a server watching base_dir
    # never sees a half-written version.
    with staging_directory(base_dir, f".tmp-{version}-") as staging:
        archive.write_out(staging, verbose=False)
        card = {"dataset": None}  # filled in by the training run (metadata=...); null otherwise
        card.update(model.model_card())
        card.update(
            {
                "name": model.name,
                "version": version,
                "signatures": [endpoint.name for endpoint in endpoints] + ["serving_default"],
                **library_versions(),
            }
        )
        card.update(metadata or {})
        publish(staging, target, card)
    return target
