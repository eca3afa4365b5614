"""The storage encoding of documents: wire JSON, minus the checks.

Documents reach the store only after ``check_document``, so reading them back
(the hottest path there is) skips key and range checks that ``loads`` does
for untrusted input. The bytes are the same wire JSON ``dumps`` writes.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

import orjson

from reactor.values._int64 import UNSET, Int64
from reactor.values._json import convex_to_json

__all__ = ["decode_stored", "encode_stored"]

_INF = math.inf
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")


def _special(key: str, text: str) -> Any:
    raw = base64.b64decode(text)
    if key == "$integer":
        return Int64(_I64.unpack(raw)[0])
    if key == "$float":
        return _F64.unpack(raw)[0]
    return raw


def _convert(obj: Any) -> Any:
    cls = type(obj)
    if cls is dict:
        if len(obj) == 1:
            ((key, item),) = obj.items()
            if key[0] == "$":
                return _special(key, item)
        for item in obj.values():
            if type(item) not in _PLAIN:
                break
        else:
            return obj  # the usual flat document: nothing to convert, keep orjson's dict
        return {k: (v if type(v) in _PLAIN else _convert(v)) for k, v in obj.items()}
    if cls is list:
        return [v if type(v) in _PLAIN else _convert(v) for v in obj]
    if cls is int:
        return float(obj)
    return obj


_PLAIN = frozenset({str, float, bool, type(None)})


def decode_stored(data: bytes) -> Any:
    """The value of bytes that ``encode_stored`` (or ``dumps``) wrote."""
    return _convert(orjson.loads(data))


def _to_json(value: Any) -> Any:
    cls = type(value)
    if cls is str or cls is bool or value is None:
        return value
    if cls is float:
        if math.isfinite(value) and (value != 0.0 or math.copysign(1.0, value) > 0):
            return value
        return {"$float": base64.b64encode(_F64.pack(value)).decode("ascii")}
    if cls is dict:
        for item in value.values():
            kind = type(item)
            if kind is str or kind is bool or item is None:
                continue
            # A finite float other than -0.0 is written by orjson as it is.
            if kind is float and -_INF < item < _INF and (item or math.copysign(1.0, item) > 0):
                continue
            break
        else:
            return value  # the usual flat document: orjson writes it as it is
        return {k: _to_json(v) for k, v in value.items() if v is not UNSET}
    if cls is list:
        return [_to_json(v) for v in value]
    if cls is Int64:
        return {"$integer": base64.b64encode(_I64.pack(value)).decode("ascii")}
    if cls is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    # Anything else (a plain int, a subclass) takes the checked path.
    return convex_to_json(value)


def encode_stored(value: Any) -> bytes:
    """Bytes for a value that has passed ``check_value``: the same bytes ``dumps`` writes."""
    return orjson.dumps(_to_json(value), option=orjson.OPT_SORT_KEYS)
