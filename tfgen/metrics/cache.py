"""Where the metrics keep what they compute once: converted weights, reference statistics.

The directory is ``$TFGEN_CACHE_DIR`` when set, else ``~/.cache/tfgen``.
Files are written to a temporary name and renamed, so a run that is
interrupted, or two runs writing at once, never leave a half-written file.
"""

import hashlib
import os
import tempfile

import numpy as np


def cache_dir(override=None):
    """The cache directory: ``override``, ``$TFGEN_CACHE_DIR`` or ``~/.cache/tfgen`` (created)."""
    path = override or os.environ.get("TFGEN_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "tfgen")
    os.makedirs(path, exist_ok=True)
    return path


def file_sha1(path, chunk_size=1 << 22):
    """Hex SHA-1 of a file's bytes."""
    digest = hashlib.sha1()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_npz(path, **arrays):
    """``np.savez`` to ``path`` atomically (write a temporary file, then rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".npz", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a cache is readable like any file
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def load_npz(path):
    """``{name: array}`` of an ``.npz`` file, read fully and closed."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
