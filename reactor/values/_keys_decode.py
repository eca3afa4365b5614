"""Reading index keys back (pagination cursors, debugging): the inverse of ``encode_key``."""

from __future__ import annotations

import struct
from typing import Any, Final

from reactor.errors import InvalidValueError
from reactor.values._int64 import UNSET, Int64
from reactor.values._keys import (
    END,
    ESCAPE,
    INT64_BIAS,
    NUL,
    STRING_END,
    TAG_ARRAY,
    TAG_BYTES,
    TAG_FALSE,
    TAG_FLOAT64,
    TAG_INT64,
    TAG_MISSING,
    TAG_NULL,
    TAG_OBJECT,
    TAG_STRING,
    TAG_TRUE,
)
from reactor.values._kinds import too_nested
from reactor.values._limits import MAX_VALUE_NESTING
from reactor.values._order import float_from_order_key
from reactor.values._paths import PathError

_U64: Final = struct.Struct(">Q")


def decode_key(data: bytes) -> list[Any]:
    """The values ``encode_key`` was given; refuses anything it could not have produced."""
    data = bytes(data)
    values: list[Any] = []
    pos = 0
    try:
        while pos < len(data):
            if data[pos] == TAG_MISSING:
                values.append(UNSET)
                pos += 1
            else:
                value, pos = _read(data, pos, 0)
                values.append(value)
    except PathError as error:
        raise InvalidValueError(f"invalid index key: {error.message}") from None
    return values


def _read(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    tag = data[pos]
    pos += 1
    if tag == TAG_STRING:
        raw, pos = _read_escaped(data, pos)
        return _text(raw), pos
    if tag in (TAG_FLOAT64, TAG_INT64):
        if pos + 8 > len(data):
            raise PathError("truncated number")
        bits: int = _U64.unpack_from(data, pos)[0]
        if tag == TAG_FLOAT64:
            return float_from_order_key(bits), pos + 8
        return Int64(bits - INT64_BIAS), pos + 8
    if tag == TAG_NULL:
        return None, pos
    if tag in (TAG_FALSE, TAG_TRUE):
        return tag == TAG_TRUE, pos
    if tag == TAG_BYTES:
        return _read_escaped(data, pos)
    if tag in (TAG_ARRAY, TAG_OBJECT):
        if depth >= MAX_VALUE_NESTING:
            raise too_nested(MAX_VALUE_NESTING)
        if tag == TAG_ARRAY:
            return _read_array(data, pos, depth + 1)
        return _read_object(data, pos, depth + 1)
    if tag == TAG_MISSING:
        raise PathError("a missing value inside an array or object")
    raise PathError(f"unknown tag 0x{tag:02x} at byte {pos - 1}")


def _read_array(data: bytes, pos: int, depth: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while True:
        if pos >= len(data):
            raise PathError("truncated array")
        if data[pos] == END:
            return items, pos + 1
        item, pos = _read(data, pos, depth)
        items.append(item)


def _read_object(data: bytes, pos: int, depth: int) -> tuple[dict[str, Any], int]:
    fields: dict[str, Any] = {}
    previous: bytes | None = None
    while True:
        if pos >= len(data):
            raise PathError("truncated object")
        if data[pos] == END:
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
    end = data.find(NUL, pos)
    if end < 0 or end + 1 >= len(data):
        raise PathError("unterminated string or bytes")
    if data[end + 1] == STRING_END:
        return data[pos:end], end + 2
    chunks: list[bytes] = []
    while data[end + 1] == ESCAPE:
        chunks.append(data[pos : end + 1])
        pos = end + 2
        end = data.find(NUL, pos)
        if end < 0 or end + 1 >= len(data):
            raise PathError("unterminated string or bytes")
    if data[end + 1] != STRING_END:
        raise PathError(f"invalid byte after 0x00 at byte {end + 1}")
    chunks.append(data[pos:end])
    return b"".join(chunks), end + 2


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PathError("string is not valid UTF-8") from None
