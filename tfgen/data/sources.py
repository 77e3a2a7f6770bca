"""Where the raw arrays of each registered data set come from.

Each source is a pair of functions used by :mod:`tfgen.data.registry`:

* ``locate_<x>(data_dir)`` -> :class:`Location`: fast file-system checks only
  (no decoding, never the network), used by ``list_datasets`` and to pick a
  source before loading;
* ``load_<x>(split, data_dir)`` -> ``(images uint8 [N, H, W, C], labels int64 [N])``;
* ``count_<x>(split, data_dir)`` -> the ``N`` that ``load_<x>`` would return,
  without decoding the images (IDX headers, tensorflow-datasets metadata).

Lookup order for the MNIST-like data sets (first match wins), so that an
explicit choice always beats a default:

1. ``data_dir`` argument, when given: IDX files in ``data_dir/<name>`` or
   ``data_dir``, or a tensorflow-datasets data set prepared in ``data_dir``
   (only there: nothing else is tried);
2. IDX files in ``$TFGEN_DATA_DIR/<name>`` (and ``$TFGEN_DATA_DIR`` itself for
   fashion_mnist);
3. a tensorflow-datasets data set already prepared in ``$TFDS_DATA_DIR`` or
   ``~/tensorflow_datasets``;
4. system directories of Debian's dataset packages
   (``/usr/share/datasets/fashion-mnist``).

Nothing is downloaded unless the environment variable ``TFGEN_DOWNLOAD=1`` is
set, in which case tensorflow-datasets may download and prepare the data set
as a last resort (this needs internet access).
"""

import dataclasses
import glob
import os
import pickle

import numpy as np

from tfgen.data import idx

DATA_DIR_ENV = "TFGEN_DATA_DIR"
DOWNLOAD_ENV = "TFGEN_DOWNLOAD"

SYSTEM_DIRS = {
    "fashion_mnist": ("/usr/share/datasets/fashion-mnist",),
    "mnist": ("/usr/share/datasets/mnist",),
    "cifar10": (),
}

# IDX file names per split; the usual ".gz" suffix is optional, and some
# mirrors write "train-images.idx3-ubyte".
IDX_PREFIXES = {"train": "train", "test": "t10k"}
_IDX_PATTERNS = ("{prefix}-{kind}-{code}-ubyte", "{prefix}-{kind}.{code}-ubyte")


@dataclasses.dataclass(frozen=True)
class Location:
    """Where a data set would be loaded from right now.

    Attributes:
        available: whether :func:`tfgen.data.load` can load it now.
        kind: ``"idx"``, ``"tfds"``, ``"cifar_python"``, ``"sklearn"``,
            ``"generated"`` or ``None`` (not available).
        path: directory holding the files (``None`` for bundled/generated).
        source: human-readable description, e.g. ``"IDX files in /usr/..."``.
    """

    available: bool
    kind: object
    path: object
    source: str


# === IDX files ===


def _find_idx_file(directory, split, kind):
    code = "idx3" if kind == "images" else "idx1"
    for pattern in _IDX_PATTERNS:
        base = os.path.join(directory, pattern.format(prefix=IDX_PREFIXES[split], kind=kind, code=code))
        for candidate in (base, base + ".gz"):
            if os.path.isfile(candidate):
                return candidate
    return None


def _has_idx_files(directory):
    return all(
        _find_idx_file(directory, split, kind) is not None
        for split in IDX_PREFIXES
        for kind in ("images", "labels")
    )


def _idx_split_files(directory, split, name=None):
    """``(images_path, labels_path)`` of one split; ``FileNotFoundError`` naming what is missing."""
    paths = []
    for kind in ("images", "labels"):
        path = _find_idx_file(directory, split, kind)
        if path is None:
            code = "idx3" if kind == "images" else "idx1"
            how_to_get = "\n" + how_to_get_tfds_style(name) if name is not None else ""
            raise FileNotFoundError(
                f"No {split} {kind} IDX file in {directory!r}: expected "
                f"{IDX_PREFIXES[split]}-{kind}-{code}-ubyte or {IDX_PREFIXES[split]}-{kind}-{code}-ubyte.gz."
                + how_to_get
            )
        paths.append(path)
    return tuple(paths)


