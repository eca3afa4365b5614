"""Convex's total order over values (SEMANTICS.md TYPE-04..06)."""

from __future__ import annotations

import struct
from operator import itemgetter
from typing import Any, Final

from reactor.errors import InvalidValueError
from reactor.values._int64 import UNSET
from reactor.values._kinds import (
    ARRAY,
    FLOAT64,
    INVALID,
    MISSING,
    NULL,
    OBJECT,
    PLAIN_INT,
    as_float,
    kind_of,
    not_a_value,
    object_key,
    too_nested,
    unset_in_array,
)
from reactor.values._limits import MAX_VALUE_NESTING
from reactor.values._paths import PathError

_F64_BE: Final = struct.Struct(">d")
_U64_BE: Final = struct.Struct(">Q")
_SIGN: Final = 1 << 63
_ALL_BITS: Final = (1 << 64) - 1
_by_key: Final = itemgetter(0)


def float_order_key(number: float) -> int:
    """An unsigned 64-bit int whose order is the IEEE 754 total order of ``number``.

    Flipping every bit of a negative and only the sign bit of a positive makes
    the bit patterns sort as the numbers do, NaNs at both ends by sign.
    """
    bits: int = _U64_BE.unpack(_F64_BE.pack(number))[0]
    return bits ^ _ALL_BITS if bits & _SIGN else bits | _SIGN


def float_from_order_key(key: int) -> float:
    bits = key ^ _SIGN if key & _SIGN else key ^ _ALL_BITS
    number: float = _F64_BE.unpack(_U64_BE.pack(bits))[0]
    return number


def compare_values(a: Any, b: Any) -> int:
    """-1, 0 or 1 as ``a`` sorts before, with or after ``b`` in Convex's order.

    Ascending: missing (``UNSET``) < null < int64 < float64 < boolean < string
    < bytes < array < object. Int64 and float64 never compare numerically; a
    plain ``int`` is a float64. Keys mapped to ``UNSET`` inside objects are absent.
    """
    try:
        return _compare(a, b, 0, True)
    except PathError as error:
        raise InvalidValueError(f"cannot compare: {error.message}") from None


def values_equal(a: Any, b: Any) -> bool:
    """Equality in Convex's order: ``0.0 != -0.0``, NaN equals the same NaN, ``1.0 != Int64(1)``."""
    return compare_values(a, b) == 0


def _compare(a: Any, b: Any, depth: int, top: bool) -> int:
    kind_a = kind_of(a)
    kind_b = kind_of(b)
    if kind_a == PLAIN_INT:
        a = as_float(a)
        kind_a = FLOAT64
    if kind_b == PLAIN_INT:
        b = as_float(b)
        kind_b = FLOAT64
    if kind_a == INVALID:
        raise not_a_value(a)
    if kind_b == INVALID:
        raise not_a_value(b)
    if not top and (kind_a == MISSING or kind_b == MISSING):
        raise unset_in_array()
    if kind_a != kind_b:
        return -1 if kind_a < kind_b else 1
    if kind_a == FLOAT64:
        a = float_order_key(a)
        b = float_order_key(b)
    elif kind_a in (ARRAY, OBJECT):
        if depth >= MAX_VALUE_NESTING:
            raise too_nested(MAX_VALUE_NESTING)
        if kind_a == ARRAY:
            return _compare_arrays(a, b, depth + 1)
        return _compare_objects(a, b, depth + 1)
    elif kind_a in (NULL, MISSING):
        return 0
    # Int64, bool, bytes and str compare natively; Python's code point order
    # on str is the UTF-8 byte order Convex uses.
    return -1 if a < b else (1 if a > b else 0)


def _compare_arrays(a: list[Any], b: list[Any], depth: int) -> int:
    for item_a, item_b in zip(a, b, strict=False):
        result = _compare(item_a, item_b, depth, False)
        if result:
            return result
    return -1 if len(a) < len(b) else (1 if len(a) > len(b) else 0)


def _compare_objects(a: dict[Any, Any], b: dict[Any, Any], depth: int) -> int:
    fields_a = _present_fields(a)
    fields_b = _present_fields(b)
    for (key_a, item_a), (key_b, item_b) in zip(fields_a, fields_b, strict=False):
        if key_a != key_b:
            return -1 if key_a < key_b else 1
        result = _compare(item_a, item_b, depth, False)
        if result:
            return result
    return -1 if len(fields_a) < len(fields_b) else (1 if len(fields_a) > len(fields_b) else 0)


def _present_fields(fields: dict[Any, Any]) -> list[tuple[str, Any]]:
    present = [(object_key(key), item) for key, item in fields.items() if item is not UNSET]
    present.sort(key=_by_key)
    return present
