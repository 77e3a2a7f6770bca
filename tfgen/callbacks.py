"""Training callbacks: pictures of samples, exact-resume backups, a time budget, and stopping on non-finite losses.

:class:`StopOnNonFiniteLoss` lives with the model base class
(``tfgen/models/base.py``), which adds it to every ``fit``; it is exported
here too.
"""

import json
import math
import os
import shutil
from time import perf_counter

import keras
import numpy as np

from tfgen import plotting
from tfgen.distribute import is_chief
from tfgen.validation import check_number, is_int
from tfgen.models.base import StopOnNonFiniteLoss

__all__ = ["SampleGrid", "TrainingBackup", "TimeBudget", "StopOnNonFiniteLoss"]


class TimeBudget(keras.callbacks.Callback):
    """Stops ``fit`` after the first batch that ends past ``minutes`` of training.

    For comparisons at equal wall time (two recipes given the same minutes)
    and for jobs that must end in time. The clock starts when ``fit`` starts
    (tracing included); the epoch in progress ends early and ``fit``
    returns normally, with its history. ``stopped_early`` tells whether the
    budget ended training, ``seconds_trained`` how long ``fit`` ran.

    Args:
        minutes: a number > 0, or ``None`` for no limit.

    Raises:
        ValueError: ``minutes`` is not a positive number or ``None``.

    Example:
    ```python
    budget = tfgen.callbacks.TimeBudget(minutes=5)
    gan.fit(data, epochs=1000, callbacks=[budget])   # ends after about 5 minutes
    ```
    """

    def __init__(self, minutes):
        super().__init__()
        minutes = check_number("minutes", minutes, minimum=0.0, exclusive_minimum=True, allow_none=True)
        self.seconds = None if minutes is None else 60.0 * minutes
        self.stopped_early = False
        self.seconds_trained = 0.0
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = perf_counter()
        self.stopped_early = False

    def on_train_batch_end(self, batch, logs=None):
        self.seconds_trained = perf_counter() - self._start
        if self.seconds is not None and self.seconds_trained > self.seconds:
            self.model.stop_training = True
            self.stopped_early = True