def _check_idx_split_headers(images_path, labels_path):
    """Number of examples of an IDX split, from the two headers; ``ValueError`` if they are not MNIST-like."""
    images_shape, images_dtype = idx.read_idx_header(images_path)
    labels_shape, labels_dtype = idx.read_idx_header(labels_path)
    if images_dtype != np.uint8 or len(images_shape) != 3:
        raise ValueError(
            f"IDX file {images_path!r} holds {images_dtype} data of shape {images_shape}; "
            "expected uint8 images [N, H, W]."
        )
    if labels_dtype != np.uint8 or len(labels_shape) != 1:
        raise ValueError(
            f"IDX file {labels_path!r} holds {labels_dtype} data of shape {labels_shape}; "
            "expected uint8 labels [N]."
        )
    if images_shape[0] != labels_shape[0]:
        raise ValueError(
            f"IDX files {images_path!r} and {labels_path!r} disagree: {images_shape[0]} images "
            f"but {labels_shape[0]} labels; expected the same count."
        )
    return images_shape[0]


def count_idx_split(directory, split, name=None):
    """Number of examples of one split of an MNIST-style IDX directory, from the file headers only.

    Args:
        directory: folder with the IDX files (see :func:`load_idx_split`).
        split: ``"train"`` or ``"test"``.
        name: registered data set name, for instructions in the message of a
            missing file.

    Returns:
        int, the ``N`` that :func:`load_idx_split` would return.

    Raises:
        FileNotFoundError: a file of the split is missing (the message says
            which names were expected and, given ``name``, how to get them).
        ValueError: any IDX header error, images not uint8 ``[N, H, W]``,
            labels not uint8 ``[N]``, or counts that differ.
    """
    return _check_idx_split_headers(*_idx_split_files(directory, split, name))


def load_idx_split(directory, split, num_classes=10, name=None):
    """Reads one split of an MNIST-style IDX directory.

    Args:
        directory: folder with ``train-images-idx3-ubyte[.gz]``,
            ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``,
            ``t10k-labels-idx1-ubyte[.gz]``.
        split: ``"train"`` or ``"test"``.
        num_classes: labels must lie in ``[0, num_classes)``.
        name: registered data set name, for instructions in the message of a
            missing file.

    Returns:
        ``(images uint8 [N, H, W, 1], labels int64 [N])``.

    Raises:
        FileNotFoundError: a file of the split is missing (the message says
            which names were expected and, given ``name``, how to get them).
        ValueError: any IDX format error, images not uint8 ``[N, H, W]``,
            labels not uint8 ``[N]``, counts that differ, or labels out of
            range. The message names the file.
    """
    images_path, labels_path = _idx_split_files(directory, split, name)
    _check_idx_split_headers(images_path, labels_path)
    images = idx.read_idx(images_path)
    labels = idx.read_idx(labels_path)
    if len(labels) and labels.max() >= num_classes:
        raise ValueError(
            f"IDX file {labels_path!r} has label {int(labels.max())}; expected labels in "
            f"[0, {num_classes})."
        )
    return images[..., np.newaxis], labels.astype(np.int64)


# === tensorflow-datasets ===


def default_tfds_dir():
    """``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets`` (tensorflow-datasets' default)."""
    return os.environ.get("TFDS_DATA_DIR") or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")


def _tfds_prepared(name, data_dir):
    """Whether ``data_dir`` holds a prepared tfds data set, by file checks only.

    Importing tensorflow-datasets and asking the builder is slower and logs
    warnings for half-made folders, so only look for ``dataset_info.json``.
    """
    pattern_version = os.path.join(data_dir, name, "*", "dataset_info.json")
    pattern_config = os.path.join(data_dir, name, "*", "*", "dataset_info.json")
    return bool(glob.glob(pattern_version) or glob.glob(pattern_config))


def _load_tfds(name, split, data_dir, download=False):
    import tensorflow_datasets as tfds  # imported lazily: only this path needs it

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if download:
            builder.download_and_prepare()
        dataset = builder.as_dataset(split=split, batch_size=-1, as_supervised=True)
        images, labels = tfds.as_numpy(dataset)
    except Exception as error:  # tfds raises many types; re-raise as one with context
        raise ValueError(
            f"tensorflow-datasets could not load {name!r} split {split!r} from {data_dir!r}: "
            f"{type(error).__name__}: {error}"
        ) from error
    return np.asarray(images, np.uint8), np.asarray(labels, np.int64)


def _count_tfds(name, split, data_dir, download=False):
    """Examples in a tensorflow-datasets split, from its metadata (``dataset_info.json``)."""
    import tensorflow_datasets as tfds  # imported lazily: only this path needs it

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if download:
            builder.download_and_prepare()
        return int(builder.info.splits[split].num_examples)
    except Exception as error:  # tfds raises many types; re-raise as one with context
        raise ValueError(
            f"tensorflow-datasets could not describe {name!r} split {split!r} in {data_dir!r}: "
            f"{type(error).__name__}: {error}"
        ) from error


