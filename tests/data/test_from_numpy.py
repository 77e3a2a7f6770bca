"""``from_numpy``: scaling rule by dtype and input validation."""

import numpy as np
import pytest

import tfgen.data


def first_batch(dataset):
    return next(iter(dataset))


def test_uint8_rank3_gets_channel_and_scaling():
    array = np.array([[[0, 255], [51, 128]]], np.uint8)  # [1, 2, 2]
    batch = first_batch(tfgen.data.from_numpy(array, shuffle=False))
    assert batch.shape == (1, 2, 2, 1) and batch.dtype.name == "float32"
    np.testing.assert_allclose(batch.numpy()[0, ..., 0], array[0] / 127.5 - 1.0, atol=1e-6)


def test_float_in_range_is_unchanged():
    array = np.random.default_rng(0).uniform(-1, 1, (10, 4, 4, 3))  # float64
    batches = list(tfgen.data.from_numpy(array, batch_size=4, shuffle=False))
    assert [batch.shape[0] for batch in batches] == [4, 4, 2]
    np.testing.assert_allclose(np.concatenate(batches), array.astype(np.float32))


def test_labels_follow_their_images_through_shuffling():
    array = np.arange(20, dtype=np.uint8).reshape(20, 1, 1) * 10
    labels = np.arange(20) % 7
    images, shuffled_labels = [], []
    for image_batch, label_batch in tfgen.data.from_numpy(array, labels, batch_size=8, seed=1):
        images.append(image_batch.numpy())
        shuffled_labels.append(label_batch.numpy())
    indices = np.rint((np.concatenate(images)[:, 0, 0, 0] + 1) * 127.5 / 10).astype(int)
    assert sorted(indices) == list(range(20)) and list(indices) != list(range(20))
    np.testing.assert_array_equal(np.concatenate(shuffled_labels), labels[indices])


def test_seed_reproducible_and_binarize():
    array = np.full((64, 3, 3), 128, np.uint8)
    make = lambda seed: tfgen.data.from_numpy(array, batch_size=64, seed=seed, binarize=True)  # noqa: E731
    dataset = make(4)
    epoch_1, epoch_2 = first_batch(dataset).numpy(), first_batch(dataset).numpy()
    assert set(np.unique(epoch_1)) == {-1.0, 1.0}
    assert not np.array_equal(epoch_1, epoch_2)
    np.testing.assert_array_equal(first_batch(make(4)).numpy(), epoch_1)


def test_image_size_resizes():
    array = np.zeros((3, 8, 8, 3), np.uint8)
    batch = first_batch(tfgen.data.from_numpy(array, image_size=4))
    assert batch.shape == (3, 4, 4, 3)


@pytest.mark.parametrize(
    "array, pattern",
    [
        (np.zeros((4, 4), np.uint8), r"shape \(4, 4\).*expected rank 3 \[N, H, W\] or rank 4"),
        (np.zeros((2, 4, 4, 1, 1), np.uint8), r"shape \(2, 4, 4, 1, 1\).*expected rank 3"),
        (np.zeros((0, 4, 4), np.uint8), r"empty array of shape \(0, 4, 4\)"),
        (np.array([[["a"]]]), r"dtype <U1.*expected dtype uint8"),
        (np.zeros((1, 2, 2), np.int64), r"dtype int64.*expected dtype uint8"),
        (np.full((1, 2, 2), 255.0), r"min 255.0 and max 255.0; expected values in \[-1, 1\]"),
        (np.array([[[0.0, 1.5]]]), r"min 0.0 and max 1.5"),
        (np.array([[[0.0, np.nan]]], np.float32), r"containing NaN"),
    ],
)
def test_invalid_arrays(array, pattern):
    with pytest.raises(ValueError, match=pattern):
        tfgen.data.from_numpy(array)


def test_label_mismatch():
    array = np.zeros((5, 2, 2), np.uint8)
    with pytest.raises(ValueError, match=r"expected shape \(5,\), received shape \(4,\)"):
        tfgen.data.from_numpy(array, labels=np.zeros(4, np.int64))
    with pytest.raises(ValueError, match=r"labels must be integers, received dtype float64"):
        tfgen.data.from_numpy(array, labels=np.zeros(5))