@keras.saving.register_keras_serializable(package="tfgen")
class SampleGrid(keras.callbacks.Callback):
    """Saves a picture of the model's samples every ``every_n_epochs`` epochs.

    At the end of epoch ``e`` (1-based, as Keras prints it) with
    ``e % every_n_epochs == 0`` it calls
    ``model.generate(num_samples, seed=seed)`` and writes
    ``output_dir / filename_pattern.format(epoch=e)``:

    * images ``[N, H, W, C]`` in ``[-1, 1]``: a grid via
      :func:`tfgen.plotting.save_image_grid`;
    * conditional models (``model.num_classes`` is an int): one grid row per
      class, ``ceil(num_samples / num_classes)`` samples each, generated with
      ``labels=[0, 0, ..., 1, 1, ..., num_classes - 1]``;
    * 2-D points ``[N, 2]``: a scatter via :func:`tfgen.plotting.save_points`.

    The seed is the same every epoch, so successive pictures show the same
    latent vectors as training progresses. Image grids are written pixel-exact
    (no title; the epoch is in the file name), scatters are titled
    ``epoch <e>``. In multi-worker training only the chief generates and
    writes (see :func:`tfgen.distribute.is_chief`).

    Args:
        output_dir: directory for the PNG files (created on first write).
        num_samples: int >= 1, samples per picture.
        seed: int, seed passed to ``model.generate``.
        every_n_epochs: int >= 1, write after every N-th epoch.
        filename_pattern: str formatted with ``epoch=`` (1-based int).

    Attributes:
        written_paths: list of str, every file written so far, in order.

    Raises:
        ValueError: for a non-positive ``num_samples`` / ``every_n_epochs`` or
            a ``filename_pattern`` that cannot be formatted with ``epoch``.

    Example:

    ```python
    callback = SampleGrid("runs/dcgan/samples", num_samples=64, every_n_epochs=5)
    gan.fit(dataset, epochs=50, callbacks=[callback])
    callback.written_paths[-1]  # 'runs/dcgan/samples/samples_epoch_0050.png'
    ```
    """

    def __init__(
        self,
        output_dir,
        num_samples=64,
        seed=0,
        every_n_epochs=1,
        filename_pattern="samples_epoch_{epoch:04d}.png",
    ):
        super().__init__()
        # === Validation ===
        if not isinstance(output_dir, (str, os.PathLike)) or not os.fspath(output_dir):
            raise ValueError(
                f"`output_dir` must be a non-empty path; received {output_dir!r}."
            )
        if not is_int(num_samples) or num_samples < 1:
            raise ValueError(f"`num_samples` must be an integer >= 1; received {num_samples!r}.")
        if not is_int(every_n_epochs) or every_n_epochs < 1:
            raise ValueError(
                f"`every_n_epochs` must be an integer >= 1; received {every_n_epochs!r}."
            )
        if not is_int(seed):
            raise ValueError(f"`seed` must be an integer; received {seed!r}.")
        try:
            filename_pattern.format(epoch=1)
        except (AttributeError, KeyError, IndexError, ValueError) as error:
            raise ValueError(
                "`filename_pattern` must be a str formatted with `epoch=<int>`, e.g. "
                f"'samples_epoch_{{epoch:04d}}.png'; received {filename_pattern!r} ({error})."
            ) from None

        # === Config ===
        self.output_dir = os.fspath(output_dir)
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.every_n_epochs = int(every_n_epochs)
        self.filename_pattern = filename_pattern

        # === State ===
        self.written_paths = []

    def on_epoch_end(self, epoch, logs=None):
        epoch_number = epoch + 1
        if epoch_number % self.every_n_epochs != 0:
            return
        strategy = getattr(self.model, "distribute_strategy", None)
        if not is_chief(strategy):
            return
        path = os.path.join(self.output_dir, self.filename_pattern.format(epoch=epoch_number))
        self.written_paths.append(self.save_samples(path, epoch=epoch_number))

    def save_samples(self, path, epoch=None):
        """Generates ``num_samples`` samples from ``self.model`` and saves them.

        Args:
            path: destination PNG file.
            epoch: optional 1-based epoch, used as the title of point scatters.

        Returns:
            ``path`` as a str.
        """
        model = self.model
        num_classes = getattr(model, "num_classes", None)
        num_rows = None
        if num_classes:
            per_class = math.ceil(self.num_samples / num_classes)
            labels = np.repeat(np.arange(num_classes, dtype=np.int32), per_class)
            samples = model.generate(len(labels), seed=self.seed, labels=labels)
            num_rows = num_classes
        else:
            samples = model.generate(self.num_samples, seed=self.seed)
        if hasattr(samples, "numpy"):
            samples = samples.numpy()
        samples = np.asarray(samples)

        if samples.ndim == 2 and samples.shape[1] == 2:
            title = None if epoch is None else f"epoch {epoch}"
            return plotting.save_points(samples, path, title=title)
        if samples.ndim == 4:
            return plotting.save_image_grid(samples, path, num_rows=num_rows)
        raise ValueError(
            "`model.generate` must return images [N, H, W, C] or 2-D points [N, 2]; "
            f"received shape {samples.shape}."
        )

    def get_config(self):
        return {
            "output_dir": self.output_dir,
            "num_samples": self.num_samples,
            "seed": self.seed,
            "every_n_epochs": self.every_n_epochs,
            "filename_pattern": self.filename_pattern,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfgen")
class TrainingBackup(keras.callbacks.Callback):
    """Backs up weights, optimizer state and progress so a killed run resumes exactly.

    Unlike ``keras.callbacks.BackupAndRestore`` (which restarts an
    interrupted epoch from its first batch), the backup holds the model's
    ``step_counter`` (train steps run, saved with the weights), so that
    together with a stream that can start at any step
    (``tfgen.data.load(..., repeat=True, start_step=n)``) a resumed run ends
    with the same weights as one that was never interrupted. ``tfgen train``
    uses it; :meth:`restore` is the other half.

    Files in ``backup_dir``: ``progress.json`` (``{"step": n, "weights": file}``)
    and the weights file it names, written before ``progress.json`` is
    atomically replaced, so a kill at any moment leaves a consistent backup.

    Args:
        backup_dir: directory of this run's backup (one per worker).
        save_freq: ``"epoch"`` or a number of batches between backups.
        delete_on_finish: remove the backup when training ends normally.

    Example:
    ```python
    step = TrainingBackup.restore(model, "runs/x/backup")
    data = tfgen.data.load("digits", batch_size=64, seed=0, repeat=True, start_step=step)
    model.fit(data, steps_per_epoch=20, epochs=5, initial_epoch=step // 20, ...)
    ```
    """

    PROGRESS_FILENAME = "progress.json"

    def __init__(self, backup_dir, save_freq="epoch", delete_on_finish=True):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"Expected backup_dir to be a non-empty path, got {backup_dir!r}.")
        if save_freq != "epoch" and (not is_int(save_freq) or save_freq < 1):
            raise ValueError(f"Expected save_freq to be 'epoch' or an int >= 1, got {save_freq!r}.")
        self.backup_dir = str(backup_dir)
        self.save_freq = save_freq
        self.delete_on_finish = delete_on_finish
        self._last_saved_step = None

    @staticmethod
    def _step_counter(model):
        counter = getattr(model, "step_counter", None)
        if counter is None:
            raise ValueError(
                f"TrainingBackup needs a tfgen model (with a step_counter), got a {type(model).__name__}."
            )
        return counter

    @classmethod
    def restore(cls, model, backup_dir):
        """Loads the backup in ``backup_dir`` into ``model``; returns the model's step counter afterwards.

        Without a backup the model is left as it is (its counter is 0 for a new model).
        """
        counter = cls._step_counter(model)
        progress_path = os.path.join(str(backup_dir), cls.PROGRESS_FILENAME)
        if not os.path.exists(progress_path):
            return int(counter.numpy())
        try:
            with open(progress_path) as handle:
                progress = json.load(handle)
            weights_path = os.path.join(str(backup_dir), progress["weights"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"The training backup {progress_path!r} is unreadable: {error}") from error
        model.load_weights(weights_path)
        return int(counter.numpy())

    @property
    def step(self):
        """Train steps the model has run (its ``step_counter``); needs ``set_model`` (``fit`` calls it)."""
        if self.model is None:
            raise ValueError("TrainingBackup.step needs a model: pass the callback to fit first.")
        return int(self._step_counter(self.model).numpy())

    def save(self):
        """Writes the current state; returns the path of the weights file."""
        step = self.step
        self._last_saved_step = step
        os.makedirs(self.backup_dir, exist_ok=True)
        weights_name = f"weights-{step:09d}.weights.h5"
        self.model.save_weights(os.path.join(self.backup_dir, weights_name), overwrite=True)
        progress_path = os.path.join(self.backup_dir, self.PROGRESS_FILENAME)
        staging = progress_path + ".tmp"
        with open(staging, "w") as handle:
            json.dump({"step": step, "weights": weights_name}, handle)
        os.replace(staging, progress_path)  # atomic: the backup switches in one step
        for entry in os.listdir(self.backup_dir):
            if entry.startswith("weights-") and entry != weights_name:
                os.remove(os.path.join(self.backup_dir, entry))
        return os.path.join(self.backup_dir, weights_name)

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        # Every save_freq steps, counted from the last backup (a batch end can
        # cover several steps with steps_per_execution > 1).
        step = self.step
        if self._last_saved_step is None:
            self._last_saved_step = step - step % self.save_freq
        if step - self._last_saved_step >= self.save_freq:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self.save()

    def finish(self):
        """Deletes the backup (call once the whole run has finished)."""
        if self.delete_on_finish and os.path.isdir(self.backup_dir):
            shutil.rmtree(self.backup_dir, ignore_errors=True)

    def get_config(self):
        return {
            "backup_dir": self.backup_dir,
            "save_freq": self.save_freq,
            "delete_on_finish": self.delete_on_finish,
        }
