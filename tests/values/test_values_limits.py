"""Sizes, names and structural limits: SEMANTICS.md TYPE-07, TYPE-08, LIM-01."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from values_strategies import values

from reactor.errors import InvalidValueError
from reactor.values import (
    MAX_ARRAY_LENGTH,
    MAX_DOCUMENT_SIZE,
    MAX_FIELDS,
    MAX_KEY_LENGTH,
    MAX_NESTING,
    UNSET,
    Int64,
    check_document,
    check_value,
    value_size,
)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (None, 1),
        (True, 1),
        (False, 1),
        (Int64(5), 9),
        (1.5, 9),
        (7, 9),
        (float("nan"), 9),
        ("", 2),
        ("abc", 5),
        ("é", 4),
        ("\U0001f600", 6),
        (b"", 2),
        (b"\x00\x01", 4),
        ([], 2),
        ([None, "ab"], 2 + 1 + 4),
        ({}, 2),
        ({"a": 1.0}, 2 + 1 + 1 + 9),
        ({"ab": [True]}, 2 + 2 + 1 + 3),
        ({"a": UNSET, "b": None}, 2 + 1 + 1 + 1),
        ({"a": {"b": {}}}, 2 + (1 + 1 + (2 + (1 + 1 + 2)))),
    ],
)
def test_value_size(value: Any, size: int) -> None:
    assert value_size(value) == size


def test_value_size_of_a_document() -> None:
    doc = {"_id": "z43zp6c3e75gkmz1kfwj6mbbx5sw281h", "_creationTime": 1.0, "body": "hi"}
    assert value_size(doc) == 2 + (3 + 1 + 34) + (13 + 1 + 9) + (4 + 1 + 4)


@pytest.mark.parametrize("value", [UNSET, [UNSET], (1,), {1: 2}, 2**53 + 1, "\ud800", object()])
def test_value_size_rejects_non_values(value: Any) -> None:
    with pytest.raises(InvalidValueError):
        value_size(value)


@given(values)
def test_generated_values_pass_check_value(value: Any) -> None:
    check_value(value)
    assert value_size(value) >= 1


def _nested(levels: int) -> Any:
    value: Any = 1.0
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


def test_nesting_limit() -> None:
    check_value(_nested(MAX_NESTING))
    with pytest.raises(InvalidValueError, match="nesting depth exceeds 16"):
        check_value(_nested(MAX_NESTING + 1))
    check_document({"a": _nested(MAX_NESTING - 1)})
    with pytest.raises(InvalidValueError, match="nesting depth exceeds 16"):
        check_document({"a": _nested(MAX_NESTING)})


def test_fields_limit() -> None:
    check_value({f"f{i}": None for i in range(MAX_FIELDS)})
    with pytest.raises(InvalidValueError, match=r"1025 fields.*limit of 1024"):
        check_value({"inner": {f"f{i}": None for i in range(MAX_FIELDS + 1)}})
    # Absent fields do not count.
    fields: dict[str, Any] = {f"f{i}": None for i in range(MAX_FIELDS)}
    fields["gone"] = UNSET
    check_value(fields)


def test_array_limit() -> None:
    check_value([None] * MAX_ARRAY_LENGTH)
    with pytest.raises(InvalidValueError, match=r"8193 elements.*limit of 8192.*\(at \.a\)$"):
        check_value({"a": [None] * (MAX_ARRAY_LENGTH + 1)})


def test_key_length_limit() -> None:
    check_value({"k" * MAX_KEY_LENGTH: None})
    with pytest.raises(InvalidValueError, match="longer than 1024"):
        check_value({"k" * (MAX_KEY_LENGTH + 1): None})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"": 1.0}, "empty"),
        ({"$set": 1.0}, "starts with '\\$'"),
        ({"a": {"$integer": "AQAAAAAAAAA="}}, "starts with '\\$'"),
        ({"tab\t": 1.0}, "printable ASCII"),
        ({"\x7f": 1.0}, "printable ASCII"),
        ({"naïve": 1.0}, "printable ASCII"),
        ({1: 1.0}, "keys must be strings"),
        ({"a": "\ud800"}, "lone surrogate"),
        ({"a": ["ok", "\udc00x"]}, r"lone surrogate.*\(at \.a\[1\]\)$"),
        ({"a": 2**53 + 1}, "2\\*\\*53"),
        ({"a": -(2**53) - 1}, "2\\*\\*53"),
        ([UNSET], "array element"),
        ({"a": (1.0,)}, "tuple"),
        ({"a": {1.0}}, "set"),
        (UNSET, "UNSET"),
    ],
)
def test_check_value_rejects(value: Any, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        check_value(value)


def test_check_value_accepts_edge_values() -> None:
    check_value({"a b.c-d_e~!": [2**53, -(2**53), Int64(2**63 - 1), float("nan"), -0.0, b"\x00"]})
    check_value({"_private": None, "a": UNSET})  # underscores are fine below the top level
    check_value("é\U0001f600")


def test_check_value_path_prefix() -> None:
    with pytest.raises(InvalidValueError, match=r"\(at args\.items\[2\]\.when\)"):
        check_value({"items": [1, 2, {"when": ()}]}, path="args")


def test_check_document_reserved_fields() -> None:
    check_document({"_id": "x", "_creationTime": 1.0, "a": {"_nested": 1.0}})
    check_document({"_other": UNSET})
    with pytest.raises(InvalidValueError, match=r"'_other' is reserved.*\(at \._other\)"):
        check_document({"_other": 1.0})


def test_check_document_size_limit() -> None:
    # {"a": s} has size 2 + (1 + 1 + (2 + len(s))) = len(s) + 6.
    check_document({"a": "x" * (MAX_DOCUMENT_SIZE - 6)})
    assert value_size({"a": "x" * (MAX_DOCUMENT_SIZE - 6)}) == MAX_DOCUMENT_SIZE
    with pytest.raises(InvalidValueError, match="maximum document size of 1048576"):
        check_document({"a": "x" * (MAX_DOCUMENT_SIZE - 5)})


@pytest.mark.parametrize("doc", [[], "doc", None, 1.0])
def test_check_document_requires_an_object(doc: Any) -> None:
    with pytest.raises(InvalidValueError, match="must be an object"):
        check_document(doc)


def test_check_document_runs_check_value() -> None:
    with pytest.raises(InvalidValueError, match="empty"):
        check_document({"": 1.0})
