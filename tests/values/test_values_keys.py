"""Order-preserving index keys: byte order is Convex's order, prefix-free, decodable."""

from __future__ import annotations

import functools
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from values_strategies import ASCENDING, any_values, float_bits, small_values

from reactor.errors import InvalidValueError
from reactor.values import (
    INT64_MAX,
    INT64_MIN,
    UNSET,
    Int64,
    compare_values,
    decode_key,
    encode_key,
    encode_key_value,
    key_successor,
    prefix_successor,
    values_equal,
)


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


def _byte_cmp(a: bytes, b: bytes) -> int:
    return (a > b) - (a < b)


def _same(a: Any, b: Any) -> bool:
    # values_equal, plus: plain ints decode as floats, and NaN bits must survive.
    if isinstance(a, float) and isinstance(b, float):
        return float_bits(a) == float_bits(b)
    return values_equal(a, b)


def test_ascending_examples_encode_ascending() -> None:
    encoded = [encode_key_value(value) for value in ASCENDING]
    for i, j in itertools.combinations(range(len(encoded)), 2):
        assert encoded[i] < encoded[j], (ASCENDING[i], ASCENDING[j])


def test_known_encodings() -> None:
    assert encode_key_value(UNSET) == b"\x01"
    assert encode_key_value(None) == b"\x03"
    assert encode_key_value(Int64(0)) == b"\x08\x80" + bytes(7)
    assert encode_key_value(Int64(INT64_MIN)) == b"\x08" + bytes(8)
    assert encode_key_value(Int64(INT64_MAX)) == b"\x08" + b"\xff" * 8
    assert encode_key_value(0.0) == b"\x0d\x80" + bytes(7)
    assert encode_key_value(-0.0) == b"\x0d\x7f" + b"\xff" * 7
    assert encode_key_value(1) == encode_key_value(1.0)
    assert encode_key_value(False) == b"\x0e"
    assert encode_key_value(True) == b"\x0f"
    assert encode_key_value("") == b"\x10\x00\x01"
    assert encode_key_value("a\x00b") == b"\x10a\x00\xffb\x00\x01"
    assert encode_key_value(b"\x00") == b"\x11\x00\xff\x00\x01"
    assert encode_key_value([None, "a"]) == b"\x12\x03\x10a\x00\x01\x00"
    assert encode_key_value({"b": None, "a": True}) == b"\x15a\x00\x01\x0fb\x00\x01\x03\x00"
    assert encode_key_value({"a": UNSET}) == encode_key_value({})


def test_encode_key_concatenates() -> None:
    assert encode_key(["a", 1.0, UNSET]) == b"".join(encode_key_value(v) for v in ["a", 1.0, UNSET])
    assert encode_key([]) == b""


def test_tuples_compare_lexicographically() -> None:
    # A shorter array must not sort after a longer one that extends it.
    assert encode_key([["a"], "z"]) < encode_key([["a", None]])
    assert encode_key(["a"]) < encode_key(["a", UNSET]) < encode_key(["a", None])
    assert encode_key([{}, "z"]) < encode_key([{"a": None}])


@given(any_values, any_values)
def test_byte_order_is_value_order(a: Any, b: Any) -> None:
    ka, kb = encode_key_value(a), encode_key_value(b)
    assert _byte_cmp(ka, kb) == _sign(compare_values(a, b))


@given(small_values, small_values)
def test_byte_order_is_value_order_for_near_values(a: Any, b: Any) -> None:
    ka, kb = encode_key_value(a), encode_key_value(b)
    assert _byte_cmp(ka, kb) == _sign(compare_values(a, b))


# A bare 0x00 string terminator would make b"" (11 00) a prefix of b"\x00" (11 00 FF 00).
PREFIX_TRAPS: list[tuple[Any, Any]] = [
    (b"", b"\x00"),
    ("", "\x00"),
    ("a", "a\x00"),
    (b"\x00", b"\x00\x00"),
    ([b""], [b"\x00"]),
    ({"a": ""}, {"a": "\x00"}),
    ([], [None]),
    ({}, {"a": None}),
]


@pytest.mark.parametrize(("a", "b"), PREFIX_TRAPS)
def test_prefix_traps(a: Any, b: Any) -> None:
    ka, kb = encode_key_value(a), encode_key_value(b)
    assert ka < kb
    assert not kb.startswith(ka)
    successor = prefix_successor(encode_key([a]))
    assert successor is not None
    assert not encode_key([a]) <= encode_key([b]) < successor


@given(st.one_of(any_values, st.just(UNSET)), st.one_of(any_values, st.just(UNSET)))
def test_prefix_free(a: Any, b: Any) -> None:
    ka, kb = encode_key_value(a), encode_key_value(b)
    if ka != kb:
        assert not ka.startswith(kb)
        assert not kb.startswith(ka)
    else:
        assert values_equal(a, b)


