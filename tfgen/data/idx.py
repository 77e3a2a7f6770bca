"""A strict reader (and a small writer) for IDX files, the format of MNIST.

An IDX file is a 4-byte magic number ``00 00 <dtype code> <ndim>``, then
``ndim`` big-endian uint32 dimension sizes, then the values in row-major
order, big-endian. The files are often gzipped (``*.gz``); the reader detects
gzip from the content, not the file name.

The reader refuses anything that does not match the header exactly (wrong
magic bytes, unknown dtype code, truncated data, trailing bytes, broken gzip)
with a ``ValueError`` that names the file and what was wrong, because a
silently truncated training set is much harder to notice later. A file that
does not exist raises ``FileNotFoundError``. :func:`read_idx_header` reads
only the header (shape and dtype), e.g. to count examples cheaply.

Example:

```python
from tfgen.data import idx

images = idx.read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
images.shape, images.dtype  # ((10000, 28, 28), dtype('uint8'))
```
"""

import gzip
import os
import zlib

import numpy as np

# IDX dtype code -> big-endian NumPy dtype.
DTYPE_CODES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
# 4 magic bytes and at most 255 big-endian uint32 dimension sizes.
_MAX_HEADER_SIZE = 4 + 4 * 255


def _check_exists(path):
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"IDX file {path!r} does not exist. Expected an IDX file such as "
            "train-images-idx3-ubyte[.gz]; for a registered data set, "
            "tfgen.data.info(name)['how_to_get'] says how to get its files."
        )
    if not os.path.isfile(path):
        raise ValueError(f"IDX file {path!r} is not a regular file; expected an IDX file, found a directory or device.")


def _read_bytes(path):
    """Returns the (decompressed) content of ``path``."""
    _check_exists(path)
    with open(path, "rb") as handle:
        content = handle.read()
    if content[:2] != _GZIP_MAGIC:
        return content
    try:
        return gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as error:
        raise _corrupt_gzip(path, error) from error


def _corrupt_gzip(path, error):
    return ValueError(
        f"IDX file {path!r} is a corrupt or truncated gzip file ({error}). "
        "Expected a complete gzip stream; download or copy the file again."
    )


def _parse_header(path, content):
    """``(shape, dtype, header_size)`` from the first bytes of an IDX file.

    ``content`` holds the file's (decompressed) bytes, or at least its first
    ``_MAX_HEADER_SIZE`` bytes.
    """
    if len(content) < 4:
        raise ValueError(
            f"IDX file {path!r} is truncated: it has {len(content)} bytes, "
            "expected at least the 4-byte magic number."
        )
    if content[0] != 0 or content[1] != 0:
        raise ValueError(
            f"IDX file {path!r} has a wrong magic number 0x{content[:4].hex()}: "
            "expected 0x0000 followed by a dtype code and the number of dimensions "
            "(e.g. 0x00000803 for uint8 images). Is this really an IDX file?"
        )
    dtype_code, num_dims = content[2], content[3]
    if dtype_code not in DTYPE_CODES:
        raise ValueError(
            f"IDX file {path!r} has an unknown dtype code 0x{dtype_code:02x}. "
            f"Expected one of {[f'0x{code:02x}' for code in sorted(DTYPE_CODES)]}."
        )
    if num_dims == 0:
        raise ValueError(f"IDX file {path!r} declares 0 dimensions; expected at least 1.")
    header_size = 4 + 4 * num_dims
    if len(content) < header_size:
        raise ValueError(
            f"IDX file {path!r} is truncated: its header declares {num_dims} dimensions "
            f"({header_size} header bytes) but the file has only {len(content)} bytes."
        )
    shape = tuple(int(size) for size in np.frombuffer(content, ">u4", num_dims, offset=4))
    return shape, DTYPE_CODES[dtype_code], header_size


def read_idx_header(path):
    """The shape and dtype an IDX file declares, without reading its data.

    Reads only the first bytes (decompressing only those of a gzipped file),
    so it is cheap even for a 47 MB training set. The data itself is checked
    against the header by :func:`read_idx`; here only a raw (not gzipped)
    file's size is, since it costs nothing.

    Args:
        path: path of an IDX file (raw or gzipped).

    Returns:
        ``(shape, dtype)``: tuple of ints and the native-endian NumPy dtype.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not a regular file, a broken gzip stream, wrong magic number, unknown dtype
            code, truncated header, or (raw files) a size that differs from
            the header's. The message names the file.
    """
    path = os.fspath(path)
    _check_exists(path)
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == _GZIP_MAGIC
    if gzipped:
        try:
            with gzip.open(path, "rb") as handle:
                content = handle.read(_MAX_HEADER_SIZE)
        except (OSError, EOFError, zlib.error) as error:
            raise _corrupt_gzip(path, error) from error
    else:
        with open(path, "rb") as handle:
            content = handle.read(_MAX_HEADER_SIZE)
    shape, dtype, header_size = _parse_header(path, content)
    if not gzipped:
        _check_data_size(path, shape, dtype, os.path.getsize(path) - header_size)
    return shape, dtype.newbyteorder("=")


def _check_data_size(path, shape, dtype, found_bytes):
    expected_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if found_bytes < expected_bytes:
        raise ValueError(
            f"IDX file {path!r} is truncated: shape {shape} of {dtype.name} needs "
            f"{expected_bytes} data bytes but only {found_bytes} are present."
        )
    if found_bytes > expected_bytes:
        raise ValueError(
            f"IDX file {path!r} is corrupt: shape {shape} of {dtype.name} needs "
            f"{expected_bytes} data bytes but {found_bytes} are present "
            f"({found_bytes - expected_bytes} trailing bytes)."
        )


def read_idx(path):
    """Reads one IDX file (raw or gzipped) into a NumPy array.

    Args:
        path: path of an IDX file, e.g. ``train-images-idx3-ubyte`` or
            ``train-images-idx3-ubyte.gz``.

    Returns:
        NumPy array with the shape stored in the header and the native-endian
        version of the stored dtype (``uint8`` for MNIST images and labels).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a regular file or not valid gzip, has a
            wrong magic number or unknown dtype code, or its data is shorter
            or longer than the header's dimensions imply. The message names
            the file.
    """
    path = os.fspath(path)
    content = _read_bytes(path)
    shape, dtype, header_size = _parse_header(path, content)
    _check_data_size(path, shape, dtype, len(content) - header_size)
    values = np.frombuffer(content, dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Writes ``array`` as an IDX file; gzipped if ``path`` ends in ``.gz``.

    Handy to convert data for :func:`tfgen.data.load` (``$TFGEN_DATA_DIR``)
    and to make small files in tests.

    Args:
        path: destination file.
        array: NumPy array of a dtype listed in ``DTYPE_CODES`` (uint8, int8,
            int16, int32, float32, float64), at least 1-D.

    Raises:
        ValueError: unsupported dtype or a 0-d array.
    """
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in DTYPE_CODES.items()}
    if array.dtype not in codes:
        raise ValueError(
            f"Cannot write dtype {array.dtype} to IDX; expected one of "
            f"{sorted(str(dtype) for dtype in codes)}."
        )
    if array.ndim == 0:
        raise ValueError("Cannot write a 0-d array to IDX; expected at least 1 dimension.")
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += np.asarray(array.shape, ">u4").tobytes()
    content = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path = os.fspath(path)
    if path.endswith(".gz"):
        content = gzip.compress(content, compresslevel=1)
    with open(path, "wb") as handle:
        handle.write(content)
