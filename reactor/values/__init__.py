"""Convex values in Python: types, wire JSON, total order, index keys, ids and limits.

Convex type -> Python: null -> ``None``; float64 -> ``float``; int64 ->
``Int64`` (a subclass of ``int``); boolean -> ``bool``; string -> ``str``;
bytes -> ``bytes``; array -> ``list``; object -> ``dict[str, value]``. A plain
``int`` is a float64 (``normalize`` turns it into a ``float``), and ``UNSET``
stands for a missing value: dropped as an object field, an error elsewhere
except where "missing" has a meaning (comparisons, index keys).
"""

from __future__ import annotations

from reactor.values._check import check_document, check_value, checked_size
from reactor.values._ids import decode_id, new_id
from reactor.values._int64 import INT64_MAX, INT64_MIN, UNSET, Int64
from reactor.values._json import (
    b64_to_u64,
    convex_to_json,
    dumps,
    json_to_convex,
    loads,
    u64_to_b64,
)
from reactor.values._keys import (
    encode_key,
    encode_key_value,
    key_successor,
    prefix_successor,
)
from reactor.values._keys_decode import decode_key
from reactor.values._limits import (
    MAX_ARRAY_LENGTH,
    MAX_DOCUMENT_SIZE,
    MAX_FIELDS,
    MAX_KEY_LENGTH,
    MAX_NESTING,
)
from reactor.values._normalize import normalize
from reactor.values._order import compare_values, values_equal
from reactor.values._size import value_size
from reactor.values._stored import decode_stored, encode_stored

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_ARRAY_LENGTH",
    "MAX_DOCUMENT_SIZE",
    "MAX_FIELDS",
    "MAX_KEY_LENGTH",
    "MAX_NESTING",
    "UNSET",
    "Int64",
    "b64_to_u64",
    "check_document",
    "check_value",
    "checked_size",
    "compare_values",
    "convex_to_json",
    "decode_id",
    "decode_key",
    "decode_stored",
    "dumps",
    "encode_key",
    "encode_key_value",
    "encode_stored",
    "json_to_convex",
    "key_successor",
    "loads",
    "new_id",
    "normalize",
    "prefix_successor",
    "u64_to_b64",
    "value_size",
    "values_equal",
]
