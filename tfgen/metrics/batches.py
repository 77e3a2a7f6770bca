"""Running a feature network over many images, a batch at a time, optionally with a progress bar.

Example:
```python
from tfgen.metrics.batches import predict_in_batches
features = predict_in_batches(lambda batch: network(batch, training=False), images, 500, verbose=1)
```
"""

import keras
import numpy as np

from tfgen import validation

VERBOSE_LEVELS = (0, 1, 2)


def check_verbose(verbose):
    """Returns ``verbose`` as an int, or raises ``ValueError`` unless it is 0, 1 or 2 (Keras' levels; ``True`` is 1)."""
    if not isinstance(verbose, (int, np.integer)) or verbose not in VERBOSE_LEVELS:
        raise ValueError(
            f"Expected verbose to be 0 (silent), 1 (progress bar) or 2 (one line at the end), got {verbose!r}."
        )
    return int(verbose)


def announce(message, verbose):
    """Prints ``message`` (the title of the progress bar that follows) on stdout when ``verbose``."""
    if verbose:
        print(message, flush=True)


def predict_in_batches(predict, images, batch_size, verbose=0):
    """``predict`` applied to consecutive batches of ``images``, concatenated.

    Args:
        predict: callable mapping a NumPy batch ``[B, ...]`` to a tensor or
            array ``[B, ...]``.
        images: NumPy ``[N, H, W, C]``.
        batch_size: positive int, images per call (memory grows with it).
        verbose: 0 prints nothing; 1 shows a ``keras.utils.Progbar`` of the
            images done on stdout, as ``model.predict`` does; 2 prints one
            line when done.

    Returns:
        float32 NumPy ``[N, ...]``.

    Raises:
        ValueError: ``batch_size`` not a positive int, or ``verbose`` not 0, 1 or 2.
    """
    batch_size = validation.check_positive_int("batch_size", batch_size)
    verbose = check_verbose(verbose)
    progress = keras.utils.Progbar(len(images), verbose=verbose, unit_name="image") if verbose else None
    outputs = []
    for start in range(0, len(images), batch_size):
        outputs.append(np.asarray(predict(images[start : start + batch_size]), dtype=np.float32))
        if progress is not None:
            progress.add(len(outputs[-1]))
    return np.concatenate(outputs, axis=0)
