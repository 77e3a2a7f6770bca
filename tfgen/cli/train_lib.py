"""Importable training jobs behind ``tfgen train``.

``train(config)`` takes a plain dict (the CLI builds it from its flags),
resolves every default, writes the resolved config to
``<output>/config.json`` so the run can be repeated, trains with
``model.fit``, and writes the ``.keras`` model, sample pictures, the training
history and a SavedModel export.

Example:
```python
from tfgen.cli import train_lib
result = train_lib.train({"model": "vae", "dataset": "digits", "epochs": 2,
                          "output": "runs/digits"})
print(result["export"])          # saved_models/vae_digits/1
```
"""

import json
import os
import shutil
import tempfile

import keras
import numpy as np

import tfgen
from tfgen import callbacks as tfgen_callbacks
from tfgen import distribute, plotting
from tfgen import precision as tfgen_precision
from tfgen.data.pipeline import batches_per_pass
from tfgen.export import export_saved_model
from tfgen.models.vae import check_seed

MODEL_FILENAME = "model.keras"
CONFIG_FILENAME = "config.json"
HISTORY_FILENAME = "history.json"
BACKUP_DIRNAME = "backup"

COMMON_DEFAULTS = {
    "dataset": "fashion_mnist",
    "epochs": 5,
    "batch_size": 128,
    "learning_rate": None,
    "seed": None,
    "output": None,
    "export_dir": None,
    "name": None,
    "steps_per_epoch": None,
    "num_examples": None,
    "num_samples": 64,
    "overwrite": False,
    "export": True,
    "backup_freq": "epoch",
    "strategy": "default",
    "devices": None,
    "verbose": "auto",
    # float32 until mixed precision is shown to match it in quality (ELBO, FID).
    "precision": "float32",
}

VAE_DEFAULTS = {
    "learning_rate": 1e-3,
    "latent_dim": 16,
    "likelihood": "bernoulli",
    "binarize": None,
    "architecture": "conv",
    "beta": 1.0,
    "base_filters": 32,
    "hidden_units": 256,
}


def _build_vae(config, image_shape):
    return tfgen.VAE(
        input_shape=image_shape,
        latent_dim=config["latent_dim"],
        architecture=config["architecture"],
        likelihood=config["likelihood"],
        beta=config["beta"],
        base_filters=config["base_filters"],
        hidden_units=config["hidden_units"],
        seed=config["seed"],
        name=config["name"],
    )


def _compile_vae(model, config):
    model.compile(optimizer=keras.optimizers.Adam(config["learning_rate"]))


def _resolve_vae(config):
    if config["binarize"] is None:
        # A Bernoulli likelihood is a proper likelihood only for binary data:
        # binarise dynamically (the standard protocol) unless told otherwise.
        config["binarize"] = config["likelihood"] == "bernoulli"
    return config


def _vae_pictures(model, config, output, validation_images):
    paths = {}
    paths["reconstructions"] = plotting.save_reconstructions(
        validation_images[:32],
        np.asarray(model.reconstruct(validation_images[:32])),
        os.path.join(output, "reconstructions.png"),
    )
    if len(validation_images) >= 2:
        paths["interpolation"] = plotting.save_interpolation(
            model, validation_images[0], validation_images[1], os.path.join(output, "interpolation.png")
        )
    return paths


GAN_DEFAULTS = {
    "learning_rate": 2e-4,
    "latent_dim": 64,
    "loss": "non_saturating",
    "gradient_penalty": 0.0,
    "r1_penalty": 0.0,
    "d_steps_per_g_step": 1,
    "update": "alternating",
    "ema_decay": None,
    "spectral_norm": False,
    "conditional": False,
    "base_filters": 64,
}


