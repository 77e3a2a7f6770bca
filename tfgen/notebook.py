"""Settings for the walkthrough notebooks in ``notebooks/``: full or small mode.

The notebooks run top to bottom in two sizes. The *full* mode (the default)
trains long enough for the pictures to mean something; it is what the
committed notebooks show. The *small* mode, chosen with the environment
variable ``TFGEN_NOTEBOOK_MODE=small``, shrinks epochs and sample counts so
that the test suite (``tests/notebooks/test_notebooks.py``) executes every
notebook in seconds and fails when one of them breaks.

Everything a notebook writes (models, exports, pictures) goes to a fresh
directory from :func:`output_dir`, never into the repository, so running a
notebook twice never overwrites an earlier run or an export you made.

Example:

```python
from tfgen import notebook

epochs = notebook.setting(full=5, small=1)       # 5, or 1 under TFGEN_NOTEBOOK_MODE=small
run_dir = notebook.output_dir("01_vae")           # e.g. /tmp/tfgen-notebooks/01_vae-k2j3h1
```
"""

import os
import tempfile

MODE_VARIABLE = "TFGEN_NOTEBOOK_MODE"
OUTPUT_VARIABLE = "TFGEN_NOTEBOOK_OUTPUT_DIR"
MODES = ("full", "small")
DEFAULT_MODE = "full"


def mode():
    """The notebook mode: ``"full"`` (default) or ``"small"``, from ``$TFGEN_NOTEBOOK_MODE``.

    Returns:
        str, one of :data:`MODES`.

    Raises:
        ValueError: if the variable holds anything else (case and surrounding
            spaces are ignored; empty means the default).
    """
    value = os.environ.get(MODE_VARIABLE, "").strip().lower() or DEFAULT_MODE
    if value not in MODES:
        raise ValueError(
            f"{MODE_VARIABLE} must be one of {list(MODES)} (or unset for {DEFAULT_MODE!r}); "
            f"received {os.environ.get(MODE_VARIABLE)!r}."
        )
    return value


def is_small():
    """True when the notebooks run in small mode (``TFGEN_NOTEBOOK_MODE=small``)."""
    return mode() == "small"


def setting(full, small):
    """The value for the current mode: ``full`` normally, ``small`` in small mode.

    Args:
        full: value used in full mode (epochs, sample counts, ...).
        small: value used in small mode.

    Returns:
        ``full`` or ``small``.

    Example:

    ```python
    num_images = notebook.setting(full=1000, small=32)
    ```
    """
    return small if is_small() else full


def output_dir(name):
    """A new, empty directory for one run of a notebook; returns its path.

    It is created under ``$TFGEN_NOTEBOOK_OUTPUT_DIR`` when that is set,
    else under ``<system temp dir>/tfgen-notebooks``, with a unique suffix,
    so nothing an earlier run wrote (and nothing in the repository) is ever
    overwritten.

    Args:
        name: a short str used as the directory's prefix, e.g. ``"01_vae"``.

    Returns:
        str, absolute path of the new directory.

    Raises:
        ValueError: if ``name`` is empty or contains a path separator.
    """
    if not isinstance(name, str) or not name or os.sep in name or (os.altsep and os.altsep in name):
        raise ValueError(f"`name` must be a non-empty str without path separators; received {name!r}.")
    base = os.environ.get(OUTPUT_VARIABLE) or os.path.join(tempfile.gettempdir(), "tfgen-notebooks")
    os.makedirs(base, exist_ok=True)
    return os.path.abspath(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
