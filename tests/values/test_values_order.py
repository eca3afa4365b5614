"""Convex's total order and equality: SEMANTICS.md TYPE-04, TYPE-05, TYPE-06."""

from __future__ import annotations

import functools
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from values_strategies import ASCENDING, any_values, float_from_bits

from reactor.errors import InvalidValueError
from reactor.values import INT64_MAX, UNSET, Int64, compare_values, values_equal


def test_ascending_examples() -> None:
    for i, j in itertools.combinations(range(len(ASCENDING)), 2):
        a, b = ASCENDING[i], ASCENDING[j]
        assert compare_values(a, b) == -1, (a, b)
        assert compare_values(b, a) == 1, (b, a)
    for value in ASCENDING:
        assert compare_values(value, value) == 0


def test_t01_type_ordering() -> None:
    # SEMANTICS.md T01, descending: the index order of mixed `author` values.
    docs: list[Any] = [
        "stringValue",
        "xFactor",
        UNSET,
        False,
        True,
        34.0,
        35.0,
        Int64(34),
        None,
        ["a"],
        {"a": 1.0},
        bytes(8),
    ]
    ordered = sorted(docs, key=functools.cmp_to_key(compare_values), reverse=True)
    assert ordered == [
        {"a": 1.0},
        ["a"],
        bytes(8),
        "xFactor",
        "stringValue",
        True,
        False,
        35.0,
        34.0,
        Int64(34),
        None,
        UNSET,
    ]


def test_int64_never_compares_numerically_with_float64() -> None:
    assert compare_values(Int64(10), 0.5) == -1
    assert compare_values(Int64(INT64_MAX), float("-inf")) == -1
    assert not values_equal(Int64(1), 1.0)
    assert not values_equal(Int64(1), 1)


def test_plain_int_is_float64() -> None:
    assert values_equal(1, 1.0)
    assert compare_values(3, 2.5) == 1
    assert compare_values(Int64(5), 3) == -1
    with pytest.raises(InvalidValueError):
        compare_values(2**53 + 1, 1.0)


def test_equality_follows_the_order() -> None:
    assert not values_equal(0.0, -0.0)
    assert values_equal(float("nan"), float("nan"))
    assert not values_equal(float("nan"), float("-nan"))
    assert not values_equal(float_from_bits(0x7FF8000000000001), float("nan"))
    assert values_equal({"a": 1.0, "b": 2.0}, {"b": 2.0, "a": 1.0})
    assert values_equal({"a": 1.0, "b": UNSET}, {"a": 1.0})
    assert not values_equal(True, 1.0)
    assert not values_equal(False, 0.0)
    assert not values_equal("a", b"a")
    assert values_equal(UNSET, UNSET)
    assert not values_equal(UNSET, None)


def test_objects_compare_as_sorted_pairs() -> None:
    # Keys first: "a" < "b" decides before the values are looked at.
    assert compare_values({"a": 2.0}, {"b": 1.0}) == -1
    assert compare_values({"b": 1.0, "a": 2.0}, {"a": 2.0, "c": 0.0}) == -1
    assert compare_values({"a": None}, {"a": None, "b": None}) == -1


def test_subclasses_compare_as_their_base_type() -> None:
    class Text(str):
        pass

    assert values_equal(Text("x"), "x")
    assert compare_values(Text("b"), "a") == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((1,), (1,)),
        ({1, 2}, [1.0]),
        (object(), None),
        ([UNSET], [None]),
        ({1: 2.0}, {1: 2.0}),
    ],
)
def test_rejects_non_values(a: Any, b: Any) -> None:
    with pytest.raises(InvalidValueError):
        compare_values(a, b)


@given(any_values, any_values)
def test_antisymmetric(a: Any, b: Any) -> None:
    assert compare_values(a, b) == -compare_values(b, a)


@given(any_values)
def test_reflexive(a: Any) -> None:
    assert compare_values(a, a) == 0


@given(st.lists(any_values, min_size=3, max_size=8))
def test_transitive(items: list[Any]) -> None:
    ordered = sorted(items, key=functools.cmp_to_key(compare_values))
    for i, j in itertools.combinations(range(len(ordered)), 2):
        assert compare_values(ordered[i], ordered[j]) <= 0
