"""Loading models for the CLI: ``.keras`` files and SavedModel exports."""

import os

import numpy as np

from tfgen.export import existing_versions


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
    """``num_samples`` images ``[N, H, W, C]`` in [-1, 1] from a model at ``path``."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"Expected a positive number of samples, got {num_samples!r}.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model at {path!r}.")
    if str(path).endswith(".keras"):
        return np.asarray(load_keras_model(path).generate(num_samples, seed=seed))
    import tensorflow as tf

    loaded = tf.saved_model.load(resolve_saved_model_dir(path))
    if "generate" not in loaded.signatures:
        raise ValueError(f"The SavedModel at {path!r} has no 'generate' signature.")
    signature = loaded.signatures["generate"]
    inputs = signature.structured_input_signature[1]
    latent_dim = int(inputs["latent"].shape[1])
    rng = np.random.default_rng(seed)
    feeds = {"latent": rng.standard_normal((num_samples, latent_dim)).astype("float32")}
    if "labels" in inputs:
        num_classes = int(loaded.num_classes) if hasattr(loaded, "num_classes") else 10
        feeds["labels"] = (np.arange(num_samples) % num_classes).astype(inputs["labels"].dtype.as_numpy_dtype)
    return signature(**{k: tf.constant(v) for k, v in feeds.items()})["images"].numpy()
