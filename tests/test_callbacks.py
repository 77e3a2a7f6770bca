import os
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import plotting
from tfgen import callbacks as callbacks_module
from tfgen.callbacks import SampleGrid, TimeBudget
from tfgen.distribute import is_chief

IMAGE_SIZE = 4
LATENT_DIM = 3


class FakeImageGenerator(keras.Model):
    """Dense generator whose samples depend on its (trained) weights and the seed."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(IMAGE_SIZE * IMAGE_SIZE)

    def call(self, z):
        return self.dense(z)

    def generate(self, num_samples, seed=None):
        z = tf.random.stateless_normal([num_samples, LATENT_DIM], seed=[seed or 0, 0])
        return tf.reshape(tf.tanh(self(z)), [num_samples, IMAGE_SIZE, IMAGE_SIZE, 1])


class FakeConditionalGenerator:
    """Stand-in whose every image is filled with a value encoding its label."""

    num_classes = 3

    def __init__(self):
        self.calls = []

    def generate(self, num_samples, seed=None, labels=None):
        self.calls.append((num_samples, seed, np.asarray(labels)))
        values = np.asarray(labels, "float32") / (self.num_classes - 1) * 2 - 1
        return np.tile(values[:, None, None, None], [1, 2, 2, 1])


class FakePointGenerator:
    num_classes = None

    def generate(self, num_samples, seed=None):
        return np.random.default_rng(seed).normal(size=(num_samples, 2))


def _fit(model, callbacks, epochs=2):
    model.compile(optimizer="sgd", loss="mse", jit_compile=False)
    x = np.random.default_rng(0).normal(size=(8, LATENT_DIM)).astype("float32")
    y = np.zeros((8, IMAGE_SIZE * IMAGE_SIZE), "float32")
    model.fit(x, y, batch_size=4, epochs=epochs, callbacks=callbacks, verbose=0)


def _decode_png(path):
    return tf.io.decode_png(tf.io.read_file(path)).numpy()


def test_writes_one_grid_per_epoch_during_fit(tmp_path):
    callback = SampleGrid(tmp_path / "samples", num_samples=6)
    _fit(FakeImageGenerator(), [callback])
    expected = [
        str(tmp_path / "samples" / "samples_epoch_0001.png"),
        str(tmp_path / "samples" / "samples_epoch_0002.png"),
    ]
    assert callback.written_paths == expected
    assert sorted(os.listdir(tmp_path / "samples")) == [os.path.basename(p) for p in expected]
    # 6 images -> 3 columns x 2 rows of 4x4 tiles with 1 px padding.
    assert _decode_png(expected[0]).shape == (2 * 5 + 1, 3 * 5 + 1, 1)


def test_every_n_epochs_skips_epochs(tmp_path):
    callback = SampleGrid(tmp_path, num_samples=4, every_n_epochs=2)
    _fit(FakeImageGenerator(), [callback])
    assert callback.written_paths == [str(tmp_path / "samples_epoch_0002.png")]
    assert os.listdir(tmp_path) == ["samples_epoch_0002.png"]


def test_fixed_seed_gives_identical_grids(tmp_path):
    same_a = SampleGrid(tmp_path / "a", num_samples=4, seed=7)
    same_b = SampleGrid(tmp_path / "b", num_samples=4, seed=7)
    other = SampleGrid(tmp_path / "c", num_samples=4, seed=8)
    _fit(FakeImageGenerator(), [same_a, same_b, other], epochs=1)
    grid_a = _decode_png(same_a.written_paths[0])
    np.testing.assert_array_equal(grid_a, _decode_png(same_b.written_paths[0]))
    assert not np.array_equal(grid_a, _decode_png(other.written_paths[0]))


def test_conditional_model_gets_one_row_per_class(tmp_path):
    model = FakeConditionalGenerator()
    callback = SampleGrid(tmp_path, num_samples=7, seed=3)
    callback.set_model(model)
    callback.on_epoch_end(0)
    (num_samples, seed, labels), = model.calls
    # ceil(7 / 3) = 3 samples per class, class-major order.
    assert num_samples == 9 and seed == 3
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    grid = _decode_png(callback.written_paths[0])
    assert grid.shape == (3 * 3 + 1, 3 * 3 + 1, 1)
    for row, expected_pixel in enumerate([0, 128, 255]):
        top = 1 + 3 * row
        for column in range(3):
            left = 1 + 3 * column
            np.testing.assert_array_equal(grid[top : top + 2, left : left + 2], expected_pixel)


def test_point_model_writes_scatter(tmp_path):
    callback = SampleGrid(tmp_path, num_samples=100, filename_pattern="points_{epoch}.png")
    callback.set_model(FakePointGenerator())
    callback.on_epoch_end(4)
    assert callback.written_paths == [str(tmp_path / "points_5.png")]
    picture = _decode_png(callback.written_paths[0])
    assert picture.shape[-1] in (3, 4) and picture.shape[0] > 100


def test_rejects_unplottable_samples(tmp_path):
    callback = SampleGrid(tmp_path, num_samples=2)
    callback.set_model(types.SimpleNamespace(generate=lambda n, seed=None: np.zeros((n, 3))))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        callback.on_epoch_end(0)


def _strategy_with_task(task_type, task_id, cluster):
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id
    )
    return types.SimpleNamespace(cluster_resolver=resolver)


WORKERS = {"worker": ["localhost:1", "localhost:2"]}
CHIEF_AND_WORKERS = {"chief": ["localhost:0"], **WORKERS}


@pytest.mark.parametrize(
    "task_type, task_id, cluster, expected",
    [
        ("worker", 0, WORKERS, True),
        ("worker", 1, WORKERS, False),
        ("chief", 0, CHIEF_AND_WORKERS, True),
        ("worker", 0, CHIEF_AND_WORKERS, False),
        ("evaluator", 0, {"evaluator": ["localhost:3"], **WORKERS}, False),
    ],
)
def test_is_chief(task_type, task_id, cluster, expected):
    assert is_chief(_strategy_with_task(task_type, task_id, cluster)) is expected


def test_is_chief_without_cluster():
    assert is_chief(None)
    assert is_chief(tf.distribute.get_strategy())


def test_non_chief_worker_writes_nothing(tmp_path):
    model = types.SimpleNamespace(
        generate=lambda n, seed=None: np.zeros((n, 2, 2, 1), "float32"),
        distribute_strategy=_strategy_with_task("worker", 1, WORKERS),
    )
    callback = SampleGrid(tmp_path / "samples", num_samples=2)
    callback.set_model(model)
    callback.on_epoch_end(0)
    assert callback.written_paths == []
    assert not (tmp_path / "samples").exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_samples": 0}, "num_samples"),
        ({"every_n_epochs": 0}, "every_n_epochs"),
        ({"every_n_epochs": 1.5}, "every_n_epochs"),
        ({"filename_pattern": "{step}.png"}, "filename_pattern"),
        ({"seed": None}, "seed"),
    ],
)
def test_validates_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SampleGrid(tmp_path, **kwargs)


def test_serialization_round_trip(tmp_path):
    callback = SampleGrid(str(tmp_path), num_samples=16, seed=3, every_n_epochs=5)
    serialized = keras.saving.serialize_keras_object(callback)
    assert serialized["registered_name"] == "tfgen>SampleGrid"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert isinstance(restored, SampleGrid)
    assert restored.get_config() == callback.get_config()


def test_grid_matches_plotting_image_grid(tmp_path):
    model = FakeImageGenerator()
    model(np.zeros((1, LATENT_DIM), "float32"))  # build
    callback = SampleGrid(tmp_path, num_samples=5, seed=2)
    callback.set_model(model)
    callback.on_epoch_end(0)
    expected = plotting.image_grid(model.generate(5, seed=2))
    np.testing.assert_array_equal(_decode_png(callback.written_paths[0]), expected)


def test_training_backup_saves_every_n_steps_also_with_steps_per_execution(tmp_path):
    import tfgen
    from tfgen.callbacks import TrainingBackup

    vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=2, architecture="mlp", hidden_units=8, seed=0)
    vae.compile(steps_per_execution=3)  # batch ends come every 3 steps: 3, 6, 9, 12
    saved = []
    backup = TrainingBackup(tmp_path / "backup", save_freq=4, delete_on_finish=False)
    original = backup.save
    backup.save = lambda: saved.append(backup.step) or original()
    images = np.zeros((12 * 4, 16, 16, 1), "float32")
    vae.fit(images, batch_size=4, epochs=1, verbose=0, shuffle=False, callbacks=[backup])
    assert saved == [6, 12]  # counted from the last backup: 3 - 0 < 4, 6 - 0 >= 4, 9 - 6 < 4, 12 - 6 >= 4
    assert TrainingBackup.restore(vae, tmp_path / "backup") == 12
    with pytest.raises(ValueError, match="needs a model"):
        TrainingBackup(tmp_path / "other").step


# ------------------------------------------------------------- TimeBudget
class _Clock:
    """A fake ``time.perf_counter``: every reading is one second after the last."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


def test_time_budget_ends_fit_after_the_batch_that_crosses_it(monkeypatch):
    monkeypatch.setattr(callbacks_module, "perf_counter", _Clock())
    budget = TimeBudget(minutes=5.5 / 60)  # 5.5 fake seconds: the fifth batch ends 6 s in
    model = FakeImageGenerator()
    model.compile(optimizer="sgd", loss="mse", jit_compile=False)
    x = np.zeros((8, LATENT_DIM), "float32")
    history = model.fit(x, np.zeros((8, IMAGE_SIZE * IMAGE_SIZE), "float32"), batch_size=4, epochs=50,
                        callbacks=[budget], verbose=0)
    assert budget.stopped_early
    assert len(history.history["loss"]) == 3  # 2 batches per epoch: epoch 3 ends early with its 5th batch
    assert budget.seconds_trained == 6.0


def test_time_budget_of_none_never_stops_and_bad_budgets_are_refused():
    budget = TimeBudget(None)
    _fit(FakeImageGenerator(), [budget], epochs=2)
    assert not budget.stopped_early and budget.seconds_trained > 0
    for minutes in (0, -1, "5"):
        with pytest.raises(ValueError, match=f"minutes.*got {minutes!r}"):
            TimeBudget(minutes)
