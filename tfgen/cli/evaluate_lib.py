"""``tfgen evaluate``: sample-quality metrics of a trained model, as an importable function.

    tfgen evaluate --model runs/vae/model.keras --dataset fashion_mnist \\
        --metrics fid,kid,precision_recall,log_likelihood --num-samples 10000

:func:`evaluate` generates ``num_samples`` images from a ``.keras`` model or a
SavedModel export (its ``generate`` signature), compares them with the
first ``num_real_images`` images of the data set's split (their features
are cached on disk, see :func:`tfgen.metrics.reference_features`), and for
``log_likelihood`` computes the IWAE estimate of a VAE's ``log p(x)`` on
those real images (``.keras`` VAEs only: an export has no log-density
signature). It writes a JSON file with the resolved configuration and the
results (default: ``evaluation.json`` beside the model) and returns the same
dict; :func:`format_table` renders it for the terminal.

Metric names: those of :data:`tfgen.metrics.METRICS` (``fid``, ``kid``,
``precision_recall``, ``fashion_fd``) and ``log_likelihood``.
"""

import inspect
import json
import os
import platform
import time

import numpy as np

from tfgen import validation
from tfgen.cli import model_io
from tfgen.metrics.batches import announce, check_verbose

DEFAULTS = {
    "dataset": "fashion_mnist",
    "split": "test",
    "metrics": "fid,kid",
    "num_samples": 10000,
    "num_real_images": None,  # default: num_samples
    "seed": 0,
    "batch_size": None,  # default per feature extractor
    "iwae_samples": 100,
    "output": None,  # default: evaluation.json beside the model
    "cache_dir": None,
}
MODEL_METRICS = ("log_likelihood",)


def _metric_names(metrics):
    from tfgen.metrics import METRICS

    names = [m.strip() for m in metrics.split(",")] if isinstance(metrics, str) else list(metrics)
    names = [name for name in names if name]
    valid = sorted(METRICS) + list(MODEL_METRICS)
    if not names:
        raise ValueError(f"Expected at least one metric. Valid metrics: {valid}")
    for name in names:
        if name not in valid:
            raise ValueError(f"Unknown metric {name!r}. Valid metrics: {valid}")
    return list(dict.fromkeys(names))


def resolve_config(config):
    """``config`` with defaults filled in and every value checked.

    Raises:
        ValueError: a missing ``model``, unknown keys or metrics, or
            non-positive counts.
    """
    unknown = set(config) - set(DEFAULTS) - {"model"}
    if unknown:
        raise ValueError(f"Unknown evaluate settings {sorted(unknown)}. Valid settings: {sorted(set(DEFAULTS) | {'model'})}")
    if not config.get("model"):
        raise ValueError("Expected a model path (a .keras file or a SavedModel export), got none.")
    resolved = {**DEFAULTS, **{k: v for k, v in config.items() if v is not None}}
    resolved["model"] = os.fspath(resolved["model"])
    resolved["metrics"] = _metric_names(resolved["metrics"])
    for key in ("num_samples", "iwae_samples"):
        resolved[key] = validation.check_positive_int(key, resolved[key])
    if resolved["num_real_images"] is None:
        resolved["num_real_images"] = resolved["num_samples"]
    if resolved["output"] is None:
        resolved["output"] = os.path.join(_model_directory(resolved["model"]), "evaluation.json")
    return resolved


def _model_directory(path):
    if str(path).endswith(".keras"):
        return os.path.dirname(os.path.abspath(path))
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model at {path!r}.")
    return model_io.resolve_saved_model_dir(path)


