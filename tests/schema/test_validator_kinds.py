"""Every v.* validator: what passes, what fails, and the error's message and path."""

import math

import pytest

from reactor.errors import SchemaError, ValidationError
from reactor.schema import Validator, v
from reactor.values._int64 import UNSET, Int64


def error_of(validator: Validator, value: object, path: str = "") -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validator.validate(value, path=path)
    return caught.value


def test_null() -> None:
    v.null().validate(None)
    err = error_of(v.null(), 0)
    assert err.detail == "Value 0 does not match validator v.null()"
    assert err.path == ""


@pytest.mark.parametrize("value", [0.0, 3, 3.0, -0.0, math.nan, math.inf, -math.inf, 2**60])
def test_number_accepts_floats_and_plain_ints(value: object) -> None:
    v.number().validate(value)
    v.float64().validate(value)


@pytest.mark.parametrize("value", [True, False, Int64(3), "3", None, 2**53 + 1, 10**400])
def test_number_rejects_bools_int64_and_inexact_ints(value: object) -> None:
    err = error_of(v.number(), value)
    assert err.detail.startswith("Value ")
    assert err.detail.endswith(" does not match validator v.number()")


def test_int64_accepts_only_int64() -> None:
    v.int64().validate(Int64(3))
    v.bigint().validate(Int64(-(2**63)))
    for value in (3, 3.0, True):
        assert error_of(v.int64(), value).detail == (
            f"Value {value!r} does not match validator v.int64()"
        )


def test_boolean_string_bytes() -> None:
    v.boolean().validate(False)
    v.string().validate("")
    v.bytes().validate(b"\x00")
    assert error_of(v.boolean(), 1).detail == "Value 1 does not match validator v.boolean()"
    assert error_of(v.string(), 3).detail == "Value 3 does not match validator v.string()"
    assert error_of(v.bytes(), "ab").detail == "Value 'ab' does not match validator v.bytes()"


def test_any_accepts_everything() -> None:
    for value in (None, 1, "x", [1, {"a": b""}], {"$weird": 1}):
        v.any().validate(value)


def test_literal_string_and_bool() -> None:
    v.literal("a").validate("a")
    v.literal(True).validate(True)
    assert error_of(v.literal("a"), "b").detail == (
        "Value 'b' does not match validator v.literal(\"a\")"
    )
    error_of(v.literal(True), 1)
    error_of(v.literal(False), 0)


def test_literal_numbers_keep_their_convex_type() -> None:
    v.literal(1).validate(1)
    v.literal(1).validate(1.0)
    v.literal(1.0).validate(1)
    error_of(v.literal(1), Int64(1))
    error_of(v.literal(1), True)
    v.literal(Int64(1)).validate(Int64(1))
    error_of(v.literal(Int64(1)), 1)
    error_of(v.literal(Int64(1)), 1.0)


def test_float_literals_compare_bit_for_bit() -> None:
    error_of(v.literal(0.0), -0.0)
    v.literal(-0.0).validate(-0.0)
    v.literal(math.nan).validate(math.nan)


@pytest.mark.parametrize("bad", [None, [1], {"a": 1}, b"x", 2**53 + 1])
def test_literal_refuses_non_literal_values(bad: object) -> None:
    with pytest.raises(SchemaError):
        v.literal(bad)  # type: ignore[arg-type]


def test_array_reports_the_element_index() -> None:
    validator = v.array(v.number())
    validator.validate([])
    validator.validate([1, 2.5])
    err = error_of(validator, [1, 2, "three"])
    assert err.path == "[2]"
    assert err.detail == "Value 'three' does not match validator v.number()"
    assert error_of(validator, (1, 2)).path == ""


def test_nested_paths_read_like_python_access() -> None:
    order = v.object({"items": v.array(v.object({"sku": v.string(), "qty": v.number()}))})
    order.validate({"items": [{"sku": "a", "qty": 1}]})
    err = error_of(order, {"items": [{"sku": "a", "qty": 1}] * 2 + [{"sku": "c", "qty": "2"}]})
    assert err.path == ".items[2].qty"
    assert str(err) == "Value '2' does not match validator v.number() (at .items[2].qty)"


def test_a_path_prefix_is_prepended() -> None:
    err = error_of(v.object({"a": v.string()}), {"a": 1}, path=".args")
    assert err.path == ".args.a"


def test_long_values_are_truncated_in_messages() -> None:
    err = error_of(v.string(), list(range(10_000)))
    assert len(err.detail) < 300
    assert "..." in err.detail


def test_unset_is_not_a_value() -> None:
    error_of(v.string(), UNSET)
    error_of(v.array(v.number()), [UNSET])


def test_matches_is_a_boolean_check() -> None:
    assert v.string().matches("x")
    assert not v.string().matches(1)


def test_optional_is_only_for_fields() -> None:
    with pytest.raises(SchemaError, match="object field"):
        v.array(v.optional(v.string()))
    with pytest.raises(SchemaError, match="object field"):
        v.union(v.optional(v.string()), v.null())
    with pytest.raises(SchemaError, match="validator"):
        v.array(None)  # type: ignore[arg-type]


def test_optional_rejects_none_but_accepts_absence() -> None:
    optional = v.optional(v.string())
    assert optional.is_optional
    assert not v.string().is_optional
    optional.validate("x")
    optional.validate(UNSET)
    assert error_of(optional, None).detail == "Value None does not match validator v.string()"
    assert v.optional(optional) == optional


def test_nullable_is_a_union_with_null() -> None:
    nullable = v.nullable(v.number())
    assert nullable == v.union(v.number(), v.null())
    nullable.validate(None)
    nullable.validate(1)
    assert repr(nullable) == "v.union(v.number(), v.null())"
    still_optional = v.nullable(v.optional(v.string()))
    assert still_optional.is_optional
    assert still_optional == v.optional(v.union(v.string(), v.null()))
