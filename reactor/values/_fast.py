"""``normalize`` and ``checked_size`` in one walk, for the values most code writes.

Every function's arguments, every return value and every written document
goes through both, and each is a full walk in Python. ``normalize_checked``
does the two at once for values made of the exact builtin types within the
limits, and gives up (returns None) on anything else: a subclass, an ``Int64``
subclass, a problem of any kind. The caller then takes the two-step path,
which gives the same result or raises exactly the error it always raised. So
this never decides anything on its own: it only skips a walk when both walks
would succeed.
"""

from __future__ import annotations

from typing import Any, Final

from reactor.values._int64 import UNSET, Int64
from reactor.values._limits import (
    MAX_ARRAY_LENGTH,
    MAX_FIELDS,
    MAX_NESTING,
    MAX_SAFE_FLOAT_INT,
)
from reactor.values._names import field_name_problem

__all__ = ["normalize_checked"]


class _Unusual(Exception):
    """Raised to leave the walk: the two-step path must decide."""


_NONE: Final = type(None)


def normalize_checked(value: Any) -> tuple[Any, int] | None:
    """``(normalize(value), checked_size(normalize(value)))``, or None.

    None means "take the two-step path": the value is unusual (a type other
    than the exact builtins, ``UNSET`` where it has no meaning) or breaks a
    rule, and ``normalize`` or ``checked_size`` will say which. The sizes are
    ``checked_size``'s; plain ints become floats, as ``normalize`` does.
    """
    try:
        return _walk(value, 0)
    except _Unusual:
        return None


def _walk(value: Any, depth: int) -> tuple[Any, int]:
    cls = type(value)
    if cls is dict:
        if depth >= MAX_NESTING:
            raise _Unusual
        return _walk_object(value, depth + 1)
    if cls is list:
        if depth >= MAX_NESTING:
            raise _Unusual
        return _walk_array(value, depth + 1)
    return _scalar(value, cls)


def _scalar(value: Any, cls: type) -> tuple[Any, int]:
    if cls is str:
        return value, 2 + (len(value) if value.isascii() else _utf8_length(value))
    if cls is float:
        return value, 9
    if cls is bool or cls is _NONE:
        return value, 1
    if cls is int:
        if -MAX_SAFE_FLOAT_INT <= value <= MAX_SAFE_FLOAT_INT:
            return float(value), 9
        raise _Unusual
    if cls is Int64:
        return value, 9
    if cls is bytes:
        return value, 2 + len(value)
    raise _Unusual


def _walk_object(fields: dict[Any, Any], depth: int) -> tuple[dict[str, Any], int]:
    if len(fields) > MAX_FIELDS:
        raise _Unusual
    out: dict[str, Any] = {}
    total = 2
    for key, item in fields.items():
        if type(key) is not str or key not in _VALID_NAMES:  # a str subclass may equal one
            _check_name(key)
        if item is UNSET:
            continue  # normalize drops the field
        cls = type(item)
        # Field names are printable ASCII (checked above): len() is their size.
        if cls is str:
            out[key] = item
            total += len(key) + 3 + (len(item) if item.isascii() else _utf8_length(item))
        elif cls is float:
            out[key] = item
            total += len(key) + 10
        else:
            normalized, size = _walk(item, depth)
            out[key] = normalized
            total += len(key) + 1 + size
    return out, total


def _walk_array(items: list[Any], depth: int) -> tuple[list[Any], int]:
    if len(items) > MAX_ARRAY_LENGTH:
        raise _Unusual
    out: list[Any] = []
    total = 2
    for item in items:
        normalized, size = _walk(item, depth)
        out.append(normalized)
        total += size
    return out, total


_VALID_NAMES: Final[set[str]] = set()
"""Field names already found valid: the same few come back on every write."""
_MAX_VALID_NAMES: Final = 4096


def _check_name(key: Any) -> None:
    if type(key) is not str or field_name_problem(key) is not None:
        raise _Unusual
    if len(_VALID_NAMES) < _MAX_VALID_NAMES and len(key) <= 64:
        _VALID_NAMES.add(key)


def _utf8_length(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: the two-step path names it
        raise _Unusual from None
