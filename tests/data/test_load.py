"""Registered data sets through ``load`` / ``load_arrays`` / ``list_datasets``.

fashion_mnist is read from the IDX files of Debian's dataset-fashion-mnist
package (or wherever the lookup finds them); mnist and cifar10 are tested
through tiny files made in ``tmp_path``.
"""

import os
import pickle
import sys

import numpy as np
import pytest

import tfgen.data
from tfgen.data import idx, sources

FASHION_AVAILABLE = tfgen.data.info("fashion_mnist")["available"]
needs_fashion = pytest.mark.skipif(
    not FASHION_AVAILABLE, reason="fashion_mnist files not found (apt-get install dataset-fashion-mnist)"
)


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """No TFGEN_DATA_DIR / download, and an empty tensorflow-datasets folder."""
    monkeypatch.delenv(sources.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(sources.DOWNLOAD_ENV, raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "empty_tfds"))
    return tmp_path


def write_tiny_idx(directory, num_train=12, num_test=5, size=6, seed=0):
    """Random MNIST-style IDX files; returns {split: (images [N,H,W], labels [N])}."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    written = {}
    for split, count in (("train", num_train), ("test", num_test)):
        images = rng.integers(0, 256, (count, size, size), dtype=np.uint8)
        labels = rng.integers(0, 10, count).astype(np.uint8)
        prefix = sources.IDX_PREFIXES[split]
        idx.write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"), images)
        idx.write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"), labels)
        written[split] = (images, labels)
    return written


def collect(dataset):
    """All batches of one pass, concatenated (NumPy)."""
    batches = list(dataset)
    if isinstance(batches[0], tuple):
        return tuple(np.concatenate([batch[i].numpy() for batch in batches]) for i in range(2))
    return np.concatenate([batch.numpy() for batch in batches])


# === fashion_mnist from IDX files ===


@needs_fashion
def test_fashion_arrays_counts_and_dtypes():
    train_images, train_labels = tfgen.data.load_arrays("fashion_mnist")
    test_images, test_labels = tfgen.data.load_arrays("fashion_mnist", split="test")
    assert train_images.shape == (60_000, 28, 28, 1) and train_images.dtype == np.uint8
    assert train_labels.shape == (60_000,) and train_labels.dtype == np.int64
    assert test_images.shape == (10_000, 28, 28, 1) and test_labels.shape == (10_000,)
    np.testing.assert_array_equal(np.bincount(test_labels), [1000] * 10)
    assert train_images.max() == 255 and train_images.min() == 0


@needs_fashion
def test_fashion_batches_shape_range_and_labels():
    dataset = tfgen.data.load("fashion_mnist", batch_size=32, with_labels=True, seed=0)
    images, labels = next(iter(dataset))
    assert images.shape == (32, 28, 28, 1) and images.dtype.name == "float32"
    assert labels.shape == (32,) and labels.dtype.name == "int32"
    values = images.numpy()
    assert values.min() >= -1.0 and values.max() <= 1.0
    assert values.min() == -1.0  # background pixels are 0 -> -1
    assert set(labels.numpy()) <= set(range(10))


@needs_fashion
def test_fashion_test_split_is_unshuffled_and_scaled():
    raw_images, _ = tfgen.data.load_arrays("fashion_mnist", split="test")
    first = next(iter(tfgen.data.load("fashion_mnist", split="test", batch_size=16)))
    np.testing.assert_allclose(first.numpy(), raw_images[:16] / 127.5 - 1.0, atol=1e-6)


@needs_fashion
def test_fashion_seeded_shuffle_is_reproducible():
    def first_batches(seed):
        dataset = tfgen.data.load("fashion_mnist", batch_size=64, seed=seed, num_examples=2000)
        iterator = iter(dataset)
        return next(iterator).numpy(), next(iterator).numpy()

    first, again, other = first_batches(1), first_batches(1), first_batches(2)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


@needs_fashion
def test_fashion_reshuffles_every_epoch_and_covers_all_examples():
    dataset = tfgen.data.load("fashion_mnist", batch_size=100, seed=3, num_examples=500)
    epoch_1, epoch_2 = collect(dataset), collect(dataset)
    assert epoch_1.shape == (500, 28, 28, 1)
    assert not np.array_equal(epoch_1, epoch_2)
    # Same multiset of images each epoch: sort rows by their bytes and compare.
    key_1 = sorted(row.tobytes() for row in epoch_1)
    key_2 = sorted(row.tobytes() for row in epoch_2)
    assert key_1 == key_2
    # A second dataset with the same seed gives the same two epochs.
    again = tfgen.data.load("fashion_mnist", batch_size=100, seed=3, num_examples=500)
    np.testing.assert_array_equal(collect(again), epoch_1)
    np.testing.assert_array_equal(collect(again), epoch_2)


@needs_fashion
def test_fashion_with_labels_keeps_image_label_pairs():
    raw_images, raw_labels = tfgen.data.load_arrays("fashion_mnist")
    raw_images, raw_labels = raw_images[:600], raw_labels[:600]
    labels_by_image = {}
    for image, label in zip(raw_images, raw_labels):
        labels_by_image.setdefault(image.tobytes(), set()).add(int(label))
    dataset = tfgen.data.load("fashion_mnist", batch_size=128, seed=5, num_examples=600, with_labels=True)
    images, labels = collect(dataset)
    assert len(images) == 600
    assert not np.array_equal(labels, raw_labels)  # really shuffled
    as_uint8 = np.rint((images + 1.0) * 127.5).astype(np.uint8)
    for image, label in zip(as_uint8, labels):
        assert int(label) in labels_by_image[image.tobytes()]


@needs_fashion
def test_fashion_resize_drop_remainder_and_repeat():
    dataset = tfgen.data.load(
        "fashion_mnist", batch_size=24, num_examples=50, image_size=(14, 20), drop_remainder=True, seed=0
    )
    assert dataset.element_spec.shape.as_list() == [24, 14, 20, 1]
    assert len(list(dataset)) == 2
    repeated = tfgen.data.load("fashion_mnist", batch_size=24, num_examples=50, repeat=True, seed=0)
    assert len(list(repeated.take(7))) == 7  # 168 > 50 images: it repeats


@needs_fashion
def test_binarize_values_epochs_and_seed():
    def make(seed):
        return tfgen.data.load(
            "fashion_mnist", split="test", batch_size=250, num_examples=500, binarize=True, seed=seed
        )

    dataset = make(seed=11)
    epoch_1, epoch_2 = collect(dataset), collect(dataset)
    assert set(np.unique(epoch_1)) == {-1.0, 1.0}
    assert not np.array_equal(epoch_1, epoch_2)  # resampled every pass
    again = make(seed=11)
    np.testing.assert_array_equal(collect(again), epoch_1)
    np.testing.assert_array_equal(collect(again), epoch_2)
    assert not np.array_equal(collect(make(seed=12)), epoch_1)
    # P(pixel = 1) = (x + 1) / 2, so the binarised mean matches the grey mean.
    raw_images, _ = tfgen.data.load_arrays("fashion_mnist", split="test")
    grey_mean = (raw_images[:500] / 127.5 - 1.0).mean()
    assert abs(epoch_1.mean() - grey_mean) < 0.01
    # Pure black pixels stay black (probability 0 of becoming 1).
    assert np.all(epoch_1[raw_images[:500] == 0] == -1.0)


# === Lookup of IDX files: TFGEN_DATA_DIR and data_dir ===


def test_tfgen_data_dir_overrides_fashion_mnist(monkeypatch, isolated_env):
    written = write_tiny_idx(isolated_env / "files" / "fashion_mnist")
    monkeypatch.setenv(sources.DATA_DIR_ENV, str(isolated_env / "files"))
    entry = tfgen.data.info("fashion_mnist")
    assert entry["available"] and "fashion_mnist" in entry["source"]
    images, labels = tfgen.data.load_arrays("fashion_mnist", split="test")
    np.testing.assert_array_equal(images[..., 0], written["test"][0])
    np.testing.assert_array_equal(labels, written["test"][1])
    batch = next(iter(tfgen.data.load("fashion_mnist", batch_size=100, seed=0)))
    assert batch.shape == (12, 6, 6, 1)


def test_tfgen_data_dir_root_also_works_for_fashion_mnist(monkeypatch, isolated_env):
    written = write_tiny_idx(isolated_env / "root", num_train=3)
    monkeypatch.setenv(sources.DATA_DIR_ENV, str(isolated_env / "root"))
    images, _ = tfgen.data.load_arrays("fashion_mnist")
    np.testing.assert_array_equal(images[..., 0], written["train"][0])


def test_mnist_from_tfgen_data_dir(monkeypatch, isolated_env):
    written = write_tiny_idx(isolated_env / "files" / "mnist", seed=4)
    monkeypatch.setenv(sources.DATA_DIR_ENV, str(isolated_env / "files"))
    assert tfgen.data.info("mnist")["available"]
    images, labels = collect(tfgen.data.load("mnist", batch_size=5, with_labels=True, shuffle=False))
    np.testing.assert_allclose(images[..., 0], written["train"][0] / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(labels, written["train"][1])


def test_data_dir_argument(isolated_env):
    written = write_tiny_idx(isolated_env / "mine", num_test=7)
    images, _ = tfgen.data.load_arrays("mnist", split="test", data_dir=isolated_env / "mine")
    np.testing.assert_array_equal(images[..., 0], written["test"][0])
    with pytest.raises(ValueError, match=r"not available in data_dir"):
        tfgen.data.load_arrays("mnist", data_dir=isolated_env / "elsewhere")


def test_corrupt_idx_file_is_named(monkeypatch, isolated_env):
    directory = isolated_env / "files" / "mnist"
    write_tiny_idx(directory)
    target = directory / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:30])
    monkeypatch.setenv(sources.DATA_DIR_ENV, str(isolated_env / "files"))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz"):
        tfgen.data.load("mnist")


def test_cifar10_python_batches(isolated_env):
    rng = np.random.default_rng(0)
    directory = isolated_env / "cifar10" / "cifar-10-batches-py"
    directory.mkdir(parents=True)
    for file_name in [f"data_batch_{index}" for index in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [3, 7]}
        with open(directory / file_name, "wb") as handle:
            pickle.dump(batch, handle)
    images, labels = tfgen.data.load_arrays("cifar10", data_dir=isolated_env)
    assert images.shape == (10, 32, 32, 3) and images.dtype == np.uint8
    assert tfgen.data.num_examples("cifar10", data_dir=isolated_env) == 10
    assert tfgen.data.num_examples("cifar10", split="test", data_dir=isolated_env) == 2
    np.testing.assert_array_equal(labels[:2], [3, 7])
    with open(directory / "data_batch_1", "rb") as handle:
        first = pickle.load(handle)[b"data"][0]
    # Row layout: 1024 red, then green, then blue values -> channels last.
    np.testing.assert_array_equal(images[0, :, :, 1].ravel(), first[1024:2048])


def _prepare_fake_tfds_mnist(data_dir, monkeypatch):
    """Writes a tiny prepared tensorflow-datasets "mnist" (9 random images) to data_dir."""
    import importlib.util

    import tensorflow as tf
    import tensorflow_datasets as tfds

    if importlib.util.find_spec("importlib_resources") is None:
        # tensorflow-datasets' writer needs importlib_resources (an optional
        # dependency of etils) only for `abc.Traversable`, which the standard
        # library provides under the same name.
        import importlib.resources
        import importlib.resources.abc  # noqa: F401

        monkeypatch.setitem(sys.modules, "importlib_resources", importlib.resources)
    rng = np.random.default_rng(0)
    splits = {
        split: {
            "image": rng.integers(0, 256, (count, 28, 28, 1), dtype=np.uint8),
            "label": rng.integers(0, 10, count),
        }
        for split, count in (("train", 6), ("test", 3))
    }
    builder = tfds.dataset_builders.TfDataBuilder(
        name="mnist",
        version="3.0.1",
        split_datasets={
            split: tf.data.Dataset.from_tensor_slices(arrays) for split, arrays in splits.items()
        },
        features=tfds.features.FeaturesDict(
            {
                "image": tfds.features.Image(shape=(28, 28, 1)),
                "label": tfds.features.ClassLabel(num_classes=10),
            }
        ),
        data_dir=str(data_dir),
        file_format="tfrecord",
    )
    builder.download_and_prepare()
    return splits


def test_prepared_tensorflow_datasets_are_used(monkeypatch, isolated_env):
    tfds_dir = isolated_env / "empty_tfds"
    try:
        splits = _prepare_fake_tfds_mnist(tfds_dir, monkeypatch)
    except Exception as error:  # the writer is tfds' business, the reader is ours
        pytest.skip(f"cannot write a tensorflow-datasets fixture here: {error!r}")
    entry = tfgen.data.info("mnist")
    assert entry["available"] and entry["source"] == f"tensorflow-datasets (prepared in {tfds_dir})"
    images, labels = tfgen.data.load_arrays("mnist", split="test")
    assert images.dtype == np.uint8 and labels.dtype == np.int64
    # tensorflow-datasets stores examples in its own order: compare the pairs.
    expected = zip(splits["test"]["image"], splits["test"]["label"])
    assert sorted((image.tobytes(), label) for image, label in zip(images, labels)) == sorted(
        (image.tobytes(), label) for image, label in expected
    )
    batch = next(iter(tfgen.data.load("mnist", batch_size=4, seed=0)))
    assert batch.shape == (4, 28, 28, 1)
    assert tfgen.data.num_examples("mnist") == 6 and tfgen.data.num_examples("mnist", split="test") == 3


# === Counting without decoding ===


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("name", sorted(tfgen.data.DATASETS))
def test_num_examples_equals_the_loaded_count(name, split):
    if not tfgen.data.info(name)["available"]:
        pytest.skip(f"{name} is not available offline")
    assert tfgen.data.num_examples(name, split) == len(tfgen.data.load_arrays(name, split)[0])


def test_num_examples_of_idx_files_reads_only_their_headers(monkeypatch, isolated_env):
    write_tiny_idx(isolated_env / "mine", num_train=12, num_test=7)

    def no_decoding(path):
        raise AssertionError(f"num_examples decoded {path}")

    monkeypatch.setattr(idx, "read_idx", no_decoding)
    assert tfgen.data.num_examples("mnist", data_dir=isolated_env / "mine") == 12
    assert tfgen.data.num_examples("mnist", split="test", data_dir=isolated_env / "mine") == 7
    with pytest.raises(ValueError, match=r"not available in data_dir"):
        tfgen.data.num_examples("mnist", data_dir=isolated_env / "elsewhere")


def test_num_examples_with_a_limit_counts_what_load_yields():
    def loaded(name, limit):
        return sum(len(batch) for batch in tfgen.data.load(name, batch_size=1000, num_examples=limit))

    for name, limit in (("digits", 100), ("digits", 1437), ("ring8", 250_000)):
        assert tfgen.data.num_examples(name, limit=limit) == loaded(name, limit) == limit
    with pytest.raises(ValueError, match=r"num_examples=5000 exceeds the 1437"):
        tfgen.data.num_examples("digits", limit=5000)
    with pytest.raises(ValueError, match=r"Expected limit to be None or a positive int, got 0"):
        tfgen.data.num_examples("digits", limit=0)
    with pytest.raises(ValueError, match=r"Unknown split 'validation'"):
        tfgen.data.num_examples("ring8", split="validation")


# === Not available offline ===


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_offline_without_files_explains_how_to_provide_them(name, isolated_env):
    if any(os.path.isdir(directory) for directory in sources.SYSTEM_DIRS[name]):
        pytest.skip(f"{name} is installed system-wide")
    entry = tfgen.data.info(name)
    assert not entry["available"]
    with pytest.raises(ValueError) as error:
        tfgen.data.load(name)
    message = str(error.value)
    assert f"tfds build {name}" in message
    assert f"$TFGEN_DATA_DIR/{name}" in message and "data_dir=" in message
    assert entry["how_to_get"] in message


# === digits ===


def test_digits_default_shape_padding_and_splits():
    train_images, train_labels = tfgen.data.load_arrays("digits")
    test_images, _ = tfgen.data.load_arrays("digits", split="test")
    assert train_images.shape == (1437, 16, 16, 1) and test_images.shape == (360, 16, 16, 1)
    assert train_images.dtype == np.uint8 and train_images.max() == 255
    border = np.ones((16, 16), bool)
    border[4:12, 4:12] = False
    assert np.all(train_images[:, border] == 0)  # centred padding with background
    assert set(train_labels) == set(range(10))
    # The splits partition the 1797 images.
    all_images = {image.tobytes() for image in np.concatenate([train_images, test_images])}
    assert len(all_images) > 1700
    batch = next(iter(tfgen.data.load("digits", batch_size=8, seed=0)))
    assert batch.shape == (8, 16, 16, 1)


def test_digits_resize_to_larger_size():
    batch = next(iter(tfgen.data.load("digits", batch_size=4, image_size=32, shuffle=False)))
    assert batch.shape == (4, 32, 32, 1)
    values = batch.numpy()
    assert values.min() >= -1.0 and values.max() <= 1.0
    np.testing.assert_allclose(values[:, :6], -1.0)  # the padding scaled up stays background
    with pytest.raises(ValueError, match=r"at least 16, received \(8, 8\)"):
        tfgen.data.load("digits", image_size=8)


# === Registry and argument checks ===


def test_unknown_dataset_lists_valid_names():
    expected = f"Unknown dataset 'imagenet'. Valid datasets: {sorted(tfgen.data.DATASETS)}"
    for call in (tfgen.data.load, tfgen.data.load_arrays, tfgen.data.info, tfgen.data.num_examples):
        with pytest.raises(ValueError) as error:
            call("imagenet")
        assert str(error.value) == expected


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match=r"Unknown split 'validation'.*\['test', 'train'\]"):
        tfgen.data.load("digits", split="validation")
    with pytest.raises(ValueError, match=r"Expected batch_size to be a positive int, got 0"):
        tfgen.data.load("digits", batch_size=0)
    with pytest.raises(ValueError, match=r"image_size.*\(0, 3\)"):
        tfgen.data.load("digits", image_size=(0, 3))
    with pytest.raises(ValueError, match=r"Expected seed to be None or a non-negative int, got -1"):
        tfgen.data.load("digits", seed=-1)
    with pytest.raises(ValueError, match=r"num_examples=5000 exceeds the 1437"):
        tfgen.data.load("digits", num_examples=5000)


def test_list_datasets_fields():
    entries = tfgen.data.list_datasets()
    assert [entry["name"] for entry in entries] == sorted(tfgen.data.DATASETS)
    required = {"name", "shape", "num_classes", "splits", "available", "source", "how_to_get"}
    for entry in entries:
        assert required <= set(entry)
        assert isinstance(entry["available"], bool)
        assert isinstance(entry["source"], str) and entry["source"]
        assert isinstance(entry["how_to_get"], str) and entry["how_to_get"]
        assert set(entry["splits"]) == {"train", "test"}
    by_name = {entry["name"]: entry for entry in entries}
    assert by_name["fashion_mnist"]["shape"] == (28, 28, 1)
    assert by_name["fashion_mnist"]["splits"] == {"train": 60_000, "test": 10_000}
    assert by_name["cifar10"]["shape"] == (32, 32, 3)
    assert by_name["digits"] == tfgen.data.info("digits")
    assert by_name["digits"]["available"] and by_name["digits"]["source"] == "scikit-learn (bundled)"
    assert by_name["ring8"]["num_classes"] == 8 and by_name["grid25"]["num_classes"] == 25
    assert by_name["ring8"]["source"] == "generated"


@needs_fashion
def test_fashion_info_names_its_source():
    entry = tfgen.data.info("fashion_mnist")
    assert entry["available"]
    assert entry["source"].startswith(("IDX files in", "tensorflow-datasets"))


@pytest.mark.parametrize(
    "name, options",
    [
        pytest.param("fashion_mnist", {}, marks=needs_fashion),
        pytest.param("fashion_mnist", {"repeat": True, "drop_remainder": True}, marks=needs_fashion),
        pytest.param("fashion_mnist", {"binarize": True}, marks=needs_fashion),
        pytest.param("fashion_mnist", {"binarize": True, "repeat": True}, marks=needs_fashion),
        ("digits", {}),
        ("ring8", {"repeat": True}),
    ],
)
def test_pipelines_turn_off_tf_data_autotuning(name, options):
    # With model-based autotuning on, destroying an iterator (which fit does
    # at the end of every epoch) can wait seconds for tf.data's optimisation
    # thread; tfgen's in-memory pipelines do not need it.
    dataset = tfgen.data.load(name, batch_size=8, seed=0, **options)
    assert dataset.options().autotune.enabled is False
    element = next(iter(dataset))
    first = element[0] if isinstance(element, tuple) else element
    assert first.shape[0] == 8
