"""Importable hyperparameter search behind ``tfgen tune`` (on Optuna).

``tune(config)`` searches a declared space of a model's settings (learning
rates, loss, penalties, EMA, augmentation, width, latent size, beta ...),
training each trial with :func:`tfgen.cli.train_lib.train` for a fixed
number of epochs and scoring it with a quality metric computed after every
epoch: ``fashion_fd`` or ``fid`` of generated images, or a VAE's validation
ELBO. Poor trials stop early (Optuna's Hyperband or median pruner, on the
per-epoch values). Every trial is seeded (``seed + trial``) and trains in
its own run directory, ``<output>/trials/<trial>/``, whose ``config.json``
is its full resolved config.

The study lives in an Optuna storage (default: the journal file
``<output>/study.journal``). Running the same command again continues the
search: finished trials are not rerun, and a trial whose process died is
run again with the same parameters and seed, resuming from its last backup
(exactly, as ``tfgen train`` resumes). ``jobs`` runs that many trials at
once, each in its own process; several commands (on one machine, or on
several machines sharing ``output`` or a database ``storage``) can work on
one search.

At the end it writes a table of the trials sorted by the objective
(``trials.md``, ``trials.csv``), a plot of the objective against each
hyperparameter (``objective.png``), the best trial's sample grid
(``best_samples.png``), config (``best_config.json``) and model
(``model.keras``), and exports that model as a SavedModel like ``tfgen
train`` (``saved_models/<name>/<version>``).

Example:
```python
from tfgen.cli import tune_lib
result = tune_lib.tune({"model": "gan", "dataset": "fashion_mnist", "budget": "8x2",
                        "steps_per_epoch": 100, "output": "runs/tune_gan"})
print(result["table"])            # runs/tune_gan/trials.md
print(result["best"]["params"])   # the best trial's hyperparameters
```
"""

import contextlib
import csv
import dataclasses
import fcntl
import json
import math
import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import typing

import keras

import tfgen
from tfgen import plotting, validation
from tfgen import precision as tfgen_precision
from tfgen import random as tfgen_random
from tfgen.cli import train_lib
from tfgen.config import defaults, option

SEARCH_FILENAME = "search.json"
JOURNAL_FILENAME = "study.journal"
LOCK_FILENAME = "search.lock"
EXPORTED_FILENAME = "exported.json"
TRIALS_DIRNAME = "trials"
OBJECTIVE_FILENAME = "objective.json"
# A trial of another machine whose heartbeat is older than this is taken as
# dead and run again; on this machine a dead process is seen at once.
HEARTBEAT_SECONDS = 30
STALE_SECONDS = 300


@dataclasses.dataclass(frozen=True)
class Objective:
    """A quality measure a trial is scored by, after every epoch.

    Attributes:
        direction: ``"minimize"`` or ``"maximize"``.
        models: the model kinds it applies to.
        metric: a name of :data:`tfgen.metrics.METRICS` computed by a
            :class:`tfgen.metrics.MetricCallback`, or ``None`` when the value
            comes from the epoch's logs (``from_logs``).
        description: one line for ``--help`` and the report.
    """

    direction: str
    models: tuple
    metric: typing.Optional[str]
    description: str
    from_logs: typing.Optional[typing.Callable] = None


def _validation_elbo(logs):
    # The ELBO itself, whatever beta weighted the KL term in training.
    return -(logs["val_reconstruction_loss"] + logs["val_kl_loss"])


OBJECTIVES = {
    "fashion_fd": Objective("minimize", ("gan", "vae"), "fashion_fd",
                            "Frechet distance to training images in a Fashion-MNIST classifier's features (fast; "
                            "Fashion-MNIST only)"),
    "fid": Objective("minimize", ("gan", "vae"), "fid", "Frechet Inception distance to training images"),
    "val_elbo": Objective("maximize", ("vae",), None, "ELBO of the validation images, nats per image",
                          from_logs=_validation_elbo),
}
DEFAULT_OBJECTIVES = {"gan": "fashion_fd", "vae": "val_elbo"}

