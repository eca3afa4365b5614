"""Convex's wire JSON ("convex encoded json", PROTOCOL.md §9)."""

from __future__ import annotations

import base64
import binascii
import math
import struct
from typing import Any, Final

import orjson

from reactor.errors import InvalidValueError
from reactor.values._int64 import UNSET, Int64
from reactor.values._kinds import (
    ARRAY,
    BOOLEAN,
    BYTES,
    FLOAT64,
    INT64,
    MISSING,
    NULL,
    OBJECT,
    PLAIN_INT,
    STRING,
    as_float,
    kind_of,
    not_a_value,
    object_key,
    too_nested,
    type_name,
    unset_in_array,
)
from reactor.values._limits import MAX_VALUE_NESTING
from reactor.values._names import field_name_problem
from reactor.values._paths import PathError

_I64_LE: Final = struct.Struct("<q")
_U64_LE: Final = struct.Struct("<Q")
_F64_LE: Final = struct.Struct("<d")
_SPECIAL_KEYS: Final = ("$integer", "$bytes", "$float")


def convex_to_json(value: Any) -> Any:
    """The JSON-ready form (dicts, lists, str, float, bool, None) of a Convex value.

    Plain ``int`` is a float64 and comes out as a float. Object keys come out
    sorted, keys mapped to ``UNSET`` are dropped.
    """
    try:
        return _to_json(value, 0)
    except PathError as error:
        raise error.to_invalid() from None


def json_to_convex(obj: Any) -> Any:
    """The Convex value of parsed wire JSON; every JSON number is a float64."""
    try:
        return _from_json(obj, 0)
    except PathError as error:
        raise error.to_invalid() from None


def dumps(value: Any) -> bytes:
    """Wire JSON bytes of a Convex value: sorted keys, floats always as floats."""
    try:
        # convex_to_json already builds objects in key order; orjson keeps it.
        return orjson.dumps(convex_to_json(value))
    except orjson.JSONEncodeError as error:
        # Lone surrogates in strings are what gets this far.
        raise InvalidValueError(f"value cannot be encoded as JSON: {error}") from None


def loads(data: bytes | str) -> Any:
    """The Convex value of wire JSON text."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InvalidValueError(f"invalid JSON: {error}") from None
    return json_to_convex(parsed)


def u64_to_b64(n: int) -> str:
    """A protocol timestamp: 8-byte little-endian unsigned, padded standard base64."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 2**64:
        raise InvalidValueError(f"not a u64: {n!r}")
    return base64.b64encode(_U64_LE.pack(n)).decode("ascii")


def b64_to_u64(s: str) -> int:
    """Inverse of ``u64_to_b64``."""
    try:
        raw = _b64decode(s, "u64")
    except PathError as error:
        raise error.to_invalid() from None
    if len(raw) != 8:
        raise InvalidValueError(f"u64 must be 8 bytes of base64, got {len(raw)}")
    n: int = _U64_LE.unpack(raw)[0]
    return n


def _to_json(value: Any, depth: int) -> Any:
    kind = kind_of(value)
    if kind in (STRING, NULL, BOOLEAN):
        return value
    if kind == FLOAT64:
        return _float_to_json(value if type(value) is float else float(value))
    if kind == PLAIN_INT:
        return _float_to_json(as_float(value))
    if kind == INT64:
        return {"$integer": base64.b64encode(_I64_LE.pack(value)).decode("ascii")}
    if kind == BYTES:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if kind in (ARRAY, OBJECT):
        if depth >= MAX_VALUE_NESTING:
            raise too_nested(MAX_VALUE_NESTING)
        if kind == ARRAY:
            return _array_to_json(value, depth + 1)
        return _object_to_json(value, depth + 1)
    if kind == MISSING:
        raise PathError("UNSET (a missing value) cannot be encoded")
    raise not_a_value(value)


def _float_to_json(number: float) -> Any:
    if math.isfinite(number) and (number != 0.0 or math.copysign(1.0, number) > 0):
        return number
    return {"$float": base64.b64encode(_F64_LE.pack(number)).decode("ascii")}


def _array_to_json(items: list[Any], depth: int) -> list[Any]:
    out: list[Any] = []
    index = 0
    try:
        for index, item in enumerate(items):  # noqa: B007 - read in the handler
            if item is UNSET:
                raise unset_in_array()
            out.append(_to_json(item, depth))
    except PathError as error:
        error.add_index(index)
        raise
    return out


def _object_to_json(fields: dict[Any, Any], depth: int) -> dict[str, Any]:
    for key in fields:
        _check_key(key)
    out: dict[str, Any] = {}
    for key in sorted(fields):
        item = fields[key]
        if item is UNSET:
            continue
        try:
            out[key] = _to_json(item, depth)
        except PathError as error:
            error.add_key(key)
            raise
    return out


def _check_key(key: object) -> None:
    try:
        problem = field_name_problem(object_key(key))
        if problem is not None:
            raise PathError(problem)
    except PathError as error:
        error.add_key(key)
        raise


def _from_json(obj: Any, depth: int) -> Any:
    cls = type(obj)
    if cls is str or cls is float or cls is bool or obj is None:
        return obj
    if cls is int:
        try:
            return float(obj)
        except OverflowError:
            raise PathError(f"JSON number {obj} is out of the float64 range") from None
    if cls is list or cls is dict:
        if depth >= MAX_VALUE_NESTING:
            raise too_nested(MAX_VALUE_NESTING)
        if cls is list:
            return _array_from_json(obj, depth + 1)
        return _object_from_json(obj, depth + 1)
    raise PathError(f"a {type_name(obj)} is not parsed JSON")


def _array_from_json(items: list[Any], depth: int) -> list[Any]:
    out: list[Any] = []
    index = 0
    try:
        for index, item in enumerate(items):  # noqa: B007 - read in the handler
            out.append(_from_json(item, depth))
    except PathError as error:
        error.add_index(index)
        raise
    return out


def _object_from_json(fields: dict[Any, Any], depth: int) -> Any:
    if len(fields) == 1:
        ((key, item),) = fields.items()
        if isinstance(key, str) and key.startswith("$"):
            return _special_from_json(key, item)
    out: dict[str, Any] = {}
    for key, item in fields.items():
        _check_key(key)
        try:
            out[key] = _from_json(item, depth)
        except PathError as error:
            error.add_key(key)
            raise
    return out


def _special_from_json(key: str, text: Any) -> Any:
    if key not in _SPECIAL_KEYS:
        raise PathError(f"{key!r} is a reserved key: objects with one '$' key are special values")
    raw = _b64decode(text, key)
    if key == "$bytes":
        return raw
    if len(raw) != 8:
        raise PathError(f"{key} must encode 8 bytes, got {len(raw)}")
    if key == "$integer":
        return Int64(_I64_LE.unpack(raw)[0])
    number: float = _F64_LE.unpack(raw)[0]
    if math.isfinite(number) and (number != 0.0 or math.copysign(1.0, number) > 0):
        raise PathError(f"$float {number!r} is an ordinary float64 and must be sent as a number")
    return number


def _b64decode(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise PathError(f"{what} must be a base64 string, not {type_name(text)}")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PathError(f"{what} is not valid padded base64: {_show(text)}") from None
    # Python accepts stray bits in the last character ("AR==" for b"\x01"); the
    # reference backend does not, and accepting them would give one value two spellings.
    tail = len(raw) % 3 or 3
    if raw and base64.b64encode(raw[-tail:]) != text[-4:].encode("ascii"):
        raise PathError(f"{what} is not canonical base64: {_show(text)}")
    return raw


def _show(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")
