"""Convex's size of a value (``getConvexSize``, SEMANTICS.md TYPE-08)."""

from __future__ import annotations

from typing import Any

from reactor.values._int64 import UNSET
from reactor.values._kinds import (
    ARRAY,
    BOOLEAN,
    BYTES,
    FLOAT64,
    INT64,
    NULL,
    OBJECT,
    PLAIN_INT,
    STRING,
    as_float,
    kind_of,
    not_a_value,
    object_key,
    too_nested,
    unset_in_array,
)
from reactor.values._limits import MAX_VALUE_NESTING
from reactor.values._paths import PathError


def value_size(value: Any) -> int:
    """Size in bytes by Convex's formula.

    null and booleans 1; int64 and float64 9; strings and bytes 2 + UTF-8
    length; arrays 2 + their elements; objects 2 + Σ(len(key) + 1 + size).
    """
    try:
        return _size(value, 0)
    except PathError as error:
        raise error.to_invalid() from None


def utf8_length(text: str) -> int:
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise PathError("string is not valid Unicode (it has a lone surrogate)") from None


def _size(value: Any, depth: int) -> int:
    kind = kind_of(value)
    if kind == STRING:
        return 2 + utf8_length(value)
    if kind in (FLOAT64, INT64):
        return 9
    if kind in (NULL, BOOLEAN):
        return 1
    if kind == PLAIN_INT:
        as_float(value)
        return 9
    if kind == BYTES:
        return 2 + len(value)
    if kind in (ARRAY, OBJECT):
        if depth >= MAX_VALUE_NESTING:
            raise too_nested(MAX_VALUE_NESTING)
        if kind == ARRAY:
            return _array_size(value, depth + 1)
        return _object_size(value, depth + 1)
    raise not_a_value(value)


def _array_size(items: list[Any], depth: int) -> int:
    total = 2
    index = 0
    try:
        for index, item in enumerate(items):  # noqa: B007 - read in the handler
            if item is UNSET:
                raise unset_in_array()
            total += _size(item, depth)
    except PathError as error:
        error.add_index(index)
        raise
    return total


def _object_size(fields: dict[Any, Any], depth: int) -> int:
    total = 2
    for key, item in fields.items():
        if item is UNSET:
            continue
        try:
            total += utf8_length(object_key(key)) + 1 + _size(item, depth)
        except PathError as error:
            error.add_key(key)
            raise
    return total
