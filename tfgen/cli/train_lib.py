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

import dataclasses
import json
import os
import shutil
import tempfile
import typing

import keras
import numpy as np

import tfgen
from tfgen import callbacks as tfgen_callbacks
from tfgen import distribute, plotting
from tfgen import precision as tfgen_precision
from tfgen import random as tfgen_random
from tfgen import validation
from tfgen.config import defaults, option
from tfgen.data.pipeline import batches_per_pass
from tfgen.export import export_saved_model
from tfgen.models import config as model_config

MODEL_FILENAME = "model.keras"
CONFIG_FILENAME = "config.json"
HISTORY_FILENAME = "history.json"
BACKUP_DIRNAME = "backup"


def backup_frequency(text):
    """``--backup-freq``: ``"epoch"`` or a positive number of steps."""
    if text == "epoch":
        return text
    if not text.isdecimal() or int(text) < 1:
        raise ValueError(f"Expected --backup-freq to be 'epoch' or a positive int, got {text!r}.")
    return int(text)


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """The settings every training job shares, and their defaults (``tfgen train``'s common flags)."""

    # Checked by resolve_config, whose error also says how to list the datasets.
    dataset: str = option("fashion_mnist", "dataset name; see `tfgen data list`", metavar="NAME")
    epochs: int = option(5, "training epochs")
    batch_size: int = option(128, "global batch size")
    seed: typing.Optional[int] = option(None, "seed of every random draw (None: drawn and recorded in config.json)")
    steps_per_epoch: typing.Optional[int] = option(None, "limit each epoch to this many batches (None: one pass)")
    num_examples: typing.Optional[int] = option(None, "train on the first N examples only (None: all)")
    backup_freq: typing.Union[str, int] = option("epoch", "backup frequency for exact resume: 'epoch' or a number "
                                                 "of steps", parse=backup_frequency)
    # None: $TFGEN_PRECISION, else auto (tfgen.precision.default_setting); the run records what it picked.
    precision: typing.Optional[str] = option(
        None, "float32, or mixed precision with bfloat16/float16 computation and float32 weights; auto picks "
        "bfloat16 on GPUs with compute capability >= 8.0 and CPUs with native bfloat16 (None: $TFGEN_PRECISION, "
        "else auto)", choices=tfgen_precision.valid_names())
    strategy: str = option("default", "tf.distribute strategy (default: one device); multi_worker reads "
                           "TF_CONFIG", choices=distribute.STRATEGIES)
    devices: typing.Optional[int] = option(None, "replicas per machine: GPUs, or logical CPU devices when there "
                                           "is no GPU")
    output: typing.Optional[str] = option(None, "run directory (None: runs/<name>)")
    name: typing.Optional[str] = option(None, "model name (None: <model>_<dataset>)")
    export_dir: typing.Optional[str] = option(None, "SavedModel base directory (None: saved_models/<name>)")
    export: bool = option(True, "export a SavedModel after training")
    num_samples: int = option(64, "images in each sample grid")
    overwrite: bool = option(False, "replace a finished run in --output")
    verbose: typing.Union[str, int] = option("auto", "Keras' fit verbosity ('auto', 0, 1, 2)", flag=False)


@dataclasses.dataclass(frozen=True)
class ConditioningConfig:
    """Class conditioning, a data setting of every model kind that can take labels (VAE, GAN)."""

    conditional: bool = option(False, "condition both networks on the dataset's labels")


@dataclasses.dataclass(frozen=True)
class VAETrainingConfig(ConditioningConfig):
    """Data settings of ``tfgen train vae`` beyond the model's own."""

    binarize: typing.Optional[bool] = option(None, "dynamically binarise the data (None: when the likelihood is "
                                             "bernoulli)")


@dataclasses.dataclass(frozen=True)
class GANTrainingConfig(ConditioningConfig):
    """Data settings of ``tfgen train gan`` beyond the model's own."""


def _num_classes(config):
    """``num_classes`` of the model: the dataset's number of classes with ``--conditional``, else ``None``."""
    if not config["conditional"]:
        return None
    num_classes = tfgen.data.info(config["dataset"])["num_classes"]
    if not num_classes:
        raise ValueError(f"--conditional needs a dataset with classes; {config['dataset']!r} has none.")
    return num_classes


def _build_vae(config, image_shape):
    settings = {key: config[key] for key in defaults(model_config.VAEConfig)}
    return tfgen.VAE(input_shape=image_shape, num_classes=_num_classes(config), seed=config["seed"],
                     name=config["name"], **settings)


def _compile_vae(model, config):
    model.compile(optimizer=model_config.default_vae_optimizer(config["learning_rate"]))


def _resolve_vae(config):
    if config["binarize"] is None:
        # A Bernoulli likelihood is a proper likelihood only for binary data:
        # binarise dynamically (the standard protocol) unless told otherwise.
        # The others model the pixel values themselves (the discretised
        # logistic their 256 levels), so their data stays as it is.
        config["binarize"] = config["likelihood"] == "bernoulli"
    return config