def _build_gan(config, image_shape):
    from tfgen.models.gan import GAN

    num_classes = tfgen.data.info(config["dataset"])["num_classes"] if config["conditional"] else None
    if config["conditional"] and not num_classes:
        raise ValueError(f"--conditional needs a dataset with classes; {config['dataset']!r} has none.")
    return GAN(
        input_shape=image_shape,
        latent_dim=config["latent_dim"],
        num_classes=num_classes,
        spectral_norm=config["spectral_norm"],
        base_filters=config["base_filters"],
        seed=config["seed"],
        name=config["name"],
    )


def _compile_gan(model, config):
    model.compile(
        d_optimizer=keras.optimizers.Adam(config["learning_rate"], beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(config["learning_rate"], beta_1=0.5),
        loss=config["loss"],
        gradient_penalty=config["gradient_penalty"],
        r1_penalty=config["r1_penalty"],
        d_steps_per_g_step=config["d_steps_per_g_step"],
        ema_decay=config["ema_decay"],
        update=config["update"],
    )


def _resolve_gan(config):
    from tfgen import losses

    losses.get_gan_loss(config["loss"])  # raises for an unknown name, listing the valid ones
    return config


def _no_pictures(model, config, output, validation_images):
    return {}


# Each model kind: its defaults, how to finish resolving a config, how to build
# the model, and which extra pictures to write after training.
MODELS = {
    "vae": {
        "defaults": VAE_DEFAULTS,
        "resolve": _resolve_vae,
        "build": _build_vae,
        "compile": _compile_vae,
        "pictures": _vae_pictures,
    },
    "gan": {
        "defaults": GAN_DEFAULTS,
        "resolve": _resolve_gan,
        "build": _build_gan,
        "compile": _compile_gan,
        "pictures": _no_pictures,
    },
}


def _positive_int(config, key, allow_none=False):
    value = config[key]
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Expected {key} to be a positive int, got {value!r}.")


def resolve_config(config):
    """Fills in every default and validates; returns a new JSON-ready dict.

    Raises:
        ValueError: unknown model kind or keys, or bad values.
    """
    config = dict(config)
    kind = config.get("model", "vae")
    if kind not in MODELS:
        raise ValueError(f"Unknown model {kind!r}. Valid models: {sorted(MODELS)}")
    spec = MODELS[kind]
    known = {"model"} | set(COMMON_DEFAULTS) | set(spec["defaults"])
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"Unknown config keys {unknown} for model {kind!r}. Valid keys: {sorted(known)}")
    resolved = {"model": kind, **COMMON_DEFAULTS, **spec["defaults"]}
    resolved.update({k: v for k, v in config.items() if v is not None or k not in resolved})
    if resolved["dataset"] not in tfgen.data.DATASETS:
        raise ValueError(
            f"Unknown dataset {resolved['dataset']!r}. Valid datasets: {sorted(tfgen.data.DATASETS)}"
        )
    for key in ("epochs", "batch_size", "num_samples"):
        _positive_int(resolved, key)
    for key in ("steps_per_epoch", "num_examples"):
        _positive_int(resolved, key, allow_none=True)
    if not isinstance(resolved["learning_rate"], (int, float)) or resolved["learning_rate"] <= 0:
        raise ValueError(
            f"Expected learning_rate to be a positive number, got {resolved['learning_rate']!r}."
        )
    if resolved["backup_freq"] != "epoch":
        _positive_int(resolved, "backup_freq")
    _positive_int(resolved, "devices", allow_none=True)
    if resolved["strategy"] not in distribute.STRATEGIES:
        raise ValueError(
            f"Unknown strategy {resolved['strategy']!r}. Valid strategies: {sorted(distribute.STRATEGIES)}"
        )
    resolved["seed"] = check_seed(resolved["seed"])
    # "auto" is resolved here and recorded as what it picked, so the run can be repeated.
    resolved["precision"] = tfgen_precision.precision_name(resolved["precision"])
    if resolved["name"] is None:
        resolved["name"] = f"{kind}_{resolved['dataset']}"
    if resolved["output"] is None:
        resolved["output"] = os.path.join("runs", resolved["name"])
    if resolved["export_dir"] is None:
        resolved["export_dir"] = os.path.join("saved_models", resolved["name"])
    return spec["resolve"](resolved)


