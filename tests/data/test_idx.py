"""The strict IDX reader: round trips and every way a file can be broken."""

import gzip

import numpy as np
import pytest

from tfgen.data import idx, sources


@pytest.mark.parametrize("file_name", ["values-idx3-ubyte", "values-idx3-ubyte.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_round_trip(tmp_path, file_name, dtype):
    array = (np.arange(2 * 3 * 4) * 7 % 255).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / file_name
    idx.write_idx(path, array)
    loaded = idx.read_idx(path)
    assert loaded.dtype == dtype
    np.testing.assert_array_equal(loaded, array)


def test_reads_real_header_layout(tmp_path):
    # Hand-made bytes, independent of write_idx: magic 0x00000801, 3 labels.
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 5, 0, 9]))
    np.testing.assert_array_equal(idx.read_idx(path), [5, 0, 9])


def test_gzip_detected_from_content_not_name(tmp_path):
    path = tmp_path / "no-suffix"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 2, 1, 2])))
    np.testing.assert_array_equal(idx.read_idx(path), [1, 2])


@pytest.mark.parametrize("reader", [idx.read_idx, idx.read_idx_header], ids=["read_idx", "read_idx_header"])
def test_truncated_raw_file_names_file(tmp_path, reader):
    path = tmp_path / "train-images-idx3-ubyte"
    idx.write_idx(path, np.zeros((4, 5, 5), np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*truncated.*100.*90"):
        reader(path)


def test_truncated_header_names_file(tmp_path):
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(ValueError, match=r"short-idx3-ubyte.*truncated"):
        idx.read_idx(path)


def test_truncated_gzip_names_file(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    idx.write_idx(path, np.arange(1000, dtype=np.uint8) % 10)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz.*gzip"):
        idx.read_idx(path)


def test_wrong_magic_number_names_file(tmp_path):
    path = tmp_path / "bad-magic-idx1-ubyte"
    path.write_bytes(bytes([1, 2, 8, 1, 0, 0, 0, 1, 7]))
    with pytest.raises(ValueError, match=r"bad-magic-idx1-ubyte.*magic number 0x01020801"):
        idx.read_idx(path)


def test_unknown_dtype_code(tmp_path):
    path = tmp_path / "code-idx1-ubyte"
    path.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 7]))
    with pytest.raises(ValueError, match=r"code-idx1-ubyte.*dtype code 0x42"):
        idx.read_idx(path)


def test_trailing_bytes_are_an_error(tmp_path):
    path = tmp_path / "long-idx1-ubyte"
    path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 1, 7, 7, 7]))
    with pytest.raises(ValueError, match=r"long-idx1-ubyte.*2 trailing bytes"):
        idx.read_idx(path)


@pytest.mark.parametrize("reader", [idx.read_idx, idx.read_idx_header])
def test_missing_file_is_file_not_found_naming_path_and_how_to_get_data(tmp_path, reader):
    # A missing file is not a malformed one: FileNotFoundError (an OSError, not a ValueError).
    with pytest.raises(FileNotFoundError, match=r"nothing-here.*does not exist.*how_to_get"):
        reader(tmp_path / "nothing-here")


def test_directory_is_not_an_idx_file(tmp_path):
    with pytest.raises(ValueError, match=r"is not a regular file"):
        idx.read_idx(tmp_path)


@pytest.mark.parametrize("file_name", ["values-idx3-ubyte", "values-idx3-ubyte.gz"])
def test_header_gives_shape_and_dtype(tmp_path, file_name):
    path = tmp_path / file_name
    idx.write_idx(path, np.zeros((7, 3, 2), np.int16))
    assert idx.read_idx_header(path) == ((7, 3, 2), np.dtype(np.int16))


def test_header_reader_checks_magic_and_gzip(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(bytes([1, 2, 8, 1, 0, 0, 0, 1, 7]))
    with pytest.raises(ValueError, match=r"magic number 0x01020801"):
        idx.read_idx_header(path)
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3, 0, 0, 0, 9]))[:12])
    with pytest.raises(ValueError, match=r"corrupt or truncated gzip"):
        idx.read_idx_header(path)


def _write_split(directory, images, labels, split="train"):
    prefix = sources.IDX_PREFIXES[split]
    idx.write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
    idx.write_idx(directory / f"{prefix}-labels-idx1-ubyte", labels)


def test_split_reader_adds_channel_and_int64_labels(tmp_path):
    images = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4)
    _write_split(tmp_path, images, np.array([1, 2, 3], np.uint8))
    loaded_images, loaded_labels = sources.load_idx_split(str(tmp_path), "train")
    assert loaded_images.shape == (3, 4, 4, 1) and loaded_labels.dtype == np.int64
    np.testing.assert_array_equal(loaded_images[..., 0], images)


def test_split_reader_rejects_count_mismatch(tmp_path):
    _write_split(tmp_path, np.zeros((3, 4, 4), np.uint8), np.array([1, 2], np.uint8))
    with pytest.raises(ValueError, match=r"3 images but 2 labels"):
        sources.load_idx_split(str(tmp_path), "train")


def test_split_reader_rejects_out_of_range_labels(tmp_path):
    _write_split(tmp_path, np.zeros((2, 4, 4), np.uint8), np.array([1, 12], np.uint8))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.*label 12"):
        sources.load_idx_split(str(tmp_path), "train")


@pytest.mark.parametrize("reader", [sources.load_idx_split, sources.count_idx_split])
def test_split_reader_names_missing_file_and_how_to_get_it(tmp_path, reader):
    with pytest.raises(FileNotFoundError, match=r"No test images IDX file.*t10k-images-idx3-ubyte") as error:
        reader(str(tmp_path), "test", name="fashion_mnist")
    assert sources.how_to_get_tfds_style("fashion_mnist") in str(error.value)
    idx.write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(FileNotFoundError, match=r"No test labels IDX file.*t10k-labels-idx1-ubyte"):
        reader(str(tmp_path), "test")


def test_split_counter_reads_headers_and_checks_them(tmp_path):
    _write_split(tmp_path, np.zeros((3, 4, 4), np.uint8), np.array([1, 2, 3], np.uint8))
    assert sources.count_idx_split(str(tmp_path), "train") == 3
    _write_split(tmp_path, np.zeros((3, 4, 4), np.uint8), np.array([1, 2], np.uint8))
    with pytest.raises(ValueError, match=r"3 images but 2 labels"):
        sources.count_idx_split(str(tmp_path), "train")
    _write_split(tmp_path, np.zeros((3, 4, 4), np.int32), np.array([1, 2, 3], np.uint8))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz.*int32.*expected uint8 images"):
        sources.count_idx_split(str(tmp_path), "train")
