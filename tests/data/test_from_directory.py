"""``from_directory``: PNG/JPEG folders, classes, sizes and bad files."""

import numpy as np
import pytest
import tensorflow as tf

import tfgen.data


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(np.asarray(array, np.uint8)).numpy())


def constant_image(value, size=(6, 5), channels=1):
    return np.full((*size, channels), value, np.uint8)


def collect(dataset):
    batches = list(dataset)
    return tuple(np.concatenate([batch[i].numpy() for batch in batches]) for i in range(2))


def test_reads_recursively_in_sorted_order(tmp_path):
    write_png(tmp_path / "b.png", constant_image(255))
    write_png(tmp_path / "a.png", constant_image(0))
    write_png(tmp_path / "nested" / "c.PNG", constant_image(51))
    (tmp_path / "notes.txt").write_text("not an image")
    batch = next(iter(tfgen.data.from_directory(tmp_path, shuffle=False)))
    assert batch.shape == (3, 6, 5, 1) and batch.dtype.name == "float32"
    np.testing.assert_allclose(batch.numpy()[:, 0, 0, 0], [-1.0, 1.0, 51 / 127.5 - 1.0], atol=1e-6)


def test_sub_folders_are_sorted_classes(tmp_path):
    for class_name, value in (("zebra", 200), ("ant", 10), ("cat", 100)):
        for index in range(2):
            write_png(tmp_path / class_name / f"{index}.png", constant_image(value))
    dataset = tfgen.data.from_directory(tmp_path, with_labels=True, batch_size=4, seed=0)
    assert dataset.class_names == ["ant", "cat", "zebra"]
    images, labels = collect(dataset)
    value_of_class = {0: 10, 1: 100, 2: 200}
    expected = np.array([value_of_class[label] for label in labels]) / 127.5 - 1.0
    np.testing.assert_allclose(images[:, 0, 0, 0], expected, atol=1e-6)
    assert sorted(labels) == [0, 0, 1, 1, 2, 2]


def test_with_labels_rejects_loose_images(tmp_path):
    write_png(tmp_path / "cat" / "0.png", constant_image(1))
    write_png(tmp_path / "loose.png", constant_image(1))
    with pytest.raises(ValueError, match=r"loose\.png.*lies directly in it"):
        tfgen.data.from_directory(tmp_path, with_labels=True)


def test_image_size_and_channels_convert(tmp_path):
    write_png(tmp_path / "grey.png", constant_image(128, size=(10, 10)))
    write_png(tmp_path / "rgb.png", constant_image(128, size=(20, 8), channels=3))
    jpeg = tf.io.encode_jpeg(constant_image(128, size=(7, 7), channels=3)).numpy()
    (tmp_path / "photo.jpg").write_bytes(jpeg)
    batch = next(iter(tfgen.data.from_directory(tmp_path, image_size=(8, 9), channels=3)))
    assert batch.shape == (3, 8, 9, 3)
    np.testing.assert_allclose(batch.numpy(), 128 / 127.5 - 1.0, atol=0.02)


def test_mismatched_sizes_without_image_size(tmp_path):
    write_png(tmp_path / "a.png", constant_image(0, size=(6, 6)))
    write_png(tmp_path / "b.png", constant_image(0, size=(6, 7)))
    with pytest.raises(ValueError, match=r"b\.png.*size \(6, 7\).*a\.png.*size \(6, 6\).*image_size"):
        tfgen.data.from_directory(tmp_path)


def test_corrupt_file_is_named(tmp_path):
    write_png(tmp_path / "good.png", constant_image(0))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG this is not really a png")
    with pytest.raises(ValueError, match=r"broken\.png"):
        tfgen.data.from_directory(tmp_path)


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(ValueError, match=r"missing.*not an existing folder"):
        tfgen.data.from_directory(tmp_path / "missing")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.md").write_text("no images here")
    with pytest.raises(ValueError, match=r"empty.*contains no image files"):
        tfgen.data.from_directory(tmp_path / "empty")


def test_bad_channels(tmp_path):
    write_png(tmp_path / "a.png", constant_image(0))
    with pytest.raises(ValueError, match=r"channels must be None, 1, 3 or 4, received 2"):
        tfgen.data.from_directory(tmp_path, channels=2)