def _prepare_output(config):
    """Refuses to overwrite a finished run unless asked; returns True when resuming."""
    output = config["output"]
    model_path = os.path.join(output, MODEL_FILENAME)
    backup_path = os.path.join(output, BACKUP_DIRNAME)
    if os.path.exists(model_path) and not config["overwrite"]:
        raise ValueError(
            f"Output directory {output!r} already holds a finished run ({model_path}); "
            "choose another --output or pass --overwrite."
        )
    resuming = os.path.isdir(backup_path) and bool(os.listdir(backup_path))
    config_path = os.path.join(output, CONFIG_FILENAME)
    if resuming and os.path.exists(config_path):
        with open(config_path) as handle:
            previous = json.load(handle)
        # The seed may have been drawn by the interrupted run: keep it.
        if previous.get("seed") is not None:
            config["seed"] = previous["seed"]
    os.makedirs(output, exist_ok=True)
    with open(config_path, "w") as handle:
        json.dump(config, handle, indent=2, sort_keys=True)
    return resuming


def _validation_images(config, binarize):
    info = tfgen.data.info(config["dataset"])
    split = "test" if "test" in info["splits"] else "train"
    images, _ = tfgen.data.load_arrays(config["dataset"], split=split)
    images = images[: min(len(images), 10000)]
    dataset = tfgen.data.load(
        config["dataset"],
        split=split,
        batch_size=config["batch_size"],
        shuffle=False,
        binarize=binarize,
        seed=config["seed"],
        num_examples=min(len(images), 10000),
        with_labels=bool(config.get("conditional")),
    )
    first = images[:32].astype("float32") / 127.5 - 1.0 if len(info["shape"]) == 3 else images[:32]
    return dataset, first


def train(config, callbacks=(), return_model=False):
    """Runs one training job; returns a dict of the paths it wrote.

    The model is built, trained, saved and exported under the Keras dtype
    policy of ``config["precision"]`` (``"float32"``, ``"bfloat16"``,
    ``"float16"`` or ``"auto"``; see :mod:`tfgen.precision`); the previous
    global policy is restored afterwards, also when training fails.

    Args:
        config: dict with ``model`` (``"vae"``) and any of the keys of
            ``COMMON_DEFAULTS`` and the model's defaults (for the VAE,
            ``VAE_DEFAULTS``).

        callbacks: extra Keras callbacks for ``fit``.
        return_model: also return the trained model.

    Training reads the data as one repeated stream (``repeat=True``), so an
    epoch is ``steps_per_epoch`` batches (default: one pass over the data),
    and a run killed at any point resumes from its last backup with the same
    result as a run that never stopped (run the same command again).

    Returns:
        dict with ``config``, ``model``, ``samples``, ``history``, ``export``
        (None when ``export`` is False), picture paths and ``chief``; on
        non-chief workers of a multi-worker run every path is None. With
        ``return_model``, the pair ``(result, model)``.
    """
    config = resolve_config(config)
    with tfgen_precision.policy_scope(config["precision"]):
        return _train(config, callbacks, return_model)


