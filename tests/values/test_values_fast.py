"""normalize_checked: normalize and checked_size in one walk, or "take the two-step path"."""

from __future__ import annotations

import enum
import struct
from collections import OrderedDict
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from values_strategies import field_names, scalars, values

from reactor.errors import InvalidValueError
from reactor.values import (
    MAX_ARRAY_LENGTH,
    MAX_FIELDS,
    MAX_NESTING,
    UNSET,
    Int64,
    checked_size,
    normalize,
)
from reactor.values._fast import normalize_checked


class Color(enum.IntEnum):
    RED = 1


class Name(str):
    pass


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (and NaNs bit for bit)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return bool(a == b)


def two_step(value: Any) -> tuple[Any, int] | InvalidValueError:
    try:
        normalized = normalize(value)
        return normalized, checked_size(normalized)
    except InvalidValueError as exc:
        return exc


def check_agrees(value: Any) -> tuple[Any, int] | None:
    fast = normalize_checked(value)
    if fast is not None:
        slow = two_step(value)
        assert not isinstance(slow, InvalidValueError), (value, slow)
        assert same(fast[0], slow[0]), (value, fast, slow)
        assert fast[1] == slow[1], (value, fast, slow)
    return fast


@given(values)
def test_plain_values_take_the_fast_path_and_agree(value: Any) -> None:
    assert check_agrees(value) is not None


# Everything the fast path must refuse to decide, mixed into plain values.
_odd_leaves = st.sampled_from(
    [
        UNSET,
        2**53 + 1,
        -(2**60),
        Color.RED,
        Name("x"),
        (1, 2),
        {1, 2},
        bytearray(b"x"),
        "\ud800",
        "caf\u00e9",
        "",
        True,
    ]
)
_odd_keys = st.one_of(
    field_names,
    st.sampled_from(["", "$x", "_id", "_x", "a\x00", "\u00e9", "x" * 1025, Name("k"), 1]),
)


def _odd_extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_odd_keys, children, max_size=4),
        st.dictionaries(field_names, children, max_size=3).map(OrderedDict),
    )


odd_values = st.recursive(st.one_of(scalars, _odd_leaves), _odd_extend, max_leaves=12)


@given(odd_values)
def test_whatever_the_fast_path_accepts_the_two_steps_accept_alike(value: Any) -> None:
    check_agrees(value)


def _nested(levels: int) -> Any:
    value: Any = 1.0
    for i in range(levels):
        value = [value] if i % 2 else {"a": value}
    return value


def test_limits_are_left_to_the_two_steps() -> None:
    assert check_agrees(_nested(MAX_NESTING)) is not None
    for too_much in (
        _nested(MAX_NESTING + 1),
        [0.0] * (MAX_ARRAY_LENGTH + 1),
        {f"f{i}": 0.0 for i in range(MAX_FIELDS + 1)},
    ):
        assert normalize_checked(too_much) is None
        assert isinstance(two_step(too_much), InvalidValueError)
    assert check_agrees([0.0] * MAX_ARRAY_LENGTH) is not None
    assert check_agrees({f"f{i}": 0.0 for i in range(MAX_FIELDS)}) is not None


def test_a_key_of_a_str_subclass_is_left_to_the_two_steps() -> None:
    assert normalize_checked({"k": 1.0}) is not None  # "k" is now a known name
    assert normalize_checked({Name("k"): 1.0}) is None
    assert check_agrees({"a": {Name("k"): 1.0}}) is None


def test_unset_fields_are_dropped_and_unset_elsewhere_is_refused() -> None:
    assert normalize_checked({"a": UNSET, "b": 1}) == ({"b": 1.0}, 2 + 2 + 9)
    assert normalize_checked([UNSET]) is None
    assert normalize_checked(UNSET) is None


def test_sizes() -> None:
    assert normalize_checked({"s": "caf\u00e9", "b": b"xy", "i": Int64(3), "n": None}) == (
        {"s": "caf\u00e9", "b": b"xy", "i": Int64(3), "n": None},
        2 + (2 + 2 + 5) + (2 + 2 + 2) + (2 + 9) + (2 + 1),
    )
