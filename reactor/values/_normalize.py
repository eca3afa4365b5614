"""Turning what Python code produced into a plain Convex value."""

from __future__ import annotations

from typing import Any

from reactor.values._int64 import UNSET, Int64
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


def normalize(value: Any) -> Any:
    """Return a new Convex value equal to ``value`` in exact builtin types.

    Plain ``int`` becomes ``float`` (Convex float64, as the official Python
    client does), keys mapped to ``UNSET`` are dropped, and subclasses of the
    builtin types (``IntEnum``, ``StrEnum``, ``OrderedDict``, ...) become the
    builtin type. A top-level ``UNSET`` is returned as is: it means "missing",
    which only the caller can interpret (a ``null`` return, an index bound).

    Raises ``InvalidValueError`` naming the Python type and the path for
    anything else (tuples, sets, datetimes, ``Decimal``, custom classes), for
    ``UNSET`` inside an array and for an ``int`` beyond 2**53 in magnitude.
    Structural limits are ``check_value``'s job, except a hard bound on nesting
    (64 levels) that also stops cyclic structures.
    """
    if value is UNSET:
        return UNSET
    try:
        return _normalize(value, 0)
    except PathError as error:
        raise error.to_invalid() from None


def _normalize(value: Any, depth: int) -> Any:
    kind = kind_of(value)
    if kind == STRING:
        return value if type(value) is str else str.__str__(value)
    if kind == FLOAT64:
        return value if type(value) is float else float(value)
    if kind == PLAIN_INT:
        return as_float(value)
    if kind in (NULL, BOOLEAN):
        return value
    if kind == INT64:
        return value if type(value) is Int64 else Int64(value)
    if kind == BYTES:
        return value if type(value) is bytes else bytes(value)
    if kind in (ARRAY, OBJECT):
        if depth >= MAX_VALUE_NESTING:
            raise too_nested(MAX_VALUE_NESTING)
        if kind == ARRAY:
            return _normalize_array(value, depth + 1)
        return _normalize_object(value, depth + 1)
    if value is UNSET:
        raise PathError("UNSET (a missing value) is only allowed as an object field")
    raise not_a_value(value)


def _normalize_array(items: list[Any], depth: int) -> list[Any]:
    out: list[Any] = []
    index = 0
    try:
        for index, item in enumerate(items):  # noqa: B007 - read in the handler
            if item is UNSET:
                raise unset_in_array()
            out.append(_normalize(item, depth))
    except PathError as error:
        error.add_index(index)
        raise
    return out


def _normalize_object(fields: dict[Any, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in fields.items():
        try:
            name = object_key(key)
            if item is not UNSET:
                out[name if type(name) is str else str.__str__(name)] = _normalize(item, depth)
        except PathError as error:
            error.add_key(key)
            raise
    return out
