"""Convex wire JSON: PROTOCOL.md §9 and SEMANTICS.md TYPE-03."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given
from values_strategies import float_bits, float_from_bits, values

from reactor.errors import InvalidValueError
from reactor.values import (
    INT64_MAX,
    INT64_MIN,
    UNSET,
    Int64,
    b64_to_u64,
    convex_to_json,
    dumps,
    json_to_convex,
    loads,
    u64_to_b64,
    values_equal,
)

# The examples PROTOCOL.md §9 gives, as the official clients write them.
SPECIAL_ENCODINGS = [
    (float("nan"), {"$float": "AAAAAAAA+H8="}),
    (float("inf"), {"$float": "AAAAAAAA8H8="}),
    (float("-inf"), {"$float": "AAAAAAAA8P8="}),
    (-0.0, {"$float": "AAAAAAAAAIA="}),
    (Int64(1), {"$integer": "AQAAAAAAAAA="}),
    (Int64(-1), {"$integer": "//////////8="}),
    (Int64(0), {"$integer": "AAAAAAAAAAA="}),
    (Int64(INT64_MAX), {"$integer": "/////////38="}),
    (Int64(INT64_MIN), {"$integer": "AAAAAAAAAIA="}),
    (b"hi", {"$bytes": "aGk="}),
    (b"", {"$bytes": ""}),
]


@pytest.mark.parametrize(("value", "encoded"), SPECIAL_ENCODINGS)
def test_special_encodings(value: Any, encoded: Any) -> None:
    assert convex_to_json(value) == encoded
    decoded = json_to_convex(encoded)
    assert type(decoded) is type(value)
    assert values_equal(decoded, value)


def test_plain_values_pass_through() -> None:
    value = {"s": "x", "f": 1.5, "t": True, "n": None, "l": [0.0, "a"], "o": {}}
    assert convex_to_json(value) == value
    assert json_to_convex(value) == value


def test_plain_int_is_float64() -> None:
    assert convex_to_json(3) == 3.0
    assert type(convex_to_json(3)) is float
    assert dumps(3) == b"3.0"
    assert dumps([1, 2.0, True]) == b"[1.0,2.0,true]"
    with pytest.raises(InvalidValueError, match="2\\*\\*53"):
        convex_to_json({"a": [2**53 + 1]})


def test_int_boundaries_of_float64() -> None:
    assert convex_to_json(2**53) == float(2**53)
    assert convex_to_json(-(2**53)) == -float(2**53)


def test_bool_is_not_a_number() -> None:
    assert convex_to_json(True) is True
    assert json_to_convex(False) is False


def test_json_numbers_become_floats() -> None:
    decoded = json_to_convex({"a": 1, "b": [2, -0], "c": 12345678901234567890})
    assert decoded == {"a": 1.0, "b": [2.0, 0.0], "c": 1.2345678901234567e19}
    assert all(type(x) is float for x in (decoded["a"], *decoded["b"], decoded["c"]))
    assert type(loads(b"7")) is float


def test_keys_are_sorted() -> None:
    assert list(convex_to_json({"b": 1, "a": 2, "_id": "x"})) == ["_id", "a", "b"]
    assert dumps({"b": 1, "a": {"d": 1, "c": 2}}) == b'{"a":{"c":2.0,"d":1.0},"b":1.0}'


def test_unset_fields_are_dropped() -> None:
    assert convex_to_json({"a": UNSET, "b": 1.0}) == {"b": 1.0}
    assert dumps({"a": UNSET}) == b"{}"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1.0, UNSET], r"array element \(at \[1\]\)"),
        (UNSET, "cannot be encoded"),
        ({"a": {"b": (1, 2)}}, r"tuple .*\(at \.a\.b\)"),
        ({"a": [{1, 2}]}, r"set .*\(at \.a\[0\]\)"),
        ({"a": bytearray(b"x")}, "bytearray"),
        ({1: "x"}, "keys must be strings"),
        ({"$a": 1.0}, "reserved"),
        ({"": 1.0}, "empty"),
        ({"é": 1.0}, "printable ASCII"),
        ({"a\n": 1.0}, "printable ASCII"),
        ({"x" * 1025: 1.0}, "longer than 1024"),
        ({"a": {"b c": [object()]}}, r'object .*\(at \.a\["b c"\]\[0\]\)'),
    ],
)
def test_convex_to_json_rejects(value: Any, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        convex_to_json(value)


def test_nan_payloads_survive() -> None:
    for bits in (0x7FF8000000000001, 0xFFF8000000000000, 0x7FF0000000000001, 0xFFFFFFFFFFFFFFFF):
        value = float_from_bits(bits)
        decoded = loads(dumps(value))
        assert float_bits(decoded) == bits


def test_ordinary_float_sent_as_special_is_rejected() -> None:
    one = {"$float": "AAAAAAAA8D8="}  # 1.0
    with pytest.raises(InvalidValueError, match="must be sent as a number"):
        json_to_convex(one)
    with pytest.raises(InvalidValueError, match="must be sent as a number"):
        json_to_convex({"$float": "AAAAAAAAAAA="})  # +0.0


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"$integer": "AQ=="}, "8 bytes"),
        ({"$integer": "AQAAAAAAAAAA"}, "8 bytes"),
        ({"$float": "AAAAAAAA+H8"}, "base64"),
        ({"$bytes": "aGk"}, "base64"),
        ({"$bytes": "a Gk="}, "base64"),
        ({"$bytes": "aGk=\n"}, "base64"),
        ({"$bytes": "aG-_"}, "base64"),
        ({"$bytes": "AR=="}, "canonical"),
        ({"$bytes": "é==="}, "base64"),
        ({"$bytes": 5}, "must be a base64 string"),
        ({"$integer": None}, "must be a base64 string"),
        ({"$set": []}, "reserved"),
        ({"$foo": "x"}, "reserved"),
        ({"$commitTs": None}, "reserved"),
        ({"$a": 1, "b": 2}, "starts with '\\$'"),
        ({"a\x00": 1}, "printable ASCII"),
        ({"": 1}, "empty"),
        (object(), "not parsed JSON"),
        ((1, 2), "not parsed JSON"),
    ],
)
def test_json_to_convex_rejects(obj: Any, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        json_to_convex(obj)


def test_decode_errors_name_the_path() -> None:
    with pytest.raises(InvalidValueError, match=r"\(at \.items\[2\]\.when\)"):
        json_to_convex({"items": [1, 2, {"when": {"$integer": "xx"}}]})


def test_deep_json_fails_cleanly() -> None:
    deep: Any = 1
    for _ in range(500):
        deep = [deep]
    with pytest.raises(InvalidValueError, match="nested"):
        json_to_convex(deep)
    with pytest.raises(InvalidValueError, match="nested"):
        convex_to_json(deep)
    shallower: Any = 1
    for _ in range(200):  # orjson itself refuses to write beyond 254 levels
        shallower = [shallower]
    with pytest.raises(InvalidValueError, match="nested"):
        loads(orjson.dumps(shallower))


def test_cycles_fail_cleanly() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(InvalidValueError):
        convex_to_json(cycle)


def test_loads_rejects_bad_json() -> None:
    for text in (b"NaN", b"{", b"[1,]", b"Infinity", "\ud800"):
        with pytest.raises(InvalidValueError):
            loads(text)


def test_loads_accepts_str_and_bytes() -> None:
    assert loads('{"a": {"$integer": "AQAAAAAAAAA="}}') == {"a": Int64(1)}
    assert loads(b"null") is None


def test_dumps_rejects_lone_surrogates() -> None:
    with pytest.raises(InvalidValueError):
        dumps({"a": "\ud800"})


def test_dumps_is_compact_and_never_writes_nan_literals() -> None:
    out = dumps([float("nan"), float("inf"), -0.0, 1e300, 1e-7])
    assert b"NaN" not in out and b"null" not in out and b"Infinity" not in out
    assert orjson.loads(out)[3] == 1e300


@given(values)
def test_json_round_trip(value: Any) -> None:
    encoded = convex_to_json(value)
    assert values_equal(json_to_convex(encoded), value)
    text = dumps(value)
    assert values_equal(loads(text), value)
    # Every float in the output text is a JSON float, never an int.
    _assert_no_json_ints(orjson.loads(text))


def _assert_no_json_ints(obj: Any) -> None:
    assert type(obj) is not int
    if isinstance(obj, list):
        for item in obj:
            _assert_no_json_ints(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            _assert_no_json_ints(item)


@given(values)
def test_matches_the_official_python_client(value: Any) -> None:
    convex_values = pytest.importorskip("convex.values")
    assert convex_to_json(value) == _normalized_json(
        convex_values.convex_to_json(_to_client(value, convex_values.ConvexInt64))
    )


def _to_client(value: Any, int64_type: Any) -> Any:
    if isinstance(value, Int64):
        return int64_type(int(value))
    if isinstance(value, list):
        return [_to_client(item, int64_type) for item in value]
    if isinstance(value, dict):
        return {key: _to_client(item, int64_type) for key, item in value.items()}
    return value


def _normalized_json(obj: Any) -> Any:
    # The client leaves dict order alone and floats as they are; NaN != NaN breaks ==.
    if isinstance(obj, float) and math.isnan(obj):
        raise AssertionError("NaN must be a $float")
    if isinstance(obj, list):
        return [_normalized_json(item) for item in obj]
    if isinstance(obj, dict):
        return {key: _normalized_json(obj[key]) for key in sorted(obj)}
    return obj


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "AAAAAAAAAAA="),
        (1, "AQAAAAAAAAA="),
        (2**63 - 1, "/////////38="),
        (2**64 - 1, "//////////8="),
    ],
)
def test_u64_round_trip(n: int, text: str) -> None:
    assert u64_to_b64(n) == text
    assert b64_to_u64(text) == n


@pytest.mark.parametrize("n", [-1, 2**64, True, 1.0, "1"])
def test_u64_rejects_out_of_range(n: Any) -> None:
    with pytest.raises(InvalidValueError):
        u64_to_b64(n)


@pytest.mark.parametrize(
    "text", ["", "AQ==", "AAAAAAAAAAAAAAA=", "AAAAAAAAAAA", "AAAAAAAAAA*=", "AAAAAAAAAAB=", 5]
)
def test_b64_to_u64_rejects_bad_input(text: Any) -> None:
    with pytest.raises(InvalidValueError):
        b64_to_u64(text)