def _train(config, callbacks=(), return_model=False):
    """:func:`train` on a resolved config, under the dtype policy already in force."""
    extra_callbacks = list(callbacks)
    spec = MODELS[config["model"]]
    strategy = distribute.get_strategy(config["strategy"], num_devices=config["devices"])
    chief = distribute.is_chief(strategy)
    # Every worker of a multi-worker run executes the same code (saving can
    # involve collective ops), but only the chief writes to the real output;
    # the others write to a temporary directory that is removed at the end.
    output = config["output"] if chief else tempfile.mkdtemp(prefix="tfgen-worker-")
    if chief:
        _prepare_output(config)
    keras.utils.set_random_seed(config["seed"])

    num_train = len(tfgen.data.load_arrays(config["dataset"], split="train")[0])
    if config["num_examples"] is not None:
        num_train = min(num_train, config["num_examples"])
    steps_per_epoch = config["steps_per_epoch"] or batches_per_pass(num_train, config["batch_size"])
    validation_data, validation_images = _validation_images(config, config.get("binarize", False))
    image_shape = tuple(tfgen.data.info(config["dataset"])["shape"])

    with strategy.scope():
        model = spec["build"](config, image_shape)
        spec["compile"](model, config)
    backup_dir = os.path.join(config["output"], BACKUP_DIRNAME)
    if not chief:
        backup_dir = os.path.join(config["output"], f"{BACKUP_DIRNAME}_worker_{strategy.cluster_resolver.task_id}")
    # Resume exactly: weights, optimizer state and the position in the data
    # stream (a pure function of the seed) all come back from the backup.
    start_step = tfgen_callbacks.TrainingBackup.restore(model, backup_dir)
    backup = tfgen_callbacks.TrainingBackup(backup_dir, config["backup_freq"], initial_step=start_step)
    callbacks = [
        backup,
        tfgen_callbacks.SampleGrid(
            os.path.join(output, "samples"), num_samples=config["num_samples"], seed=config["seed"]
        ),
        *extra_callbacks,
    ]

    def fit(first_step, initial_epoch, epochs, steps):
        train_data = tfgen.data.load(
            config["dataset"],
            split="train",
            batch_size=config["batch_size"],
            seed=config["seed"],
            binarize=config.get("binarize", False),
            num_examples=config["num_examples"],
            with_labels=bool(config.get("conditional")),
            repeat=True,
            start_step=first_step,
        )
        return model.fit(
            train_data,
            initial_epoch=initial_epoch,
            epochs=epochs,
            steps_per_epoch=steps,
            validation_data=validation_data,
            validation_steps=config["steps_per_epoch"] and max(1, config["steps_per_epoch"] // 4),
            callbacks=callbacks,
            shuffle=False,  # the stream is already shuffled, reproducibly
            verbose=config["verbose"] if chief else 0,
        ).history

    history = {}
    epoch, batch_in_epoch = divmod(start_step, steps_per_epoch)
    if batch_in_epoch and epoch < config["epochs"]:
        # Finish the interrupted epoch first, then run whole epochs.
        history = fit(start_step, epoch, epoch + 1, steps_per_epoch - batch_in_epoch)
        epoch += 1
    if epoch < config["epochs"]:
        rest = fit(epoch * steps_per_epoch, epoch, config["epochs"], steps_per_epoch)
        history = {key: history.get(key, []) + rest[key] for key in rest}

    result = {"config": os.path.join(output, CONFIG_FILENAME)}
    result["model"] = os.path.join(output, MODEL_FILENAME)
    model.save(result["model"])
    result["history"] = os.path.join(output, HISTORY_FILENAME)
    with open(result["history"], "w") as handle:
        json.dump({k: [float(v) for v in values] for k, values in history.items()}, handle, indent=2)
    samples = np.asarray(model.generate(config["num_samples"], seed=config["seed"]))
    samples_path = os.path.join(output, "samples.png")
    if samples.ndim == 2:  # 2-D points
        means = None
        if config["dataset"] in tfgen.data.mixtures.MIXTURES:
            means = tfgen.data.mixtures.mixture_means(config["dataset"])
        result["samples"] = plotting.save_points(samples, samples_path, means=means)
    else:
        result["samples"] = plotting.save_image_grid(samples, samples_path)
    result.update(spec["pictures"](model, config, output, validation_images))
    result["export"] = None
    if config["export"]:
        result["export"] = export_saved_model(
            model,
            config["export_dir"] if chief else os.path.join(output, "export"),
            metadata={
                "dataset": config["dataset"],
                "train_steps": int(backup.step),
                "epochs": config["epochs"],
            },
        )
    backup.finish()
    if not chief:
        shutil.rmtree(output, ignore_errors=True)
        result = {key: None for key in result}
    result["chief"] = chief
    return (result, model) if return_model else result
