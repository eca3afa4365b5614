"""normalize: Python results into plain Convex values (API.md "Values")."""

from __future__ import annotations

import datetime
import decimal
import enum
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given
from values_strategies import values

from reactor.errors import InvalidValueError
from reactor.values import UNSET, Int64, normalize, values_equal


def test_ints_become_floats_deeply() -> None:
    value = {"a": 1, "b": [2, {"c": 3}], "d": Int64(4), "e": True}
    out = normalize(value)
    assert out == {"a": 1.0, "b": [2.0, {"c": 3.0}], "d": Int64(4), "e": True}
    assert type(out["a"]) is float
    assert type(out["b"][1]["c"]) is float
    assert type(out["d"]) is Int64
    assert out["e"] is True


def test_returns_a_new_structure() -> None:
    value: dict[str, Any] = {"a": [1.0], "b": {"c": "x"}}
    out = normalize(value)
    assert out == value
    out["a"].append(2.0)
    out["b"]["d"] = None
    assert value == {"a": [1.0], "b": {"c": "x"}}


def test_int_range() -> None:
    assert normalize(2**53) == float(2**53)
    assert normalize(-(2**53)) == -float(2**53)
    with pytest.raises(InvalidValueError, match=r"not exactly representable.*Int64.*\(at \.n\)$"):
        normalize({"n": 2**53 + 1})


def test_unset() -> None:
    assert normalize({"a": UNSET, "b": 1.0}) == {"b": 1.0}
    assert normalize(UNSET) is UNSET
    with pytest.raises(InvalidValueError, match=r"array element \(at \.a\[1\]\)"):
        normalize({"a": [1.0, UNSET]})


def test_special_floats_are_kept() -> None:
    out = normalize([float("nan"), -0.0, float("inf")])
    assert values_equal(out, [float("nan"), -0.0, float("inf")])


class Color(enum.IntEnum):
    RED = 1


class Mood(str, enum.Enum):  # noqa: UP042 - str() of it is "Mood.HAPPY", not its value
    HAPPY = "happy"


class Ratio(float):
    pass


class Blob(bytes):
    pass


class Big(Int64):
    pass


def test_subclasses_become_builtin_types() -> None:
    out = normalize(
        OrderedDict(
            [
                ("c", Color.RED),
                ("m", Mood.HAPPY),
                ("r", Ratio(0.5)),
                ("b", Blob(b"x")),
                ("i", Big(3)),
            ]
        )
    )
    assert type(out) is dict
    assert out == {"c": 1.0, "m": "happy", "r": 0.5, "b": b"x", "i": Int64(3)}
    assert [type(v) for v in out.values()] == [float, str, float, bytes, Int64]


class Custom:
    pass


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"items": [1, 2, {"when": datetime.datetime(2024, 1, 1)}]},
            r"datetime\.datetime.*\(at \.items\[2\]\.when\)",
        ),
        ((1, 2), "tuple .*use a list"),
        ({"s": {1}}, r"set .*\(at \.s\)"),
        ({"s": frozenset()}, "frozenset"),
        ({"d": decimal.Decimal("1.5")}, r"decimal\.Decimal"),
        ({"x": Custom()}, "Custom"),
        ({"x": bytearray(b"a")}, "bytearray .*use bytes"),
        ({"x": 1j}, "complex"),
        ({1: "x"}, r"keys must be strings, not int"),
        ({"a": {(1, 2): "x"}}, "keys must be strings, not tuple"),
    ],
)
def test_rejects_non_values(value: Any, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        normalize(value)


def test_odd_keys_are_quoted_in_paths() -> None:
    with pytest.raises(InvalidValueError, match=r'\(at \["a b"\]\[0\]\)'):
        normalize({"a b": [()]})


def test_cycles_fail_cleanly() -> None:
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    with pytest.raises(InvalidValueError, match="nested"):
        normalize(cycle)


@given(values)
def test_normalized_values_are_equal_and_plain(value: Any) -> None:
    out = normalize(value)
    assert values_equal(out, value)
    _assert_plain(out)


def _assert_plain(value: Any) -> None:
    assert type(value) is not int
    if isinstance(value, list):
        for item in value:
            _assert_plain(item)
    elif isinstance(value, dict):
        for item in value.values():
            _assert_plain(item)
