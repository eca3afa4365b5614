"""Hypothesis strategies over Convex values, shared by the tests in this folder."""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import strategies as st

from reactor.values import INT64_MAX, INT64_MIN, UNSET, Int64

_PRINTABLE_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))


def float_from_bits(bits: int) -> float:
    number: float = struct.unpack("<d", struct.pack("<Q", bits))[0]
    return number


def float_bits(number: float) -> int:
    bits: int = struct.unpack("<Q", struct.pack("<d", number))[0]
    return bits


SPECIAL_FLOATS = [
    0.0,
    -0.0,
    float("inf"),
    float("-inf"),
    float("nan"),
    float_from_bits(0xFFF8000000000000),  # negative quiet NaN
    float_from_bits(0x7FF0000000000001),  # signalling NaN
    float_from_bits(0x7FFFFFFFFFFFFFFF),  # largest positive NaN payload
    float_from_bits(0xFFFFFFFFFFFFFFFF),  # smallest negative NaN
    5e-324,
    -5e-324,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    1.0,
    -1.0,
]

floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(0, 2**64 - 1).map(float_from_bits),
    st.sampled_from(SPECIAL_FLOATS),
)
int64s = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from([INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX]),
).map(Int64)
# Plain ints are float64; only those a float holds exactly are values.
plain_ints = st.integers(-(2**53), 2**53)
strings = st.text()
byte_strings = st.binary()
field_names = st.text(alphabet=_PRINTABLE_ASCII, min_size=1, max_size=8).filter(
    lambda key: not key.startswith("$")
)

scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), floats, int64s, plain_ints, strings, byte_strings
)


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(field_names, children, max_size=5),
    )


values: st.SearchStrategy[Any] = st.recursive(scalars, _extend, max_leaves=20)
"""Any Convex value (valid keys, no limits exceeded)."""

# Few distinct leaves and keys, so that generated pairs often share prefixes,
# tie, or differ only deep inside: the cases an encoding gets wrong.
_small_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0.0, -0.0, 1.0, float("nan"), float("-inf")]),
    st.sampled_from([Int64(-1), Int64(0), Int64(1), Int64(INT64_MIN), Int64(INT64_MAX)]),
    st.text(alphabet="a\x00\xff\U0001f600", max_size=3),
    st.binary(max_size=3).map(lambda b: bytes((0x00, 0x01, 0xFF)[x % 3] for x in b)),
)
_small_keys = st.sampled_from(["a", "aa", "b", " ", "~", "a b"])
small_values: st.SearchStrategy[Any] = st.recursive(
    _small_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(_small_keys, children, max_size=3),
    ),
    max_leaves=8,
)

any_values = st.one_of(values, small_values)


# Strictly ascending, one or more per type, across every type boundary.
ASCENDING: list[Any] = [
    UNSET,
    None,
    Int64(INT64_MIN),
    Int64(-1),
    Int64(0),
    Int64(10),
    Int64(INT64_MAX),
    float_from_bits(0xFFFFFFFFFFFFFFFF),  # the lowest negative NaN
    float("-nan"),
    float("-inf"),
    -1.7976931348623157e308,
    -1.0,
    -5e-324,
    -0.0,
    0.0,
    5e-324,
    0.5,
    1.0,
    2.0**53,
    float("inf"),
    float("nan"),
    float_from_bits(0x7FFFFFFFFFFFFFFF),  # the highest positive NaN
    False,
    True,
    "",
    "\x00",
    "A",
    "a",
    "ab",
    "\uffff",
    "\U0001f600",  # above U+FFFF in UTF-8 (not in UTF-16, where it is a surrogate pair)
    b"",
    b"\x00",
    b"\x00\x00",
    b"\x01",
    b"\xff",
    [],
    [None],
    [None, None],
    [Int64(1)],
    [1.0],
    [1.0, "a"],
    [2.0],
    [[]],
    {},
    {"a": None},
    {"a": 1.0},
    {"a": 1.0, "b": None},
    {"a": 2.0},
    {"aa": None},
    {"b": None},
]