class _OneClass:
    """A conditional VAE seen as an unconditional one of a single class (for ``plotting.save_interpolation``)."""

    def __init__(self, model, label):
        self.model, self.label = model, int(label)

    def encode(self, images):
        return self.model.encode(images, labels=np.full(np.shape(images)[0], self.label))

    def decode(self, z):
        return self.model.decode(z, labels=np.full(np.shape(z)[0], self.label))


def _vae_pictures(model, config, output, validation_images):
    images = validation_images[:32]
    labels = None
    if model.num_classes is not None:
        _, all_labels = tfgen.data.load_arrays(config["dataset"], split=_validation_split(config))
        labels = np.asarray(all_labels[: len(images)])
    paths = {}
    paths["reconstructions"] = plotting.save_reconstructions(
        images,
        np.asarray(model.reconstruct(images, labels)),
        os.path.join(output, "reconstructions.png"),
    )
    # From the first image to the next one (of its class, for a conditional model: decoded with that label).
    if labels is None:
        partner, interpolated = 1, model
    else:
        partner = next((i for i in range(1, len(images)) if labels[i] == labels[0]), None)
        interpolated = _OneClass(model, labels[0])
    if partner is not None and partner < len(images):
        paths["interpolation"] = plotting.save_interpolation(
            interpolated, images[0], images[partner], os.path.join(output, "interpolation.png")
        )
    return paths


def _build_gan(config, image_shape):
    num_classes = _num_classes(config)
    settings = {key: config[key] for key in defaults(model_config.GANConfig)}
    return tfgen.GAN(input_shape=image_shape, num_classes=num_classes, seed=config["seed"], name=config["name"],
                     **settings)


def _compile_gan(model, config):
    settings = {key: config[key] for key in defaults(model_config.GANCompileConfig)}
    learning_rate, beta_1 = settings.pop("learning_rate"), settings.pop("beta_1")
    d_learning_rate = settings.pop("d_learning_rate")
    model.compile(
        d_optimizer=model_config.default_gan_optimizer(
            learning_rate if d_learning_rate is None else d_learning_rate, beta_1
        ),
        g_optimizer=model_config.default_gan_optimizer(learning_rate, beta_1),
        **settings,
    )


def _no_pictures(model, config, output, validation_images):
    return {}


# Each model kind: its settings (dataclasses: defaults, flags, help), how to
# finish resolving a config, how to build and compile the model, and which
# extra pictures to write after training.
MODELS = {
    "vae": {
        "configs": (model_config.VAEConfig, model_config.VAECompileConfig, VAETrainingConfig),
        "resolve": _resolve_vae,
        "build": _build_vae,
        "compile": _compile_vae,
        "pictures": _vae_pictures,
    },
    "gan": {
        "configs": (model_config.GANConfig, model_config.GANCompileConfig, GANTrainingConfig),
        "resolve": lambda config: config,
        "build": _build_gan,
        "compile": _compile_gan,
        "pictures": _no_pictures,
    },
}


def model_defaults(kind):
    """Every setting of ``tfgen train KIND`` with its default: the common ones, then the model's."""
    validation.check_choice("model", kind, MODELS)
    resolved = defaults(TrainingConfig)
    for config_class in MODELS[kind]["configs"]:
        resolved.update(defaults(config_class))
    return resolved


def resolve_config(config):
    """Fills in every default and validates; returns a new JSON-ready dict.

    Raises:
        ValueError: unknown model kind or keys, or bad values.
    """
    config = dict(config)
    kind = config.get("model", "vae")
    validation.check_choice("model", kind, MODELS)
    resolved = {"model": kind, **model_defaults(kind)}
    unknown = sorted(set(config) - set(resolved))
    if unknown:
        raise ValueError(f"Unknown config keys {unknown} for model {kind!r}. Valid keys: {sorted(resolved)}")
    resolved.update({k: v for k, v in config.items() if v is not None})
    validation.check_choice("dataset", resolved["dataset"], tfgen.data.DATASETS)
    for key in ("epochs", "batch_size", "num_samples"):
        validation.check_positive_int(key, resolved[key])
    for key in ("steps_per_epoch", "num_examples", "devices"):
        validation.check_positive_int(key, resolved[key], allow_none=True)
    validation.check_number("learning_rate", resolved["learning_rate"], minimum=0.0, exclusive_minimum=True)
    if resolved["backup_freq"] != "epoch":
        validation.check_positive_int("backup_freq", resolved["backup_freq"])
    validation.check_choice("strategy", resolved["strategy"], distribute.STRATEGIES, plural="strategies")
    resolved["seed"] = tfgen_random.resolve_seed(resolved["seed"])
    # "auto" is resolved here and recorded as what it picked, so the run can be repeated.
    resolved["precision"] = tfgen_precision.precision_name(
        resolved["precision"] or tfgen_precision.default_setting())
    fill_paths(resolved, f"{kind}_{resolved['dataset']}")
    return MODELS[kind]["resolve"](resolved)