@given(st.lists(small_values, max_size=3), st.lists(small_values, max_size=3))
def test_tuple_order(a: list[Any], b: list[Any]) -> None:
    expected = 0
    for x, y in zip(a, b, strict=False):
        expected = compare_values(x, y)
        if expected:
            break
    else:
        expected = (len(a) > len(b)) - (len(a) < len(b))
    assert _byte_cmp(encode_key(a), encode_key(b)) == expected


@given(st.lists(st.one_of(any_values, st.just(UNSET)), max_size=4))
def test_decode_round_trips(items: list[Any]) -> None:
    data = encode_key(items)
    decoded = decode_key(data)
    assert len(decoded) == len(items)
    for got, want in zip(decoded, items, strict=True):
        assert _same(got, want)
    assert encode_key(decoded) == data


@given(st.lists(small_values, min_size=1, max_size=6))
def test_sorting_by_key_sorts_by_value(items: list[Any]) -> None:
    by_key = sorted(items, key=encode_key_value)
    by_value = sorted(items, key=functools.cmp_to_key(compare_values))
    assert [encode_key_value(v) for v in by_key] == [encode_key_value(v) for v in by_value]


def test_decode_types() -> None:
    decoded = decode_key(encode_key([Int64(5), 5, True, None, b"x", "y", [1.0], {"k": "v"}]))
    assert [type(v) for v in decoded] == [Int64, float, bool, type(None), bytes, str, list, dict]


@pytest.mark.parametrize(
    "data",
    [
        b"\x00",  # terminator where a tag belongs
        b"\xff",
        b"\x02",
        b"\x08\x00",  # truncated int64
        b"\x0d" + bytes(7),  # truncated float64
        b"\x10abc",  # unterminated string
        b"\x10abc\x00",  # half a terminator
        b"\x10abc\x00\x02",  # neither escape nor terminator
        b"\x10\xff\x00\x01",  # not UTF-8
        b"\x11ab\x00\xff",  # escape without an end
        b"\x11ab\x00\xff\x00",
        b"\x11ab\x00\xff\x00\x03",
        b"\x12\x03",  # unterminated array
        b"\x12\x01\x00",  # missing inside an array
        b"\x15a\x00\x01",  # key without a value
        b"\x15a\x00\x01\x03",  # unterminated object
        b"\x15b\x00\x01\x03a\x00\x01\x03\x00",  # keys out of order
        b"\x15a\x00\x01\x03a\x00\x01\x03\x00",  # duplicate key
        b"\x15\x00\xffa\x00\x01\x03\x00",  # a key starting with NUL
        b"\x12" * 100 + b"\x00" * 100,  # beyond any nesting a value may have
    ],
)
def test_decode_rejects_malformed(data: bytes) -> None:
    with pytest.raises(InvalidValueError):
        decode_key(data)


@pytest.mark.parametrize(
    "value",
    [
        [UNSET],
        {"": 1.0},
        {"\x00a": 1.0},
        {1: 1.0},
        "\ud800",
        ["\udfff"],
        (1,),
        2**53 + 1,
        [2**60],
        object(),
    ],
)
def test_encode_rejects(value: Any) -> None:
    with pytest.raises(InvalidValueError):
        encode_key_value(value)
    with pytest.raises(InvalidValueError):
        encode_key(["ok", value])


def test_encode_accepts_subclasses() -> None:
    class Text(str):
        pass

    assert encode_key_value(Text("x")) == encode_key_value("x")
    assert encode_key([Text("x")]) == encode_key(["x"])


@pytest.mark.parametrize(
    ("prefix", "successor"),
    [
        (b"", None),
        (b"\xff", None),
        (b"\xff\xff", None),
        (b"a", b"b"),
        (b"a\xff", b"b"),
        (b"a\xff\xff", b"b"),
        (b"\x00", b"\x01"),
        (b"a\x00", b"a\x01"),
        (b"\x12\xfe", b"\x12\xff"),
    ],
)
def test_prefix_successor(prefix: bytes, successor: bytes | None) -> None:
    assert prefix_successor(prefix) == successor


@given(st.binary(max_size=4), st.binary(max_size=6))
def test_prefix_successor_bounds_exactly_the_prefixed_strings(prefix: bytes, other: bytes) -> None:
    successor = prefix_successor(prefix)
    upper_ok = successor is None or other < successor
    assert other.startswith(prefix) == (prefix <= other and upper_ok)


@given(st.binary(max_size=8), st.binary(max_size=8))
def test_key_successor_is_immediate(key: bytes, other: bytes) -> None:
    successor = key_successor(key)
    assert key < successor
    assert not key < other < successor


def test_index_range_with_prefix_successor() -> None:
    # Every key of the tuple (1.0, *) lies in [encode_key([1.0]), successor).
    low = encode_key([1.0])
    high = prefix_successor(low)
    assert high is not None
    for rest in ASCENDING:
        assert low <= encode_key([1.0, rest]) < high
    assert not low <= encode_key([2.0]) < high
    assert not low <= encode_key([Int64(1)]) < high