# The default search spaces: {setting: {"low", "high"[, "log"]} or {"choices": [...]}}.
# Ranges around the published recipes (DCGAN's Adam(2e-4, 0.5), TTUR, R1 gammas
# of 0.1-10, EMA 0.999, DiffAugment's policies), kept cheap enough for a CPU.
SPACES = {
    "gan": {
        "learning_rate": {"low": 5e-5, "high": 1e-3, "log": True},
        "d_learning_rate": {"low": 5e-5, "high": 2e-3, "log": True},
        "beta_1": {"choices": [0.0, 0.5]},
        "loss": {"choices": ["non_saturating", "hinge", "least_squares", "relativistic"]},
        "r1_penalty": {"choices": [0.0, 0.1, 1.0, 10.0]},
        "ema_decay": {"choices": [None, 0.99, 0.999]},
        "augment": {"choices": ["", "translation", "translation,cutout", "color,translation,cutout"]},
        "base_filters": {"choices": [32, 64]},
        "latent_dim": {"choices": [32, 64, 128]},
    },
    "vae": {
        "learning_rate": {"low": 1e-4, "high": 3e-3, "log": True},
        "latent_dim": {"choices": [8, 16, 32, 64]},
        "beta": {"low": 0.5, "high": 2.0, "log": True},
        "base_filters": {"choices": [16, 32, 64]},
        "hidden_units": {"choices": [128, 256, 512]},
    },
}


def _pruners(epochs):
    import optuna

    return {
        # Successive halving over epochs in brackets: stops the worse two thirds at each rung.
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3),
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        "none": lambda: optuna.pruners.NopPruner(),
    }


PRUNERS = ("hyperband", "median", "none")


def parse_budget(text):
    """``"TRIALSxEPOCHS"`` (e.g. ``"12x3"``) as the pair ``(trials, epochs)``; else ``ValueError``."""
    parts = str(text).lower().split("x")
    if len(parts) != 2 or not all(part.strip().isdecimal() and int(part) > 0 for part in parts):
        raise ValueError(f"Expected the budget as TRIALSxEPOCHS with positive ints (e.g. '12x3'), got {text!r}.")
    return int(parts[0]), int(parts[1])


def _budget_flag(text):
    parse_budget(text)
    return text


@dataclasses.dataclass(frozen=True)
class TuneConfig:
    """The search's own settings and their defaults (``tfgen tune``'s flags beyond ``tfgen train``'s)."""

    budget: str = option("12x3", "TRIALSxEPOCHS: trials, and the epochs each one trains (pruned ones stop "
                         "earlier)", parse=_budget_flag, metavar="TRIALSxEPOCHS")
    objective: typing.Optional[str] = option(
        None, "what a trial is scored by after every epoch (None: fashion_fd for a GAN, val_elbo for a VAE)",
        choices=OBJECTIVES)
    objective_samples: int = option(2000, "fashion_fd, fid: generated and real images per evaluation")
    space: typing.Optional[str] = option(
        None, "search space, a JSON file or JSON text: {setting: {\"low\": a, \"high\": b[, \"log\": true]} or "
        "{\"choices\": [...]}} (None: the model's default space, see --print-space); a setting passed as its own "
        "flag is fixed instead", metavar="JSON")
    pruner: str = option("hyperband", "early stopping of poor trials on their per-epoch values", choices=PRUNERS)
    jobs: int = option(1, "trials run at once, each in its own process")
    threads: typing.Optional[int] = option(
        None, "TensorFlow threads per process (None: TensorFlow's default with --jobs 1, else cores / jobs)")
    storage: typing.Optional[str] = option(
        None, "Optuna storage URL shared by every process, e.g. a database for several machines (None: the "
        "journal file <output>/study.journal)", metavar="URL")
    seed: typing.Optional[int] = option(None, "seed of the search; trial t trains with seed + t (None: drawn and "
                                        "recorded in search.json)")
    output: typing.Optional[str] = option(None, "search directory (None: runs/<name>)")
    name: typing.Optional[str] = option(None, "model name (None: <model>_<dataset>_tuned)")
    export_dir: typing.Optional[str] = option(None, "SavedModel base directory of the best model (None: "
                                              "saved_models/<name>)")
    export: bool = option(True, "export the best trial's model as a SavedModel")
    overwrite: bool = option(False, "delete a different search found in --output and start anew")


# tfgen train's settings that the search sets itself (the budget gives the epochs;
# trials back up at epoch ends, after their objective is recorded).
SET_BY_SEARCH = ("epochs", "seed", "output", "name", "export_dir", "export", "overwrite", "verbose", "backup_freq")
# Settings that describe the search: a different value in the same output is another search.
IDENTITY_KEYS = ("model", "fixed", "space", "objective", "objective_samples", "epochs", "pruner", "seed")