def download_enabled():
    """Whether ``$TFGEN_DOWNLOAD`` allows tensorflow-datasets to download."""
    return os.environ.get(DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes")


# === CIFAR-10 "python version" batches ===


def _cifar_python_dir(directory):
    for candidate in (directory, os.path.join(directory, "cifar-10-batches-py")):
        if os.path.isfile(os.path.join(candidate, "test_batch")) and os.path.isfile(
            os.path.join(candidate, "data_batch_1")
        ):
            return candidate
    return None


def _cifar_batch_names(split):
    return [f"data_batch_{index}" for index in range(1, 6)] if split == "train" else ["test_batch"]


def _read_cifar_batch(path):
    """``(images uint8 [N, 3, 32, 32], labels int64 [N])`` of one batch file, or ``ValueError``."""
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        data = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[b"labels"], np.int64)
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f"CIFAR-10 batch file {path!r} is missing or malformed ({type(error).__name__}: "
            f"{error}); expected a pickled dict with b'data' [N, 3072] uint8 and b'labels'."
        ) from error
    if len(data) != len(labels):
        raise ValueError(
            f"CIFAR-10 batch file {path!r} has {len(data)} images but {len(labels)} labels."
        )
    return data, labels


def load_cifar_python_split(directory, split):
    """Reads CIFAR-10's "python version" batches (``data_batch_1..5``, ``test_batch``).

    These are Python pickles: only use files from a source you trust.

    Returns:
        ``(images uint8 [N, 32, 32, 3], labels int64 [N])``.

    Raises:
        ValueError: a missing or malformed batch file (named).
    """
    batches = [_read_cifar_batch(os.path.join(directory, name)) for name in _cifar_batch_names(split)]
    return (
        np.concatenate([data.transpose(0, 2, 3, 1) for data, _ in batches]),
        np.concatenate([labels for _, labels in batches]),
    )


def count_cifar_python_split(directory, split):
    """Number of examples of a CIFAR-10 python split: unpickles the batches, skips the image copies."""
    return sum(len(_read_cifar_batch(os.path.join(directory, name))[1]) for name in _cifar_batch_names(split))


# === Locating the MNIST-like data sets ===


def _env_dirs(name):
    root = os.environ.get(DATA_DIR_ENV)
    if not root:
        return []
    dirs = [os.path.join(root, name)]
    if name == "fashion_mnist":
        dirs.append(root)
    return dirs


def _locate_files(name, directory):
    """IDX (or CIFAR python) files for ``name`` in ``directory``, else ``None``."""
    if name == "cifar10":
        found = _cifar_python_dir(directory)
        if found:
            return Location(True, "cifar_python", found, f"CIFAR-10 python batches in {found}")
        return None
    if _has_idx_files(directory):
        return Location(True, "idx", directory, f"IDX files in {directory}")
    return None


def locate_tfds_style(name, data_dir=None):
    """Where ``name`` (fashion_mnist, mnist or cifar10) would be loaded from."""
    if data_dir is not None:
        data_dir = os.fspath(data_dir)
        for directory in (os.path.join(data_dir, name), data_dir):
            found = _locate_files(name, directory)
            if found:
                return found
        if _tfds_prepared(name, data_dir):
            return Location(True, "tfds", data_dir, f"tensorflow-datasets (prepared in {data_dir})")
        return Location(False, None, data_dir, f"nothing found in data_dir {data_dir}")
    for directory in _env_dirs(name):
        found = _locate_files(name, directory)
        if found:
            return found
    tfds_dir = default_tfds_dir()
    if _tfds_prepared(name, tfds_dir):
        return Location(True, "tfds", tfds_dir, f"tensorflow-datasets (prepared in {tfds_dir})")
    for directory in SYSTEM_DIRS[name]:
        found = _locate_files(name, directory)
        if found:
            return found
    if download_enabled():
        return Location(
            True, "tfds_download", tfds_dir, f"tensorflow-datasets (download into {tfds_dir})"
        )
    checked = [*_env_dirs(name), f"tensorflow-datasets dir {tfds_dir}", *SYSTEM_DIRS[name]]
    return Location(False, None, None, f"not found (looked in: {', '.join(checked)})")


