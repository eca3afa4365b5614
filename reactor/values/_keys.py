"""Order-preserving byte keys for indexes (FoundationDB tuple-layer style).

Every value is a tag byte then a payload, and the tags rise in Convex's
cross-type order, so comparing encodings as bytes compares the values. Each
encoding is self-delimiting and no encoding is a proper prefix of another,
which is what lets a tuple of values be the plain concatenation of theirs.

- missing ``0x01``, null ``0x03``, false ``0x0E``, true ``0x0F``: tag only.
- int64 ``0x08``: 8 bytes big-endian with the sign bit flipped.
- float64 ``0x0D``: 8 bytes big-endian of the IEEE total-order transform.
- string ``0x10`` (UTF-8) and bytes ``0x11``: ``0x00`` escaped as ``0x00 0xFF``,
  then the terminator ``0x00 0x01``.
- array ``0x12``: element encodings, then ``0x00``.
- object ``0x15``: per field sorted by key, the key escaped and terminated as
  a string but untagged, then the value's encoding; then ``0x00``.

The tags are the reference backend's (``crates/value/src/sorting.rs``) but
int64 always takes 8 bytes and strings end in ``0x00 0x01``, not ``0x00``:
these keys never leave this server. With a bare ``0x00`` terminator, ``b""``
(``11 00``) would be a proper prefix of ``b"\x00"`` (``11 00 FF 00``), so the
prefix range of the tuple ``(b"",)`` would also hold ``(b"\x00",)``. With
``0x00 0x01`` a ``0x00`` inside a string or bytes payload is always followed
by ``0xFF`` or ``0x01``, and ``0x01 < 0xFF`` keeps shorter strings first.
The array and object terminator ``0x00`` sorts below every tag and below
every object key's first byte (keys are non-empty and never start with NUL),
which makes shorter arrays and objects sort first.
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
from reactor.values._order import float_order_key
from reactor.values._paths import PathError

TAG_MISSING: Final = 0x01
TAG_NULL: Final = 0x03
TAG_INT64: Final = 0x08
TAG_FLOAT64: Final = 0x0D
TAG_FALSE: Final = 0x0E
TAG_TRUE: Final = 0x0F
TAG_STRING: Final = 0x10
TAG_BYTES: Final = 0x11
TAG_ARRAY: Final = 0x12
TAG_OBJECT: Final = 0x15
END: Final = 0x00
ESCAPE: Final = 0xFF

_TAGGED_U64: Final = struct.Struct(">BQ")
INT64_BIAS: Final = 1 << 63
STRING_END: Final = 0x01
NUL: Final = b"\x00"
_ESCAPED_NUL: Final = b"\x00\xff"
_TERMINATOR: Final = b"\x00\x01"


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
    return key + NUL


def _encode_str(value: str) -> bytes:
    try:
        return b"\x10" + value.encode("utf-8").replace(NUL, _ESCAPED_NUL) + _TERMINATOR
    except UnicodeEncodeError:
        raise InvalidValueError("string is not valid Unicode (it has a lone surrogate)") from None


def _encode_float(value: float) -> bytes:
    return _TAGGED_U64.pack(TAG_FLOAT64, float_order_key(value))


def _encode_int64(value: Int64) -> bytes:
    return _TAGGED_U64.pack(TAG_INT64, int.__add__(value, INT64_BIAS))


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
            out.append(TAG_MISSING)
        else:
            _write(out, value, 0)
    except PathError as error:
        raise error.to_invalid() from None


def _write(out: bytearray, value: Any, depth: int) -> None:
    kind = kind_of(value)
    if kind == STRING:
        out.append(TAG_STRING)
        out += _utf8(value).replace(NUL, _ESCAPED_NUL)
        out += _TERMINATOR
    elif kind == FLOAT64:
        out += _TAGGED_U64.pack(TAG_FLOAT64, float_order_key(value))
    elif kind == INT64:
        out += _TAGGED_U64.pack(TAG_INT64, int.__add__(value, INT64_BIAS))
    elif kind == BOOLEAN:
        out.append(TAG_TRUE if value else TAG_FALSE)
    elif kind == NULL:
        out.append(TAG_NULL)
    elif kind == PLAIN_INT:
        out += _TAGGED_U64.pack(TAG_FLOAT64, float_order_key(as_float(value)))
    elif kind == BYTES:
        out.append(TAG_BYTES)
        out += value.replace(NUL, _ESCAPED_NUL)
        out += _TERMINATOR
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
    out.append(TAG_ARRAY)
    index = 0
    try:
        for index, item in enumerate(items):  # noqa: B007 - read in the handler
            _write(out, item, depth)
    except PathError as error:
        error.add_index(index)
        raise
    out.append(END)


def _write_object(out: bytearray, fields: dict[Any, Any], depth: int) -> None:
    out.append(TAG_OBJECT)
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
            out += _utf8(key).replace(NUL, _ESCAPED_NUL)
            out += _TERMINATOR
            _write(out, item, depth)
        except PathError as error:
            error.add_key(key)
            raise
    out.append(END)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise PathError("string is not valid Unicode (it has a lone surrogate)") from None