def training_flags_config():
    """The fields of ``TrainingConfig`` that ``tfgen tune`` passes on to every trial."""
    return tuple(name for name in defaults(train_lib.TrainingConfig) if name not in SET_BY_SEARCH)


def _import_optuna():
    try:
        import optuna
    except ImportError as error:
        raise ImportError('tfgen tune needs Optuna: pip install "tfgen[tune]" (or pip install optuna).') from error
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _field_choices(kind):
    """``{setting: registry of valid values}`` for the model's settings that are names."""
    choices = {}
    for config_class in train_lib.MODELS[kind]["configs"]:
        for field in dataclasses.fields(config_class):
            if field.metadata.get("choices") is not None:
                choices[field.name] = field.metadata["choices"]
    return choices


def load_space(space):
    """A search space from a dict, a JSON file path or JSON text; ``None`` stays ``None``."""
    if space is None or isinstance(space, dict):
        return space
    text = str(space)
    if not text.lstrip().startswith("{"):
        if not os.path.isfile(text):
            raise ValueError(f"Expected --space to be JSON text or a JSON file, got {text!r} (no such file).")
        with open(text) as handle:
            text = handle.read()
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"Expected the search space to be JSON, got {space!r}: {error}.") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"Expected the search space to be a JSON object {{setting: spec}}, got {loaded!r}.")
    return loaded


def check_space(kind, space):
    """``space`` with each spec checked against the model's settings; raises ``ValueError``."""
    tunable = set(train_lib.model_defaults(kind)) - set(SET_BY_SEARCH)
    registries = _field_choices(kind)
    if not space:
        raise ValueError(f"Expected a search space with at least one setting, got {space!r}.")
    checked = {}
    for name, spec in space.items():
        if name not in tunable:
            raise ValueError(f"Unknown setting {name!r} in the search space of a {kind}. Valid settings: "
                             f"{sorted(tunable)}")
        if not isinstance(spec, dict) or not (set(spec) == {"choices"} or set(spec) in ({"low", "high"},
                                                                                       {"low", "high", "log"})):
            raise ValueError(f"Expected the spec of {name!r} to be {{'low': a, 'high': b[, 'log': bool]}} or "
                             f"{{'choices': [...]}}, got {spec!r}.")
        if "choices" in spec:
            choices = spec["choices"]
            if not isinstance(choices, list) or not choices:
                raise ValueError(f"Expected the choices of {name!r} to be a non-empty list, got {choices!r}.")
            for value in choices:
                if value is not None and not isinstance(value, (bool, int, float, str)):
                    raise ValueError(f"Expected each choice of {name!r} to be a number, string, bool or null, "
                                     f"got {value!r}.")
                if name in registries:
                    validation.check_choice(name, value, registries[name])
            checked[name] = {"choices": list(choices)}
            continue
        low, high, log = spec["low"], spec["high"], spec.get("log", False)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
        if not numbers or not low < high or (log and low <= 0) or not isinstance(log, bool):
            raise ValueError(f"Expected the range of {name!r} to have numbers low < high (low > 0 with log), "
                             f"got {spec!r}.")
        checked[name] = {"low": low, "high": high, "log": log}
    return checked


