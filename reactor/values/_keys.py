"""Order-preserving byte keys for indexes (FoundationDB tuple-layer style).

Every value is a tag byte then a payload, and the tags rise in Convex's
cross-type order, so comparing encodings as bytes compares the values. Each
encoding is self-delimiting and no encoding is a proper prefix of another,
which is what lets a tuple of values be the plain concatenation of theirs.

- missing ``0x01``, null ``0x03``, false ``0x0E``, true ``0x0F``: tag only.
- int64 ``0x08``: 8 bytes big-endian with the sign bit flipped.
- float64 ``0x0D``: 8 bytes big-endian of the IEEE total-order transform.
- string ``0x10`` (UTF-8) and bytes ``0x11``: ``0x00`` escaped as ``0x00 0xFF``,
  then a ``0x00`` terminator.
- array ``0x12``: element encodings, then ``0x00``.
- object ``0x15``: per field sorted by key, the key escaped and terminated as
  a string but untagged, then the value's encoding; then ``0x00``.

The tags are the reference backend's (``crates/value/src/sorting.rs``) but
int64 always takes 8 bytes: these keys never leave this server.
``0x00`` sorts below every tag and below every object key's first byte (keys
are non-empty and never start with NUL), which makes shorter arrays and
objects sort first. ``0xFF`` is never a tag nor a UTF-8 byte, so ``0x00 0xFF``
is always an escape.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any, Final

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
    unset_in_array,
)
from reactor.values._limits import MAX_VALUE_NESTING
from reactor.values._order import float_from_order_key, float_order_key
from reactor.values._paths import PathError

_MISSING: Final = 0x01
_NULL: Final = 0x03
_INT64: Final = 0x08
_FLOAT64: Final = 0x0D
_FALSE: Final = 0x0E
_TRUE: Final = 0x0F
_STRING: Final = 0x10
_BYTES: Final = 0x11
_ARRAY: Final = 0x12
_OBJECT: Final = 0x15
_END: Final = 0x00
_ESCAPE: Final = 0xFF

_TAGGED_U64: Final = struct.Struct(">BQ")
_U64: Final = struct.Struct(">Q")
_INT64_BIAS: Final = 1 << 63
_NUL: Final = b"\x00"
_ESCAPED_NUL: Final = b"\x00\xff"


def encode_key_value(value: Any) -> bytes:
    """The order-preserving encoding of one value (``UNSET`` allowed: missing)."""
    fast = _SCALAR_ENCODERS.get(type(value))
    if fast is not None:
        return fast(value)
    out = bytearray()
    _write_top(out, value)
    return bytes(out)


def encode_key(values: Sequence[Any]) -> bytes:
    """The encoding of a tuple of values: their encodings concatenated."""
    out = bytearray()
    for value in values:
        fast = _SCALAR_ENCODERS.get(type(value))
        if fast is not None:
            out += fast(value)
        else:
            _write_top(out, value)
    return bytes(out)


def decode_key(data: bytes) -> list[Any]:
    """The values ``encode_key`` was given; refuses anything it could not have produced."""
    data = bytes(data)
    values: list[Any] = []
    pos = 0
    try:
        while pos < len(data):
            if data[pos] == _MISSING:
                values.append(UNSET)
                pos += 1
            else:
                value, pos = _read(data, pos, 0)
                values.append(value)
    except PathError as error:
        raise InvalidValueError(f"invalid index key: {error.message}") from None
    return values


def prefix_successor(prefix: bytes) -> bytes | None:
    """The smallest byte string above every string that starts with ``prefix``.

    None when there is none (``prefix`` is empty or all ``0xFF``): the range is
    unbounded above.
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes((stripped[-1] + 1,))


def key_successor(key: bytes) -> bytes:
    """The smallest byte string above ``key``."""
    return key + _NUL


def _encode_str(value: str) -> bytes:
    try:
        return b"\x10" + value.encode("utf-8").replace(_NUL, _ESCAPED_NUL) + _NUL
    except UnicodeEncodeError:
        raise InvalidValueError("string is not valid Unicode (it has a lone surrogate)") from None


def _encode_float(value: float) -> bytes:
    return _TAGGED_U64.pack(_FLOAT64, float_order_key(value))


def _encode_int64(value: Int64) -> bytes:
    return _TAGGED_U64.pack(_INT64, int.__add__(value, _INT64_BIAS))


def _encode_bool(value: bool) -> bytes:
    return b"\x0f" if value else b"\x0e"


def _encode_constant(value: object) -> bytes:
    return b"\x01" if value is UNSET else b"\x03"


# Exact types only: the common scalars skip the generic walk (a key per index per write).
_SCALAR_ENCODERS: Final[dict[type, Callable[[Any], bytes]]] = {
    str: _encode_str,
    float: _encode_float,
    Int64: _encode_int64,
    bool: _encode_bool,
    type(None): _encode_constant,
    type(UNSET): _encode_constant,
}


def _write_top(out: bytearray, value: Any) -> None:
    try:
        if value is UNSET:
            out.append(_MISSING)
        else:
            _write(out, value, 0)
    except PathError as error:
        raise error.to_invalid() from None


