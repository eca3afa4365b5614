"""The storage encoding is the wire encoding, read back without the checks."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from values_strategies import values

from reactor.values import (
    checked_size,
    decode_stored,
    dumps,
    encode_stored,
    value_size,
    values_equal,
)


@given(values)
def test_stored_bytes_are_the_wire_bytes(value: Any) -> None:
    assert encode_stored(value) == dumps(value)


@given(values)
def test_stored_bytes_read_back_to_the_same_value(value: Any) -> None:
    assert values_equal(decode_stored(encode_stored(value)), value)


@given(values)
def test_one_pass_check_measures_the_convex_size(value: Any) -> None:
    assert checked_size(value) == value_size(value)