def resolve_search(config):
    """Fills in every default of a search and validates it; returns a new JSON-ready dict.

    Keys: ``model``, the fields of :class:`TuneConfig` (resolved),
    ``trials`` and ``epochs`` (from ``budget``), ``space`` (checked) and
    ``fixed``: the ``tfgen train`` settings every trial shares.

    Raises:
        ValueError: unknown keys or names, bad values, or a space and objective
            that do not fit together.
    """
    config = dict(config)
    kind = config.pop("model", "gan")
    validation.check_choice("model", kind, train_lib.MODELS)
    search = {"model": kind, **defaults(TuneConfig)}
    search.update({key: config.pop(key) for key in list(config) if key in search and config[key] is not None})
    fixed = {key: value for key, value in config.items() if value is not None}
    set_here = sorted(set(fixed) & set(SET_BY_SEARCH))
    if set_here:
        raise ValueError(f"The search sets {set_here} itself (epochs come from --budget TRIALSxEPOCHS).")
    known = set(train_lib.model_defaults(kind))
    unknown = sorted(set(fixed) - known)
    if unknown:
        raise ValueError(f"Unknown settings {unknown} for model {kind!r}. Valid settings: "
                         f"{sorted(known - set(SET_BY_SEARCH))} and {sorted(defaults(TuneConfig))}")
    search["trials"], search["epochs"] = parse_budget(search["budget"])
    search["objective"] = search["objective"] or DEFAULT_OBJECTIVES[kind]
    validation.check_choice("objective", search["objective"], OBJECTIVES)
    objective = OBJECTIVES[search["objective"]]
    if kind not in objective.models:
        raise ValueError(f"Objective {search['objective']!r} does not apply to a {kind}. Valid objectives: "
                         f"{sorted(name for name, spec in OBJECTIVES.items() if kind in spec.models)}")
    dataset = fixed.get("dataset", train_lib.model_defaults(kind)["dataset"])
    if search["objective"] == "fashion_fd" and dataset != "fashion_mnist":
        raise ValueError(f"Objective 'fashion_fd' compares with Fashion-MNIST, but the dataset is {dataset!r}; "
                         "choose --objective fid.")
    space = load_space(search["space"])
    space = {k: v for k, v in (SPACES[kind] if space is None else space).items() if k not in fixed}
    search["space"] = check_space(kind, space)
    if search["objective"] == "val_elbo" and {"likelihood", "binarize", "conditional"} & set(search["space"]):
        raise ValueError("ELBOs of different likelihoods or data are not comparable: fix likelihood, binarize "
                         "and conditional when the objective is val_elbo.")
    for key in ("objective_samples", "jobs"):
        validation.check_positive_int(key, search[key])
    validation.check_positive_int("threads", search["threads"], allow_none=True)
    validation.check_choice("pruner", search["pruner"], PRUNERS)
    search["seed"] = tfgen_random.resolve_seed(search["seed"])
    train_lib.fill_paths(search, f"{kind}_{dataset}_tuned")
    # Like tfgen train, "auto" is resolved once and recorded: every trial computes alike.
    precision = tfgen_precision.precision_name(fixed.get("precision") or tfgen_precision.default_setting())
    search["fixed"] = {**fixed, "dataset": dataset, "precision": precision}
    # Every trial's settings must make a valid run: check the shared ones now.
    train_lib.resolve_config({"model": kind, **fixed, "seed": 0, "output": search["output"]})
    return json.loads(json.dumps(search))  # as search.json holds it (tuples become lists), to compare on a rerun


def _lock(search):
    """A lock over the search's bookkeeping, shared by every process on this machine."""

    @contextlib.contextmanager
    def locked():
        with open(os.path.join(search["output"], LOCK_FILENAME), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    return locked()


def _prepare_output(search, seed_given):
    """Creates or reopens the search directory; returns the search to run.

    A search already in ``output`` continues when it is the same search (its
    recorded seed is kept unless one was given; the budget may change);
    another one is refused unless ``overwrite``.
    """
    path = os.path.join(search["output"], SEARCH_FILENAME)
    if os.path.exists(path):
        with open(path) as handle:
            previous = json.load(handle)
        if not seed_given:
            search["seed"] = previous["seed"]
        differences = sorted(key for key in IDENTITY_KEYS if previous.get(key) != search[key])
        if differences and not search["overwrite"]:
            raise ValueError(
                f"{search['output']!r} holds another search (different {differences}); choose another --output, "
                "run the same search again to continue it, or pass --overwrite to delete it and start anew.")
        if differences:
            _delete_study(search)
            shutil.rmtree(search["output"])
    os.makedirs(search["output"], exist_ok=True)
    with _lock(search):
        with open(path + ".tmp", "w") as handle:
            json.dump(search, handle, indent=2, sort_keys=True)
        os.replace(path + ".tmp", path)
    return search


def _storage(search):
    optuna = _import_optuna()
    if search["storage"]:
        return search["storage"]
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(os.path.join(search["output"], JOURNAL_FILENAME)))


def _delete_study(search):
    optuna = _import_optuna()
    if search["storage"]:
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=search["name"], storage=search["storage"])