def how_to_get_tfds_style(name):
    """Instructions to make ``name`` available, for messages and ``list_datasets``."""
    env_value = os.environ.get(DATA_DIR_ENV)
    env_note = f"currently {env_value!r}" if env_value else "currently unset"
    lines = [
        f"Make {name!r} available in one of these ways:",
        f"  * on a machine with internet, run `tfds build {name}` (or "
        f"`python -c \"import tensorflow_datasets as tfds; tfds.load('{name}')\"`) "
        f"to prepare it in {default_tfds_dir()}, or set {DOWNLOAD_ENV}=1 to let "
        "tfgen download it through tensorflow-datasets;",
    ]
    if name == "cifar10":
        lines.append(
            "  * put the CIFAR-10 python batches (data_batch_1..5 and test_batch, from "
            f"cifar-10-python.tar.gz) in ${DATA_DIR_ENV}/cifar10 ({DATA_DIR_ENV} {env_note}) "
            "or pass data_dir=...;"
        )
    else:
        lines.append(
            "  * put the IDX files train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
            f"t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] in "
            f"${DATA_DIR_ENV}/{name} ({DATA_DIR_ENV} {env_note}) or pass data_dir=...;"
        )
    if name == "fashion_mnist":
        lines.append(
            "  * on Debian/Ubuntu, `apt-get install dataset-fashion-mnist` puts the IDX files "
            "in /usr/share/datasets/fashion-mnist."
        )
    lines[-1] = lines[-1].rstrip(";") + "."
    return "\n".join(lines)


def _available_location(name, data_dir):
    """:func:`locate_tfds_style`, or ``ValueError`` with instructions when nothing is found."""
    location = locate_tfds_style(name, data_dir)
    if not location.available:
        where = f" in data_dir {os.fspath(data_dir)!r}" if data_dir is not None else " offline"
        raise ValueError(
            f"Dataset {name!r} is not available{where} on this machine.\n"
            + how_to_get_tfds_style(name)
        )
    return location


def load_tfds_style(name, split, data_dir=None, num_classes=10):
    """Loads ``name`` from the first location found (see module docstring)."""
    location = _available_location(name, data_dir)
    if location.kind == "idx":
        return load_idx_split(location.path, split, num_classes=num_classes, name=name)
    if location.kind == "cifar_python":
        return load_cifar_python_split(location.path, split)
    return _load_tfds(name, split, location.path, download=location.kind == "tfds_download")


def count_tfds_style(name, split, data_dir=None):
    """Examples :func:`load_tfds_style` would return, without decoding them.

    IDX files: their headers; tensorflow-datasets: its metadata; CIFAR-10
    python batches: their label lists.
    """
    location = _available_location(name, data_dir)
    if location.kind == "idx":
        return count_idx_split(location.path, split, name=name)
    if location.kind == "cifar_python":
        return count_cifar_python_split(location.path, split)
    return _count_tfds(name, split, location.path, download=location.kind == "tfds_download")


# === scikit-learn digits ===

DIGITS_NUM_IMAGES = 1797  # scikit-learn's load_digits()
DIGITS_TEST_SIZE = 360  # ~20 % of 1797, the rest (1437) is "train"
DIGITS_SPLIT_SEED = 0
DIGITS_PADDED_SIZE = 16


def load_digits_split(split):
    """scikit-learn's 8x8 digits, padded (centred, background 0) to 16x16.

    Values 0..16 are scaled to uint8 ``round(v * 255 / 16)``. The split is a
    fixed permutation (``numpy.random.default_rng(0)``) of the 1797 images:
    the first 1437 are "train", the last 360 are "test".

    Returns:
        ``(images uint8 [N, 16, 16, 1], labels int64 [N])``.
    """
    from sklearn.datasets import load_digits  # bundled with scikit-learn, no download

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    pad = (DIGITS_PADDED_SIZE - images.shape[1]) // 2
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))[..., np.newaxis]
    labels = bunch.target.astype(np.int64)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(images))
    num_train = len(images) - DIGITS_TEST_SIZE
    chosen = order[:num_train] if split == "train" else order[num_train:]
    return images[chosen], labels[chosen]


def count_digits_split(split):
    """Number of examples :func:`load_digits_split` returns (a fixed size: 1437 train, 360 test)."""
    return DIGITS_NUM_IMAGES - DIGITS_TEST_SIZE if split == "train" else DIGITS_TEST_SIZE


def locate_digits(data_dir=None):
    try:
        import sklearn.datasets  # noqa: F401
    except ImportError:
        return Location(False, None, None, "scikit-learn is not installed")
    return Location(True, "sklearn", None, "scikit-learn (bundled)")
