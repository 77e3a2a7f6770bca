"""Loading models for the CLI: ``.keras`` files and SavedModel exports."""

import json
import os

import numpy as np

from tfgen import validation
from tfgen.export import MODEL_CARD_FILENAME, existing_versions


def load_keras_model(path):
    """Loads a tfgen ``.keras`` model.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is not a ``.keras`` file or not a tfgen model.
    """
    import keras

    import tfgen  # noqa: F401  (registers tfgen's classes for deserialisation)

    if not os.path.exists(path):
        raise FileNotFoundError(f"No model at {path!r}.")
    if not str(path).endswith(".keras"):
        raise ValueError(f"Expected a .keras model file, got {path!r}.")
    model = keras.models.load_model(path)
    if not hasattr(model, "generate"):
        raise ValueError(f"{path!r} holds a {type(model).__name__}, not a tfgen VAE or GAN.")
    return model


def resolve_saved_model_dir(path):
    """Returns a SavedModel directory: ``path`` itself or its highest version."""
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = existing_versions(path)
    if not versions:
        raise ValueError(
            f"Expected a .keras file, a SavedModel directory or an export base directory "
            f"with numbered versions, got {path!r}."
        )
    return os.path.join(path, str(versions[-1]))


def generate(path, num_samples, seed):
    """``num_samples`` samples from a model at ``path``, as ``model.generate(num_samples, seed=seed)``.

    A ``.keras`` model generates directly; a SavedModel export runs its own
    ``sample`` signature, so both give the same samples for a seed.

    Returns:
        float32 NumPy ``[N, H, W, C]`` images in [-1, 1], or ``[N, D]`` for vector models.

    Raises:
        FileNotFoundError: nothing at ``path``.
        ValueError: bad ``num_samples`` or ``seed``, or not a tfgen model or export.
    """
    num_samples = validation.check_positive_int("num_samples", num_samples)
    seed = validation.check_export_seed("seed", seed)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model at {path!r}.")
    if str(path).endswith(".keras"):
        return np.asarray(load_keras_model(path).generate(num_samples, seed=seed))
    import tensorflow as tf

    directory = resolve_saved_model_dir(path)
    signatures = tf.saved_model.load(directory).signatures
    if "sample" in signatures:
        outputs = signatures["sample"](num_samples=tf.constant(num_samples), seed=tf.constant(seed))
    elif "generate" in signatures:
        outputs = _generate_without_sample_signature(directory, signatures["generate"], num_samples, seed)
    else:
        raise ValueError(f"The SavedModel at {path!r} has neither a 'sample' nor a 'generate' signature.")
    (samples,) = outputs.values()  # "images", or "samples" for vector models
    return samples.numpy()


def _generate_without_sample_signature(directory, signature, num_samples, seed):
    """Exports written before every model had ``sample``: the same latents and labels, drawn here."""
    import tensorflow as tf

    from tfgen import random as tfgen_random

    latent_dim = int(signature.structured_input_signature[1]["latent"].shape[1])
    feeds = {"latent": tfgen_random.prior_latents(num_samples, latent_dim, seed)}
    if "labels" in signature.structured_input_signature[1]:
        card_path = os.path.join(directory, MODEL_CARD_FILENAME)
        num_classes = None
        if os.path.exists(card_path):
            with open(card_path) as handle:
                num_classes = json.load(handle).get("num_classes")
        if not num_classes:
            raise ValueError(
                f"The conditional SavedModel at {directory!r} has no 'sample' signature and no model card "
                "naming num_classes; export it again with this version of tfgen."
            )
        feeds["labels"] = tf.range(num_samples, dtype=tf.int32) % int(num_classes)
    return signature(**feeds)
