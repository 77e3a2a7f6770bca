"""Helpers shared by tfgen's tests."""

import os
import subprocess
import sys
import textwrap

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def digits_images(num_images=None):
    """scikit-learn's 8x8 digits padded to 16x16, float32 ``[N, 16, 16, 1]`` in [-1, 1]."""
    from sklearn.datasets import load_digits

    images = load_digits().images.astype("float32") / 16.0 * 2.0 - 1.0
    images = np.pad(images, ((0, 0), (4, 4), (4, 4)), constant_values=-1.0)[..., None]
    return images if num_images is None else images[:num_images]


def random_images(num_images, shape, seed=0):
    """Uniform random float32 images ``[N, *shape]`` in [-1, 1]."""
    return np.random.default_rng(seed).uniform(-1, 1, (num_images,) + tuple(shape)).astype("float32")


def run_python_without_tfgen(code, timeout=300):
    """Runs ``code`` in a fresh interpreter where ``import tfgen`` fails.

    Returns the ``subprocess.CompletedProcess``; raises AssertionError with
    the child's output when it exits non-zero.
    """
    prelude = textwrap.dedent(
        """
        import sys
        sys.modules["tfgen"] = None  # any import of tfgen now raises ImportError
        try:
            import tfgen  # noqa: F401
        except ImportError:
            pass
        else:
            raise SystemExit("tfgen was importable")
        """
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd="/",
    )
    assert result.returncode == 0, f"child failed:\nSTDOUT:\n{result.stdout}\nSTDERR:\n{result.stderr}"
    return result


def run_cli(args, cwd, timeout=600):
    """Runs ``python -m tfgen ARGS`` in ``cwd``; returns the CompletedProcess."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "tfgen", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def weights_equal(model_a, model_b, atol=0.0):
    """True when both models' weights are equal to ``atol``."""
    weights_a, weights_b = model_a.get_weights(), model_b.get_weights()
    return len(weights_a) == len(weights_b) and all(
        a.shape == b.shape and np.allclose(a, b, atol=atol, rtol=0) for a, b in zip(weights_a, weights_b)
    )