def _write(out: bytearray, value: Any, depth: int) -> None:
    kind = kind_of(value)
    if kind == STRING:
        out.append(_STRING)
        out += _utf8(value).replace(_NUL, _ESCAPED_NUL)
        out.append(_END)
    elif kind == FLOAT64:
        out += _TAGGED_U64.pack(_FLOAT64, float_order_key(value))
    elif kind == INT64:
        out += _TAGGED_U64.pack(_INT64, int.__add__(value, _INT64_BIAS))
    elif kind == BOOLEAN:
        out.append(_TRUE if value else _FALSE)
    elif kind == NULL:
        out.append(_NULL)
    elif kind == PLAIN_INT:
        out += _TAGGED_U64.pack(_FLOAT64, float_order_key(as_float(value)))
    elif kind == BYTES:
        out.append(_BYTES)
        out += value.replace(_NUL, _ESCAPED_NUL)
        out.append(_END)
    elif kind in (ARRAY, OBJECT):
        if depth >= MAX_VALUE_NESTING:
            raise too_nested(MAX_VALUE_NESTING)
        if kind == ARRAY:
            _write_array(out, value, depth + 1)
        else:
            _write_object(out, value, depth + 1)
    elif kind == MISSING:
        raise unset_in_array()
    else:
        raise not_a_value(value)


def _write_array(out: bytearray, items: list[Any], depth: int) -> None:
    out.append(_ARRAY)
    index = 0
    try:
        for index, item in enumerate(items):  # noqa: B007 - read in the handler
            _write(out, item, depth)
    except PathError as error:
        error.add_index(index)
        raise
    out.append(_END)


def _write_object(out: bytearray, fields: dict[Any, Any], depth: int) -> None:
    out.append(_OBJECT)
    for key in fields:
        try:
            if not object_key(key) or key[0] == "\x00":
                # Either would begin with the terminator byte and break prefix-freeness.
                raise PathError("an indexed object key cannot be empty or start with NUL")
        except PathError as error:
            error.add_key(key)
            raise
    for key in sorted(fields):
        item = fields[key]
        if item is UNSET:
            continue
        try:
            out += _utf8(key).replace(_NUL, _ESCAPED_NUL)
            out.append(_END)
            _write(out, item, depth)
        except PathError as error:
            error.add_key(key)
            raise
    out.append(_END)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise PathError("string is not valid Unicode (it has a lone surrogate)") from None


def _read(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    tag = data[pos]
    pos += 1
    if tag == _STRING:
        raw, pos = _read_escaped(data, pos)
        return _text(raw), pos
    if tag in (_FLOAT64, _INT64):
        if pos + 8 > len(data):
            raise PathError("truncated number")
        bits: int = _U64.unpack_from(data, pos)[0]
        if tag == _FLOAT64:
            return float_from_order_key(bits), pos + 8
        return Int64(bits - _INT64_BIAS), pos + 8
    if tag == _NULL:
        return None, pos
    if tag in (_FALSE, _TRUE):
        return tag == _TRUE, pos
    if tag == _BYTES:
        return _read_escaped(data, pos)
    if tag in (_ARRAY, _OBJECT):
        if depth >= MAX_VALUE_NESTING:
            raise too_nested(MAX_VALUE_NESTING)
        if tag == _ARRAY:
            return _read_array(data, pos, depth + 1)
        return _read_object(data, pos, depth + 1)
    if tag == _MISSING:
        raise unset_in_array()
    raise PathError(f"unknown tag 0x{tag:02x} at byte {pos - 1}")


def _read_array(data: bytes, pos: int, depth: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while True:
        if pos >= len(data):
            raise PathError("truncated array")
        if data[pos] == _END:
            return items, pos + 1
        item, pos = _read(data, pos, depth)
        items.append(item)


def _read_object(data: bytes, pos: int, depth: int) -> tuple[dict[str, Any], int]:
    fields: dict[str, Any] = {}
    previous: bytes | None = None
    while True:
        if pos >= len(data):
            raise PathError("truncated object")
        if data[pos] == _END:
            return fields, pos + 1
        raw, pos = _read_escaped(data, pos)
        if previous is not None and raw <= previous:
            raise PathError("object keys out of order")
        previous = raw
        if pos >= len(data):
            raise PathError("truncated object")
        key = _text(raw)
        fields[key], pos = _read(data, pos, depth)


def _read_escaped(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.find(_NUL, pos)
    if end < 0:
        raise PathError("unterminated string or bytes")
    if end + 1 >= len(data) or data[end + 1] != _ESCAPE:
        return data[pos:end], end + 1
    chunks: list[bytes] = []
    while end >= 0 and end + 1 < len(data) and data[end + 1] == _ESCAPE:
        chunks.append(data[pos : end + 1])
        pos = end + 2
        end = data.find(_NUL, pos)
    if end < 0:
        raise PathError("unterminated string or bytes")
    chunks.append(data[pos:end])
    return b"".join(chunks), end + 1


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PathError("string is not valid UTF-8") from None