def _study(search, worker=0):
    """The search's Optuna study, created on first use; its sampler is seeded for this process."""
    optuna = _import_optuna()
    storage = _storage(search)
    direction = OBJECTIVES[search["objective"]].direction
    # Each process draws from its own seeded stream, which depends on the
    # worker and on how many trials the study held when the process started:
    # a resumed search does not repeat the draws of its first run.
    existing = len(optuna.create_study(storage=storage, study_name=search["name"], direction=direction,
                                       load_if_exists=True).trials)
    sampler = optuna.samplers.TPESampler(
        # A third of the budget (at least 2) drawn at random, then TPE.
        n_startup_trials=max(2, search["trials"] // 3),
        seed=(search["seed"] * 1_000_003 + 1009 * worker + existing) % 2**32,
        constant_liar=search["jobs"] > 1,
    )
    return optuna.load_study(storage=storage, study_name=search["name"], sampler=sampler,
                             pruner=_pruners(search["epochs"])[search["pruner"]]())


def _process_start(pid):
    """The start time of process ``pid`` (Linux ``/proc``), or ``None``."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _owner():
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "process_start": _process_start(pid)}


def _is_dead(trial, now):
    """Whether a RUNNING trial's process is gone (seen directly on this machine, else by its heartbeat)."""
    attrs = trial.user_attrs
    if attrs.get("host") == socket.gethostname() and "pid" in attrs:
        pid = attrs["pid"]
        if pid == os.getpid():  # a reused pid: this process runs no trial while it looks
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return attrs.get("process_start") is not None and _process_start(pid) != attrs["process_start"]
    last_seen = attrs.get("heartbeat", trial.datetime_start.timestamp() if trial.datetime_start else now)
    return now - last_seen > STALE_SECONDS


def _origin(trial):
    """The search's number of a trial: 0, 1, 2 ... in the order trials start; a rerun of an interrupted
    trial keeps its number (Optuna numbers every attempt)."""
    return trial.user_attrs.get("trial", trial.number)


def _retry_dead_trials(study):
    """Marks trials whose process died as failed (``interrupted``) and queues each again, same parameters."""
    from optuna.trial import TrialState

    now = time.time()
    for trial in study.get_trials(states=(TrialState.RUNNING,)):
        if not _is_dead(trial, now):
            continue
        study._storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"trial": _origin(trial), "previous_attempt": trial.number},
                            skip_if_exists=False)


def _trials_taken(study):
    """Trials that count against the budget: finished or running, not counting interrupted ones."""
    from optuna.trial import TrialState

    return sum(1 for trial in study.get_trials() if trial.state != TrialState.WAITING
               and not trial.user_attrs.get("interrupted"))


def _suggest(trial, space):
    params = {}
    for name, spec in space.items():
        if "choices" in spec:
            params[name] = trial.suggest_categorical(name, spec["choices"])
        elif all(isinstance(spec[key], int) for key in ("low", "high")):
            params[name] = trial.suggest_int(name, spec["low"], spec["high"], log=spec["log"])
        else:
            params[name] = trial.suggest_float(name, spec["low"], spec["high"], log=spec["log"])
    return params


def trial_config(search, origin, params):
    """The ``tfgen train`` config of trial ``origin`` with ``params``."""
    return {
        "model": search["model"], **search["fixed"], **params, "epochs": search["epochs"],
        "seed": search["seed"] + origin, "name": search["name"], "export": False, "verbose": 0, "backup_freq": "epoch",
        "output": os.path.join(search["output"], TRIALS_DIRNAME, f"{origin:04d}"),
    }


def _read_values(run_dir):
    """``{epoch: objective}`` recorded in a trial's run directory (over all its attempts)."""
    path = os.path.join(run_dir, OBJECTIVE_FILENAME)
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return {int(epoch): value for epoch, value in json.load(handle).items()}


class _TrialReporter(keras.callbacks.Callback):
    """Records and reports the objective after every epoch, and stops training when the trial is pruned.

    The values go to ``<run_dir>/objective.json`` (``{epoch: value}``), which
    outlives the process: a rerun of an interrupted trial, resuming from its
    backup, adds the epochs it trains to those of the earlier attempts.
    """

    def __init__(self, trial, objective_name, worker, epochs, run_dir):
        super().__init__()
        self.trial, self.objective_name, self.worker, self.epochs = trial, objective_name, worker, epochs
        self.run_dir = run_dir
        self.pruned, self.error = False, None
        self.reported = set()

    def report(self, value, step):
        """``trial.report`` once per step (the first value of a step is the one Optuna keeps)."""
        if step not in self.reported:
            self.trial.report(value, step)
            self.reported.add(step)

    def on_epoch_end(self, epoch, logs=None):
        objective = OBJECTIVES[self.objective_name]
        if objective.from_logs is not None:
            logs[self.objective_name] = float(objective.from_logs(logs))
        value = float(logs[self.objective_name])
        _say(self.worker, f"trial {_origin(self.trial)}, epoch {epoch + 1}/{self.epochs}: "
                          f"{self.objective_name} {value:.6g}")
        if not math.isfinite(value):
            self.error = f"{self.objective_name} was {value} after epoch {epoch + 1}"
            self.model.stop_training = True
            return
        values = {**_read_values(self.run_dir), epoch + 1: value}
        path = os.path.join(self.run_dir, OBJECTIVE_FILENAME)
        with open(path + ".tmp", "w") as handle:
            json.dump({str(k): v for k, v in sorted(values.items())}, handle)
        os.replace(path + ".tmp", path)
        self.report(value, epoch + 1)
        if epoch + 1 < self.epochs and self.trial.should_prune():  # after the last epoch, nothing is saved
            self.pruned = True
            self.model.stop_training = True