def fill_paths(config, default_name):
    """Fills in ``name``, then ``output`` (``runs/<name>``) and ``export_dir`` (``saved_models/<name>``) where None."""
    if config["name"] is None:
        config["name"] = default_name
    if config["output"] is None:
        config["output"] = os.path.join("runs", config["name"])
    if config["export_dir"] is None:
        config["export_dir"] = os.path.join("saved_models", config["name"])
    return config


def _is_resuming(config):
    backup_path = os.path.join(config["output"], BACKUP_DIRNAME)
    return os.path.isdir(backup_path) and bool(os.listdir(backup_path))


def _keep_interrupted_settings(config):
    """``config`` with the seed and precision of the interrupted run it resumes, if any.

    Both may have been picked by that run (a drawn seed; ``auto`` or
    ``$TFGEN_PRECISION`` on its machine), and an exact resume needs them.
    """
    config_path = os.path.join(config["output"], CONFIG_FILENAME)
    if _is_resuming(config) and os.path.exists(config_path):
        with open(config_path) as handle:
            previous = json.load(handle)
        for key in ("seed", "precision"):
            if previous.get(key) is not None:
                config[key] = previous[key]
    return config


def _prepare_output(config):
    """Refuses to overwrite a finished run unless asked; returns True when resuming."""
    output = config["output"]
    model_path = os.path.join(output, MODEL_FILENAME)
    if os.path.exists(model_path) and not config["overwrite"]:
        raise ValueError(
            f"Output directory {output!r} already holds a finished run ({model_path}); "
            "choose another --output or pass --overwrite."
        )
    resuming = _is_resuming(config)
    config_path = os.path.join(output, CONFIG_FILENAME)
    os.makedirs(output, exist_ok=True)
    with open(config_path, "w") as handle:
        json.dump(config, handle, indent=2, sort_keys=True)
    return resuming


def _validation_split(config):
    """The split that validates a run: ``test``, or ``train`` for datasets without one."""
    return "test" if "test" in tfgen.data.info(config["dataset"])["splits"] else "train"


def _validation_images(config, binarize):
    info = tfgen.data.info(config["dataset"])
    split = _validation_split(config)
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
    if config["steps_per_epoch"]:
        # Short epochs validate on a quarter as many batches: always the same
        # ones (a validation_steps limit would make Keras go on from where the
        # last epoch's validation stopped, so each epoch, and a resumed run,
        # would measure other images).
        dataset = dataset.take(max(1, config["steps_per_epoch"] // 4))
    if binarize:
        # Binarised once (the first pass is kept), as the standard protocol
        # binarises the test set once: every epoch's validation loss is measured
        # on the same images, and a resumed run measures what an uninterrupted
        # one does (a fresh binarisation per pass would depend on the pass count).
        dataset = dataset.cache()
    first = images[:32].astype("float32") / 127.5 - 1.0 if len(info["shape"]) == 3 else images[:32]
    return dataset, first


def train(config, callbacks=(), return_model=False):
    """Runs one training job; returns a dict of the paths it wrote.

    The model is built, trained, saved and exported under the Keras dtype
    policy of ``config["precision"]`` (``"float32"``, ``"bfloat16"``,
    ``"float16"`` or ``"auto"``; see :mod:`tfgen.precision`); the previous
    global policy is restored afterwards, also when training fails.

    Args:
        config: dict with ``model`` (``"vae"`` or ``"gan"``) and any of the
            keys of :func:`model_defaults` (the fields of ``TrainingConfig``
            and of the model's config dataclasses).

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
    config = _keep_interrupted_settings(resolve_config(config))
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

    num_train = tfgen.data.num_examples(config["dataset"], split="train", limit=config["num_examples"])
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
    backup = tfgen_callbacks.TrainingBackup(backup_dir, config["backup_freq"])
    # The backup comes last: what the other callbacks record at an epoch's end
    # (a metric, a search's objective) is written before the backup that moves
    # past that epoch, so a run killed in between redoes the epoch and records it.
    callbacks = [
        tfgen_callbacks.SampleGrid(
            os.path.join(output, "samples"), num_samples=config["num_samples"], seed=config["seed"]
        ),
        *extra_callbacks,
        backup,
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
    # A callback that stopped training (pruning, a time budget, early stopping)
    # in the interrupted epoch also ends the run.
    if epoch < config["epochs"] and not model.stop_training:
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
                "train_steps": int(model.step_counter.numpy()),
                "epochs": config["epochs"],
            },
        )
    backup.finish()
    if not chief:
        shutil.rmtree(output, ignore_errors=True)
        result = {key: None for key in result}
    result["chief"] = chief
    return (result, model) if return_model else result
