"""Checks of user input shared by every part of tfgen.

Each check returns the value in its canonical Python type or raises a
``ValueError`` that names the argument, the value received and what was
expected. Use these instead of writing the same ``isinstance`` tests again.

Example:
```python
from tfgen import validation
latent_dim = validation.check_positive_int("latent_dim", 16)   # 16
validation.check_seed("seed", -1)     # ValueError: Expected seed to be None or ...
```
"""

import numbers

import numpy as np

# Float images may overshoot [-1, 1] by this much (rounding in a decoder's
# tanh or sigmoid); anything further out is a scaling mistake.
RANGE_TOLERANCE = 1e-3


def is_int(value):
    """True for Python and NumPy integers, False for bools (``True`` is not a size)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_positive_int(name, value, allow_none=False):
    """``value`` as an ``int`` >= 1 (or ``None`` when ``allow_none``); else ``ValueError``."""
    if value is None and allow_none:
        return None
    if not is_int(value) or value < 1:
        expected = "None or a positive int" if allow_none else "a positive int"
        raise ValueError(f"Expected {name} to be {expected}, got {value!r}.")
    return int(value)


def check_num_classes(num_classes):
    """``num_classes`` as an ``int`` >= 2, or ``None`` (unconditional); else ``ValueError``."""
    if num_classes is None:
        return None
    if not is_int(num_classes) or num_classes < 2:
        raise ValueError(f"Expected num_classes to be None or an int >= 2, got {num_classes!r}.")
    return int(num_classes)


def check_non_negative_int(name, value):
    """``value`` as an ``int`` >= 0; else ``ValueError``."""
    if not is_int(value) or value < 0:
        raise ValueError(f"Expected {name} to be a non-negative int, got {value!r}.")
    return int(value)


def check_number(name, value, minimum=None, maximum=None, exclusive_minimum=False, exclusive_maximum=False,
                 allow_none=False):
    """``value`` as a ``float`` within the given bounds; else ``ValueError``.

    Args:
        name: the argument's name, for the message.
        value: the value to check (bools and NaN are refused).
        minimum, maximum: optional bounds.
        exclusive_minimum, exclusive_maximum: make the bound strict.
        allow_none: accept ``None`` (returned as ``None``).
    """
    if value is None and allow_none:
        return None
    low = "" if minimum is None else ("(" if exclusive_minimum else "[") + f"{minimum:g}, "
    high = "" if maximum is None else f"{maximum:g}" + (")" if exclusive_maximum else "]")
    if minimum is not None and maximum is not None:
        expected = f"a number in {low}{high}"
    elif minimum == 0:
        expected = "a positive number" if exclusive_minimum else "a non-negative number"
    elif minimum is not None:
        expected = f"a number {'>' if exclusive_minimum else '>='} {minimum:g}"
    elif maximum is not None:
        expected = f"a number {'<' if exclusive_maximum else '<='} {maximum:g}"
    else:
        expected = "a number"
    if allow_none:
        expected = f"None or {expected}"
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and value == value
    if ok and minimum is not None:
        ok = value > minimum if exclusive_minimum else value >= minimum
    if ok and maximum is not None:
        ok = value < maximum if exclusive_maximum else value <= maximum
    if not ok:
        raise ValueError(f"Expected {name} to be {expected}, got {value!r}.")
    return float(value)


def check_seed(name, value):
    """``value`` as ``None`` or an ``int`` >= 0; else ``ValueError``.

    Only validates: ``None`` stays ``None``. Models turn ``None`` into a
    concrete seed with :func:`tfgen.random.resolve_seed`.
    """
    if value is None:
        return None
    if not is_int(value) or value < 0:
        raise ValueError(f"Expected {name} to be None or a non-negative int, got {value!r}.")
    return int(value)


# Seeds the export signatures take (int32 scalars).
MAX_EXPORT_SEED = 2**31 - 1


def check_export_seed(name, value):
    """``value`` as an ``int`` in ``[0, 2**31 - 1]``, what the exports' int32 ``seed`` inputs hold; else ``ValueError``."""
    if not is_int(value) or not 0 <= value <= MAX_EXPORT_SEED:
        raise ValueError(f"Expected {name} to be an int in [0, {MAX_EXPORT_SEED}], got {value!r}.")
    return int(value)


def check_choice(name, value, choices, plural=None):
    """``value`` if it is one of ``choices`` (a registry dict or a collection); else ``ValueError``.

    The message reads ``Unknown loss 'x'. Valid losses: [...]`` (``plural``
    defaults to the English plural of ``name`` for regular nouns).
    """
    try:
        known = value in choices
    except TypeError:  # unhashable value
        known = False
    if not known:
        plural = plural or name + ("es" if name.endswith(("s", "x", "ch", "sh")) else "s")
        raise ValueError(f"Unknown {name} {value!r}. Valid {plural}: {sorted(choices)}")
    return value
