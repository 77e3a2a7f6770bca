"""Numeric precision of training: float32 or Keras mixed precision.

``tfgen train --precision NAME`` and :func:`policy_scope` map a short name to
a Keras dtype policy:

==========  ===================  ===============================================
name        Keras policy         what it does
==========  ===================  ===============================================
float32     ``float32``          everything in float32
bfloat16    ``mixed_bfloat16``   float32 variables, bfloat16 computation; same
                                 exponent range as float32, so no loss scaling
float16     ``mixed_float16``    float32 variables, float16 computation, with
                                 dynamic loss scaling (``LossScaleOptimizer``)
auto        one of the above     :func:`default_precision` for this machine
                                 (the default)
==========  ===================  ===============================================

The default: models whose built-in networks are built without a policy of
the user's compute in ``auto`` (bfloat16 where it is native: GPUs of compute
capability 8.0 or more, CPUs with ``avx512_bf16``/``amx_bf16``; float32
elsewhere), and so does ``tfgen train``. ``$TFGEN_PRECISION`` (any name
above) replaces ``auto`` as the default; a precision given explicitly wins
over both: ``tfgen train --precision``, :func:`policy_scope`, or a Keras
global mixed policy (``keras.config.set_dtype_policy("mixed_bfloat16")``).
A Keras global ``float32`` policy cannot be told apart from Keras' own
default, so ask for float32 with one of the other three
(:func:`default_policy_scope` applies the rule). Networks passed in by the
user keep the policy they were built with.

Under a mixed policy the models keep every variable (and the EMA copy of the
GAN's generator) in float32, run the last layer of each network in float32,
and compute every loss and penalty in float32; exports take and return
float32 whatever the policy.

Example:
```python
from tfgen import precision
with precision.policy_scope("bfloat16"):
    vae = tfgen.VAE(input_shape=(28, 28, 1), seed=0)   # built under mixed_bfloat16
    vae.compile()
vae.fit(data, epochs=1)       # the layers keep their policy after the scope
```
"""

import contextlib
import contextvars
import os

import keras

# Short names accepted by --precision -> Keras dtype policy names.
PRECISIONS = {
    "float32": "float32",
    "bfloat16": "mixed_bfloat16",
    "float16": "mixed_float16",
}
AUTO = "auto"
# The precision of models and runs that name none; $TFGEN_PRECISION replaces it.
DEFAULT = AUTO
ENV_VAR = "TFGEN_PRECISION"
# The policy of the innermost policy_scope in this context (None outside any).
_EXPLICIT = contextvars.ContextVar("tfgen_explicit_precision", default=None)
CPUINFO_PATH = "/proc/cpuinfo"
# /proc/cpuinfo flags of CPUs with native bfloat16 arithmetic (AVX512_BF16,
# AMX-BF16); oneDNN runs bfloat16 matmuls and convolutions natively on them.
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# GPUs from Ampere (compute capability 8.0) on have bfloat16 tensor cores.
MIN_BF16_COMPUTE_CAPABILITY = (8, 0)


def valid_names():
    """The names ``--precision`` and ``policy_scope`` accept."""
    return sorted(PRECISIONS) + [AUTO]


def resolve_precision(name):
    """Returns the Keras dtype policy name for a precision name.

    Args:
        name: ``"float32"``, ``"bfloat16"``, ``"float16"`` or ``"auto"``
            (:func:`default_precision`); Keras policy names
            (``"mixed_bfloat16"``, ...) are accepted too.

    Returns:
        str: ``"float32"``, ``"mixed_bfloat16"`` or ``"mixed_float16"``.

    Raises:
        ValueError: any other value; the message lists the valid names.

    Example:
    ```python
    resolve_precision("bfloat16")   # "mixed_bfloat16"
    ```
    """
    if name == AUTO:
        name = default_precision()
    if isinstance(name, str):
        if name in PRECISIONS:
            return PRECISIONS[name]
        if name in PRECISIONS.values():
            return name
    raise ValueError(f"Unknown precision {name!r}. Valid precisions: {valid_names()}")


def precision_name(name):
    """The short name (``"float32"``, ``"bfloat16"``, ``"float16"``) of a precision or policy name; resolves ``"auto"``.

    Raises:
        ValueError: unknown name.
    """
    policy = resolve_precision(name)
    return next(short for short, full in PRECISIONS.items() if full == policy)


def cpu_has_native_bfloat16(cpuinfo_path=CPUINFO_PATH):
    """True when ``/proc/cpuinfo`` lists ``avx512_bf16`` or ``amx_bf16`` (False if unreadable)."""
    try:
        with open(cpuinfo_path) as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[-1].split())
                    return any(flag in flags for flag in CPU_BF16_FLAGS)
    except OSError:
        return False
    return False


