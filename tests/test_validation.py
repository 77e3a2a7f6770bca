"""tfgen.validation and tfgen.random.resolve_seed: one contract for each check of user input."""

import random

import keras
import numpy as np
import pytest

from tfgen import random as tfgen_random
from tfgen import validation


@pytest.mark.parametrize("value, expected", [(1, 1), (np.int64(3), 3)])
def test_positive_int_accepts_ints(value, expected):
    result = validation.check_positive_int("count", value)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value", [0, -1, 1.0, True, "2", None])
def test_positive_int_refuses_the_rest_naming_the_value(value):
    with pytest.raises(ValueError, match=f"Expected count to be a positive int, got {value!r}."):
        validation.check_positive_int("count", value)


def test_allow_none():
    assert validation.check_positive_int("count", None, allow_none=True) is None
    with pytest.raises(ValueError, match="Expected count to be None or a positive int, got 0."):
        validation.check_positive_int("count", 0, allow_none=True)


@pytest.mark.parametrize(
    "kwargs, value, message",
    [
        ({"minimum": 0.0}, -1.0, "a non-negative number, got -1.0"),
        ({"minimum": 0.0, "exclusive_minimum": True}, 0.0, "a positive number, got 0.0"),
        ({"minimum": 0.0, "maximum": 1.0, "exclusive_maximum": True}, 1.0, "a number in [0, 1), got 1.0"),
        ({}, float("nan"), "a number, got nan"),
        ({}, True, "a number, got True"),
        ({"allow_none": True, "minimum": 2}, 1, "None or a number >= 2, got 1"),
    ],
)
def test_check_number_messages(kwargs, value, message):
    with pytest.raises(ValueError) as error:
        validation.check_number("x", value, **kwargs)
    assert str(error.value) == f"Expected x to be {message}."


def test_check_seed_only_validates():
    assert validation.check_seed("seed", None) is None
    assert validation.check_seed("seed", np.int32(4)) == 4
    with pytest.raises(ValueError, match="Expected seed to be None or a non-negative int, got -1."):
        validation.check_seed("seed", -1)


def test_check_choice_lists_the_registry():
    registry = {"b": 1, "a": 2}
    assert validation.check_choice("loss", "a", registry) == "a"
    with pytest.raises(ValueError, match=r"Unknown loss 'c'. Valid losses: \['a', 'b'\]"):
        validation.check_choice("loss", "c", registry)
    with pytest.raises(ValueError, match=r"Unknown strategy \['x'\]. Valid strategies"):
        validation.check_choice("strategy", ["x"], registry, plural="strategies")


def test_resolve_seed_keeps_a_seed_and_draws_from_keras_global_seeding():
    assert tfgen_random.resolve_seed(5) == 5
    keras.utils.set_random_seed(11)
    first = tfgen_random.resolve_seed(None)
    keras.utils.set_random_seed(11)
    assert tfgen_random.resolve_seed(None) == first
    random.seed()  # fresh OS entropy, as in a new process
    assert len({tfgen_random.resolve_seed(None) for _ in range(4)}) == 4
    assert 0 <= first <= 2**31 - 2
