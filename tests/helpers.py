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


def converted_runner(format, folder):
    """Runs a LiteRT or ONNX export with its own runtime, without tfgen's code.

    Returns ``run(signature_name, inputs: dict of NumPy) -> dict of NumPy``.
    """
    import pytest

    if format == "tflite":
        interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
        interpreter = interpreter_module.Interpreter(model_path=os.path.join(folder, "model.tflite"))
        return lambda name, inputs: interpreter.get_signature_runner(name)(**inputs)
    onnxruntime = pytest.importorskip("onnxruntime")
    sessions = {}

    def run(name, inputs):
        if name not in sessions:
            sessions[name] = onnxruntime.InferenceSession(
                os.path.join(folder, f"{name}.onnx"), providers=["CPUExecutionProvider"]
            )
        session = sessions[name]
        return dict(zip([output.name for output in session.get_outputs()], session.run(None, inputs)))

    return run


def signature_inputs(signature, batch_size, num_classes=None, seed=0):
    """Fixed NumPy inputs for a loaded SavedModel signature (``tfgen.export.convert.parity_inputs``'s draws)."""
    import tensorflow as tf

    from tfgen.export.convert import parity_inputs

    specs = [tf.TensorSpec(spec.shape, spec.dtype, name=name)
             for name, spec in sorted(signature.structured_input_signature[1].items())]
    return parity_inputs(specs, batch_size, num_classes, seed)


def converted_differences(saved_model_dir, format, folder, num_classes=None, batch_sizes=(1, 7)):
    """Largest |converted - SavedModel| and the largest |SavedModel output| per signature and output.

    Every signature of the converted export runs in its runtime on the same
    inputs as the SavedModel's signature of that name (outputs renamed by the
    conversion are matched through ``tfgen.export.convert.RENAMED_OUTPUTS``).

    Returns:
        ``{signature: {output: (max_abs_difference, max_abs_expected)}}``.
    """
    import json

    import tensorflow as tf

    from tfgen.export.convert import RENAMED_OUTPUTS

    loaded = tf.saved_model.load(saved_model_dir)
    with open(os.path.join(folder, "model_card.json")) as handle:
        card = json.load(handle)
    run = converted_runner(format, folder)
    result = {}
    for name in card["signatures"]:
        signature = loaded.signatures[name]
        worst = {}
        for batch_size in batch_sizes:
            inputs = signature_inputs(signature, batch_size, num_classes)
            expected = {key: value.numpy() for key, value in signature(**{k: tf.constant(v) for k, v in inputs.items()}).items()}
            actual = run(name, inputs)
            assert len(actual) == len(expected), (name, sorted(actual), sorted(expected))
            for key, value in expected.items():
                got = np.asarray(actual[RENAMED_OUTPUTS.get((name, key), key)])
                assert got.shape == value.shape, (name, key, got.shape, value.shape)
                previous = worst.get(key, (0.0, 0.0))
                worst[key] = (max(previous[0], float(np.abs(got - value).max())),
                              max(previous[1], float(np.abs(value).max())))
        result[name] = worst
    return result
