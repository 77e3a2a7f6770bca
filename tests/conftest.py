"""Shared test set-up: quiet TensorFlow, deterministic ops, fresh Keras state."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# tfgen's default precision is "auto" (bfloat16 on CPUs with avx512_bf16/AMX):
# the suite pins float32 so that its results do not depend on the processor
# (subprocesses and notebook kernels inherit it); the tests of the default
# itself unset it. Set it to bfloat16 to run the suite in mixed precision.
os.environ.setdefault("TFGEN_PRECISION", "float32")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _clear_keras_session():
    yield
    keras.backend.clear_session()
