"""VAL-02 (strict objects) and VAL-03 (no coercion), as a table of cases."""

import math

import pytest

from reactor.errors import ValidationError
from reactor.schema import Validator, v
from reactor.values._int64 import UNSET, Int64

# (validator, value, passes)
STRICTNESS = [
    (v.number(), 1, True),
    (v.number(), 1.5, True),
    (v.number(), math.nan, True),
    (v.number(), -math.inf, True),
    (v.number(), -0.0, True),
    (v.number(), Int64(1), False),
    (v.number(), True, False),
    (v.number(), "1", False),
    (v.int64(), Int64(1), True),
    (v.int64(), 1, False),
    (v.int64(), 1.0, False),
    (v.literal(1), 1, True),
    (v.literal(1), 1.0, True),
    (v.literal(1), Int64(1), False),
    (v.literal(Int64(1)), 1, False),
    (v.literal(True), 1, False),
    (v.boolean(), 0, False),
    (v.string(), "k57abc", True),
    (v.string(), b"abc", False),
    (v.bytes(), "abc", False),
    (v.null(), UNSET, False),
    (v.array(v.any()), (1,), False),
    (v.object({}), [], False),
]


@pytest.mark.parametrize(("validator", "value", "passes"), STRICTNESS)
def test_no_coercion(validator: Validator, value: object, passes: bool) -> None:
    assert validator.matches(value) is passes


OBJECT = v.object({"a": v.string(), "b": v.optional(v.number())})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": "x"}, None),
        ({"a": "x", "b": 2}, None),
        ({"a": "x", "b": UNSET}, None),
        ({"a": "x", "zz": UNSET}, None),
        ({}, "Object is missing the required field `a`"),
        ({"a": UNSET}, "Object is missing the required field `a`"),
        ({"a": None}, "Value None does not match validator v.string()"),
        ({"a": "x", "b": None}, "Value None does not match validator v.number()"),
        ({"a": "x", "c": 1}, "Object contains extra field `c` that is not in the validator"),
        ({"b": 1, "c": 1}, "Object is missing the required field `a`"),
    ],
)
def test_strict_objects(value: dict[str, object], expected: str | None) -> None:
    if expected is None:
        OBJECT.validate(value)
        return
    with pytest.raises(ValidationError) as caught:
        OBJECT.validate(value)
    assert caught.value.detail.startswith(expected)


def test_missing_field_error_points_at_the_object() -> None:
    doc = v.object({"author": v.object({"name": v.string()})})
    with pytest.raises(ValidationError) as caught:
        doc.validate({"author": {}})
    assert caught.value.path == ".author"
    assert "Consider wrapping the field validator in `v.optional(...)`" in caught.value.detail


def test_extra_field_error_names_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        v.object({"a": v.number()}).validate({"a": 1, "sneaky": True}, path=".args")
    assert caught.value.path == ".args"
    assert "extra field `sneaky`" in str(caught.value)