def _real_test_images(dataset, split, num_images, binarize, seed, with_labels=False):
    """The first ``num_images`` images of ``dataset/split`` (and their labels, with ``with_labels``)."""
    import tfgen.data

    batches = tfgen.data.load(dataset, split=split, batch_size=1000, shuffle=False, binarize=binarize, seed=seed,
                              with_labels=with_labels)
    batches = [batch for batch in batches.take(-(-num_images // 1000))]
    images = np.concatenate([np.asarray(batch[0] if with_labels else batch) for batch in batches])
    if len(images) < num_images:
        raise ValueError(f"Expected num_real_images <= {len(images)} (the size of {dataset}/{split}), got {num_images}.")
    if with_labels:
        labels = np.concatenate([np.asarray(batch[1]) for batch in batches])
        return images[:num_images], labels[:num_images]
    return images[:num_images]


def _with_progress(method, verbose, *args, **kwargs):
    """``method(*args, **kwargs)``, with ``verbose=`` added when ``verbose`` is set and the method takes it."""
    if verbose and "verbose" in inspect.signature(method).parameters:
        kwargs["verbose"] = verbose
    return method(*args, **kwargs)


def _log_likelihood(model, config, verbose=0):
    if model is None or not hasattr(model, "log_likelihood"):
        kind = "a SavedModel export" if model is None else type(model).__name__
        raise ValueError(
            f"log_likelihood needs a VAE saved as .keras (it has an IWAE log_likelihood), got {kind} "
            f"at {config['model']!r}."
        )
    binarize = getattr(model, "likelihood", None) == "bernoulli"
    conditional = getattr(model, "num_classes", None) is not None
    loaded = _real_test_images(config["dataset"], config["split"], config["num_real_images"], binarize, config["seed"],
                               with_labels=conditional)
    # A conditional VAE scores log p(x | y) with each image's own label.
    images, labels = loaded if conditional else (loaded, None)
    announce(f"IWAE log-likelihood of {len(images)} {config['dataset']}/{config['split']} images "
             f"(k={config['iwae_samples']}{', given their labels' if conditional else ''})", verbose)
    values = _with_progress(
        model.log_likelihood, verbose, images, num_samples=config["iwae_samples"], seed=config["seed"],
        **({"labels": labels} if conditional else {}),
    )
    values = np.asarray(values, dtype=np.float64)
    return {
        "log_likelihood": float(values.mean()),
        "log_likelihood_standard_error": float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0,
    }


def evaluate(config, verbose=0):
    """Evaluates a model; writes and returns the results.

    Args:
        config: dict with ``model`` (a ``.keras`` file, a SavedModel version
            directory or an export base directory) and optionally the keys
            of :data:`DEFAULTS`: ``dataset``, ``split``, ``metrics`` (list or
            ``"fid,kid"``), ``num_samples`` (generated images),
            ``num_real_images`` (first images of the split; default
            ``num_samples``), ``seed`` (of the samples, the binarisation and
            the IWAE draws), ``batch_size``, ``iwae_samples`` (k of the IWAE
            bound), ``output`` (JSON path), ``cache_dir``.
        verbose: 1 prints a title and a ``keras.utils.Progbar`` (on stdout)
            for each long stage: generating the samples (``.keras`` models
            whose ``generate`` takes ``verbose``), computing features, the
            IWAE estimate; 0, the default, prints nothing.

    Returns:
        dict: ``config`` (resolved), ``results`` (``{name: float}``: ``fid``,
        ``kid``/``kid_std``, ``precision``/``recall``, ``fashion_fd``,
        ``log_likelihood`` in nats per image and its standard error),
        ``seconds`` per stage, ``feature_extractors`` (cache keys),
        ``versions``, ``output`` (the JSON path).

    Raises:
        ValueError: unknown metrics, a model whose images do not match the
            data set, ``log_likelihood`` for a model without one, or missing
            Inception weights.
        FileNotFoundError: no model at the path.
    """
    import tensorflow as tf

    import tfgen
    from tfgen.metrics import METRICS, evaluate_images, get_feature_extractor

    config = resolve_config(config)
    verbose = check_verbose(verbose)
    seconds = {}
    start = time.perf_counter()
    model = model_io.load_keras_model(config["model"]) if config["model"].endswith(".keras") else None
    if model is not None:
        announce(f"Generating {config['num_samples']} samples", verbose)
        images = np.asarray(_with_progress(model.generate, verbose, config["num_samples"], seed=config["seed"]))
    else:
        announce(f"Generating {config['num_samples']} samples with the export", verbose)
        images = model_io.generate(config["model"], config["num_samples"], config["seed"])
    seconds["generate"] = time.perf_counter() - start

    results = {}
    sample_metrics = [name for name in config["metrics"] if name in METRICS]
    if sample_metrics:
        expected_shape = tuple(tfgen.data.info(config["dataset"])["shape"])
        if tuple(images.shape[1:]) != expected_shape:
            raise ValueError(
                f"The model generates images of shape {tuple(images.shape[1:])}, but {config['dataset']} "
                f"has images of shape {expected_shape}: evaluate it on a matching data set."
            )
        start = time.perf_counter()
        results.update(
            evaluate_images(
                images, sample_metrics, dataset=config["dataset"], split=config["split"],
                num_real_images=config["num_real_images"], batch_size=config["batch_size"],
                cache_dir=config["cache_dir"], seed=config["seed"], verbose=verbose,
            )
        )
        seconds["sample_metrics"] = time.perf_counter() - start
    if "log_likelihood" in config["metrics"]:
        start = time.perf_counter()
        results.update(_log_likelihood(model, config, verbose))
        seconds["log_likelihood"] = time.perf_counter() - start

    extractors = sorted({METRICS[name].extractor for name in sample_metrics})
    report = {
        "config": config,
        "results": results,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "feature_extractors": {name: get_feature_extractor(name).cache_key for name in extractors},
        "versions": {
            "tfgen": tfgen.__version__,
            "tensorflow": tf.__version__,
            "python": platform.python_version(),
        },
        "output": os.path.abspath(config["output"]),
    }
    directory = os.path.dirname(report["output"])
    os.makedirs(directory, exist_ok=True)
    with open(report["output"], "w") as file:
        json.dump(report, file, indent=2)
    return report


def format_table(report):
    """The results of :func:`evaluate` as an aligned two-column text table."""
    results = dict(report["results"])
    rows = []
    for name, value in results.items():
        if name in ("kid_std", "log_likelihood_standard_error"):
            continue
        if name == "kid" and "kid_std" in results:
            text = f"{value:.5f} +/- {results['kid_std']:.5f}"
        elif name == "log_likelihood":
            error = results.get("log_likelihood_standard_error", 0.0)
            text = f"{value:.2f} +/- {error:.2f} nats (IWAE, k={report['config']['iwae_samples']})"
        else:
            text = f"{value:.4f}"
        rows.append((name, text))
    config = report["config"]
    header = (
        f"{config['model']}: {config['num_samples']} samples vs {config['num_real_images']} "
        f"{config['dataset']}/{config['split']} images"
    )
    width = max([len("metric")] + [len(name) for name, _ in rows])
    lines = [header, f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 5}"]
    lines += [f"{name:<{width}}  {text}" for name, text in rows]
    return "\n".join(lines)