class _Heartbeat:
    """Records the time in the trial every ``HEARTBEAT_SECONDS`` while it runs (for other machines)."""

    def __init__(self, trial):
        self.trial, self.stop = trial, threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self):
        while not self.stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(Exception):  # a missed beat is harmless; the next one retries
                self.trial.set_user_attr("heartbeat", time.time())

    def __enter__(self):
        self.trial.set_user_attr("heartbeat", time.time())
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        self.thread.join()


def _say(worker, text):
    print(f"tfgen tune[{worker}]: {text}", flush=True)


def _metric_callbacks(search):
    from tfgen.metrics import MetricCallback

    metric = OBJECTIVES[search["objective"]].metric
    if metric is None:
        return []
    # Against training images: the test images stay out of the selection, for an unbiased final figure.
    return [MetricCallback([metric], dataset=search["fixed"]["dataset"], split="train",
                           num_samples=search["objective_samples"], seed=search["seed"])]


def _run_trial(study, trial, search, worker):
    """Trains one trial and tells the study how it ended; returns True unless it failed."""
    from optuna.trial import TrialState

    origin = _origin(trial)
    params = _suggest(trial, search["space"])
    config = trial_config(search, origin, params)
    trial.set_user_attr("config", config)
    objective_name = search["objective"]
    run_dir = config["output"]
    reporter = _TrialReporter(trial, objective_name, worker, search["epochs"], run_dir)
    for step, value in sorted(_read_values(run_dir).items()):  # an interrupted attempt's epochs, for the pruner
        reporter.report(value, step)
    previous = trial.user_attrs.get("previous_attempt")
    seconds = study.trials[previous].user_attrs.get("seconds", 0.0) if previous is not None else 0.0
    _say(worker, f"trial {origin} starts: {json.dumps(params)}")
    start = time.time()
    # A run that finished before its process died is not trained again.
    if not os.path.exists(os.path.join(run_dir, train_lib.MODEL_FILENAME)):
        try:
            with _Heartbeat(trial):
                train_lib.train(config, callbacks=[*_metric_callbacks(search), reporter])
        except Exception as error:  # noqa: BLE001  (recorded in the trial; the search goes on)
            reporter.error = f"{type(error).__name__}: {error}"
    values = _read_values(run_dir)
    epochs = max(values, default=0)
    trial.set_user_attr("seconds", seconds + time.time() - start)
    trial.set_user_attr("epochs_trained", epochs)
    if reporter.error is not None or not values:
        error = reporter.error or "no objective value was recorded"
        trial.set_user_attr("error", error)
        study.tell(trial, state=TrialState.FAIL)
        _say(worker, f"trial {origin} failed: {error}")
        return False
    # Every value in objective.json is reported already: read back above, or reported as it was written.
    if epochs < search["epochs"]:
        study.tell(trial, state=TrialState.PRUNED)
        _say(worker, f"trial {origin} pruned after {epochs} epochs: {objective_name} {values[epochs]:.6g}")
        return True
    study.tell(trial, values[epochs])
    _say(worker, f"trial {origin} done: {objective_name} {values[epochs]:.6g} in {time.time() - start:.0f} s")
    return True