def _gpu_compute_capabilities():
    import tensorflow as tf

    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capabilities.append(tuple(details.get("compute_capability") or (0, 0)))
    return capabilities


def default_precision(gpu_compute_capabilities=None, cpu_bfloat16=None):
    """The precision ``"auto"`` picks on this machine: ``"bfloat16"`` or ``"float32"``.

    ``"bfloat16"`` when every GPU has compute capability >= 8.0 (bfloat16
    tensor cores), or, without GPUs, when the CPU computes bfloat16 natively
    (``avx512_bf16``/``amx_bf16`` in ``/proc/cpuinfo``); else ``"float32"``.
    ``"float16"`` is never picked: it needs loss scaling and gains nothing on
    CPUs, and bfloat16 is at least as fast wherever both are native.

    Args:
        gpu_compute_capabilities: list of ``(major, minor)``, one per GPU;
            default: asked from TensorFlow.
        cpu_bfloat16: whether the CPU has native bfloat16; default: read
            from ``/proc/cpuinfo``.
    """
    if gpu_compute_capabilities is None:
        gpu_compute_capabilities = _gpu_compute_capabilities()
    if gpu_compute_capabilities:
        fast = all(tuple(cc) >= MIN_BF16_COMPUTE_CAPABILITY for cc in gpu_compute_capabilities)
        return "bfloat16" if fast else "float32"
    if cpu_bfloat16 is None:
        cpu_bfloat16 = cpu_has_native_bfloat16()
    return "bfloat16" if cpu_bfloat16 else "float32"


def default_setting():
    """The precision name used where none is given: ``$TFGEN_PRECISION``, else :data:`DEFAULT` (``"auto"``).

    Raises:
        ValueError: ``$TFGEN_PRECISION`` holds an unknown name.
    """
    value = os.environ.get(ENV_VAR, "").strip() or DEFAULT
    if value not in valid_names():
        raise ValueError(f"{ENV_VAR}={value!r} is not a precision. Valid precisions: {valid_names()}")
    return value


def explicit_policy():
    """The Keras policy name the user chose for what is built now, or None when they chose none.

    A choice is an enclosing :func:`policy_scope` or a Keras global policy
    other than ``float32`` (``keras.config.set_dtype_policy``).
    """
    if _EXPLICIT.get() is not None:
        return _EXPLICIT.get()
    policy = keras.config.dtype_policy().name
    return None if policy == "float32" else policy


@contextlib.contextmanager
def default_policy_scope():
    """Builds inside under tfgen's default precision unless the user chose one (:func:`explicit_policy`).

    Every model family's ``__init__`` runs inside it
    (:class:`tfgen.models.GenerativeModel`), so built-in networks compute in
    :func:`default_setting`'s precision (``"auto"``) unless a policy was asked for.

    Yields:
        The Keras policy name in force inside the block.
    """
    chosen = explicit_policy()
    if chosen is not None:
        yield chosen
        return
    with policy_scope(default_setting()) as policy:
        yield policy


@contextlib.contextmanager
def policy_scope(name):
    """Sets Keras' global dtype policy for the ``with`` block and restores the previous one.

    Layers keep the policy they were created with, so models built inside the
    block compute in that precision after it ends; nothing leaks into the
    rest of the process.

    Args:
        name: a precision name accepted by :func:`resolve_precision`.

    Yields:
        The Keras policy name in force inside the block.

    Raises:
        ValueError: unknown name.
    """
    policy = resolve_precision(name)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    token = _EXPLICIT.set(policy)
    try:
        yield policy
    finally:
        _EXPLICIT.reset(token)
        keras.config.set_dtype_policy(previous)


def _layers(model):
    """``model`` and every layer nested in it."""
    found, stack = [], [model]
    while stack:
        layer = stack.pop()
        found.append(layer)
        stack.extend(getattr(layer, "layers", None) or [])
        inner = getattr(layer, "layer", None)  # wrappers (spectral normalisation)
        if isinstance(inner, keras.layers.Layer):
            stack.append(inner)
    return found


def computes_in_float16(*models):
    """True when any of ``models`` (or a layer in them) computes in float16, i.e. needs loss scaling."""
    return any(
        getattr(layer, "compute_dtype", None) == "float16" for model in models for layer in _layers(model)
    )


def with_loss_scaling(optimizer, *models):
    """Wraps ``optimizer`` in ``keras.optimizers.LossScaleOptimizer`` when ``models`` compute in float16.

    bfloat16 and float32 need no loss scaling; an optimizer that already is a
    ``LossScaleOptimizer`` is returned unchanged.
    """
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) or not computes_in_float16(*models):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)
