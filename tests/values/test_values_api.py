"""The public surface of reactor.values, pinned: other packages import these names."""

from __future__ import annotations

import reactor.values as values
from reactor.values import INT64_MAX, INT64_MIN, UNSET, Int64
from reactor.values._int64 import UNSET as UNSET_FROM_INT64


def test_all_is_pinned() -> None:
    assert values.__all__ == [
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


def test_every_name_in_all_exists() -> None:
    for name in values.__all__:
        assert hasattr(values, name), name


def test_limits() -> None:
    assert values.MAX_DOCUMENT_SIZE == 1_048_576
    assert values.MAX_NESTING == 16
    assert values.MAX_FIELDS == 1024
    assert values.MAX_ARRAY_LENGTH == 8192
    assert values.MAX_KEY_LENGTH == 1024


def test_int64_reexports() -> None:
    assert INT64_MIN == -(2**63)
    assert INT64_MAX == 2**63 - 1
    assert UNSET is UNSET_FROM_INT64
    assert isinstance(Int64(3), int)