def run_worker(search, worker=0):
    """Runs trials of ``search`` until its budget of trials is taken (one process's share of the search)."""
    from optuna.trial import TrialState

    study = _study(search, worker)
    failures = successes = 0
    while True:
        with _lock(search):
            _retry_dead_trials(study)
            waiting = study.get_trials(states=(TrialState.WAITING,))
            if not waiting and _trials_taken(study) >= search["trials"]:
                return
            trial = study.ask()
            if "trial" not in trial.user_attrs:  # a new trial, not a rerun: the next number
                numbers = {t.user_attrs["trial"] for t in study.get_trials() if "trial" in t.user_attrs}
                trial.set_user_attr("trial", len(numbers))
            for key, value in _owner().items():
                trial.set_user_attr(key, value)
        if _run_trial(study, trial, search, worker):
            successes += 1
        else:
            failures += 1
            if failures >= 3 and not successes:
                raise ValueError(f"The first {failures} trials of this search all failed; the last one with: "
                                 f"{study.trials[trial.number].user_attrs['error']}")


def _set_threads(threads):
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))


def _run_worker_processes(search):
    """Runs ``jobs`` worker processes (this module's ``__main__``) and waits for them."""
    threads = search["threads"] or max(1, (os.cpu_count() or 1) // search["jobs"])
    path = os.path.join(search["output"], SEARCH_FILENAME)
    processes = [
        subprocess.Popen([sys.executable, "-m", "tfgen.cli.tune_lib", path, str(worker), str(threads)])
        for worker in range(search["jobs"])
    ]
    try:
        codes = [process.wait() for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait()
    failed = [(worker, code) for worker, code in enumerate(codes) if code]
    if failed:
        raise RuntimeError(f"tfgen tune: worker processes exited with an error (worker, status): {failed}; "
                           "run the same command again to continue the search.")


def tune(config):
    """Runs (or continues) a search; returns a dict of what it wrote (see :func:`report`).

    Args:
        config: dict with ``model`` (``"gan"`` or ``"vae"``), any field of
            :class:`TuneConfig`, and any ``tfgen train`` setting of that model
            except those in :data:`SET_BY_SEARCH`: fixed for every trial (a
            setting of the space given here is taken out of the space).

    Raises:
        ValueError: bad settings, or another search in ``output``.
        ImportError: Optuna is not installed.
    """
    _import_optuna()
    seed_given = config.get("seed") is not None
    search = _prepare_output(resolve_search(config), seed_given)
    if search["jobs"] == 1:
        try:
            _set_threads(search["threads"])
        except RuntimeError:  # TensorFlow already runs in this process: its thread pools are made
            _say(0, f"note: TensorFlow already runs in this process, so --threads {search['threads']} does not "
                    "apply to it (it does to --jobs worker processes)")
        run_worker(search)
    else:
        _run_worker_processes(search)
    return report(search)


def _format(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return "none" if value is None else str(value) if value != "" else "''"


def _rows(study, search):
    """One row per trial (an interrupted trial appears once, as its rerun), best first."""
    from optuna.trial import TrialState

    direction = -1 if OBJECTIVES[search["objective"]].direction == "maximize" else 1
    order = {TrialState.COMPLETE: 0, TrialState.PRUNED: 1, TrialState.RUNNING: 2, TrialState.FAIL: 3}
    rows = []
    for trial in study.get_trials():
        if trial.state == TrialState.WAITING or trial.user_attrs.get("interrupted"):
            continue
        value = trial.value if trial.value is not None else (
            list(trial.intermediate_values.values())[-1] if trial.intermediate_values else None)
        rows.append({
            "trial": _origin(trial), "state": trial.state.name.lower(), "value": value,
            "epochs": trial.user_attrs.get("epochs_trained"), "minutes": trial.user_attrs.get("seconds", 0) / 60,
            "params": trial.params, "error": trial.user_attrs.get("error"), "_order": order[trial.state],
        })
    rows.sort(key=lambda row: (row["_order"], math.inf if row["value"] is None else direction * row["value"],
                               row["trial"]))
    return rows


def _command_line(search, config):
    """``tfgen train ...`` that repeats a trial's training."""
    shown = {**search["fixed"], **{k: config[k] for k in search["space"]}, "epochs": config["epochs"],
             "seed": config["seed"]}
    words = ["tfgen", "train", search["model"]]
    for key, value in shown.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + key.replace("_", "-"))
        elif value is not None and not isinstance(value, (list, tuple)):
            words += [flag, shlex.quote(str(value))]
    return " ".join(words)


def _write_table(rows, search, directory):
    names = list(search["space"])
    header = ["rank", "trial", "state", search["objective"], "epochs", "minutes", *names]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    with open(os.path.join(directory, "trials.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header + ["error"])
        for rank, row in enumerate(rows, start=1):
            cells = [rank, row["trial"], row["state"], row["value"], row["epochs"], round(row["minutes"], 2),
                     *[row["params"].get(name) for name in names]]
            writer.writerow(cells + [row["error"] or ""])
            lines.append("| " + " | ".join(_format(cell) for cell in cells) + " |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(directory, "trials.md"), "w") as handle:
        handle.write(table)
    return table


def report(search):
    """Writes the search's table, plot and best trial's outputs; exports the best model once.

    Returns:
        dict: ``table`` (``trials.md``), ``csv``, ``plot``, ``trials``
        (counts per state), ``best`` (``trial``, ``value``, ``params``,
        ``config``, ``command``; ``None`` while no trial has completed),
        ``best_samples``, ``best_config``, ``model`` and ``export`` (``None``
        when exporting is off or nothing completed), ``text`` (the table).
    """
    study = _study(search)
    output = search["output"]
    with _lock(search):
        rows = _rows(study, search)
        result = {"search": os.path.join(output, SEARCH_FILENAME), "text": _write_table(rows, search, output),
                  "table": os.path.join(output, "trials.md"), "csv": os.path.join(output, "trials.csv"),
                  "trials": {state: sum(row["state"] == state for row in rows)
                             for state in ("complete", "pruned", "fail", "running")},
                  "best": None, "best_samples": None, "best_config": None, "model": None, "export": None}
        points = [row for row in rows if row["value"] is not None and row["state"] in ("complete", "pruned")]
        result["plot"] = plotting.save_objective_plot(
            points, search["space"], search["objective"], os.path.join(output, "objective.png"),
            title=f"{search['name']}: {search['objective']} of {len(points)} trials "
                  f"({OBJECTIVES[search['objective']].direction}d)")
        complete = [row for row in rows if row["state"] == "complete"]
        if complete:
            result.update(_best(search, complete[0], study))
    return result


def _best(search, row, study):
    output = search["output"]
    config = trial_config(search, row["trial"], row["params"])
    best = {"trial": row["trial"], "value": row["value"], "params": row["params"],
            "command": _command_line(search, config)}
    best["config"] = config
    result = {"best": best}
    for name, target in ((train_lib.CONFIG_FILENAME, "best_config.json"), ("samples.png", "best_samples.png"),
                         (train_lib.MODEL_FILENAME, train_lib.MODEL_FILENAME)):
        shutil.copyfile(os.path.join(config["output"], name), os.path.join(output, target + ".tmp"))
        os.replace(os.path.join(output, target + ".tmp"), os.path.join(output, target))
    result["best_samples"] = os.path.join(output, "best_samples.png")
    result["best_config"] = os.path.join(output, "best_config.json")
    result["model"] = os.path.join(output, train_lib.MODEL_FILENAME)
    if not search["export"]:
        return result
    exported_path = os.path.join(output, EXPORTED_FILENAME)
    exported = {}
    if os.path.exists(exported_path):
        with open(exported_path) as handle:
            exported = json.load(handle)
    if exported.get("trial") == row["trial"] and os.path.isdir(exported.get("export", "")):
        result["export"] = exported["export"]  # this best model is exported already
        return result
    from tfgen.cli import model_io
    from tfgen.export import export_saved_model

    model = model_io.load_keras_model(result["model"])
    result["export"] = export_saved_model(model, search["export_dir"], metadata={
        "dataset": config["dataset"],
        "train_steps": int(model.step_counter.numpy()), "epochs": config["epochs"],
        "tuned": {"objective": search["objective"], "value": row["value"], "trial": row["trial"],
                  "search": os.path.abspath(output)},
    })
    with open(exported_path, "w") as handle:
        json.dump({"trial": row["trial"], "export": result["export"]}, handle, indent=2)
    return result


def _worker_main(argv):
    """``python -m tfgen.cli.tune_lib SEARCH_JSON WORKER THREADS``: one worker process of ``--jobs``."""
    path, worker, threads = argv[0], int(argv[1]), int(argv[2])
    _set_threads(threads)
    parent = os.getppid()

    def stop_when_orphaned():  # the parent was killed: stop too; the search resumes on the next run
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=stop_when_orphaned, daemon=True).start()
    with open(path) as handle:
        run_worker(json.load(handle), worker)


if __name__ == "__main__":
    _worker_main(sys.argv[1:])
