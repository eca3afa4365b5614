"""pick / omit / extend / partial on object validators (VAL-09)."""

import pytest

from reactor.errors import SchemaError
from reactor.schema import v

USER = v.object({"name": v.string(), "age": v.number(), "email": v.optional(v.string())})


def test_pick_keeps_the_named_fields() -> None:
    assert USER.pick("email", "name") == v.object(
        {"name": v.string(), "email": v.optional(v.string())}
    )
    assert list(USER.pick("email", "name").fields) == ["name", "email"]


def test_omit_drops_the_named_fields() -> None:
    assert USER.omit("age") == v.object({"name": v.string(), "email": v.optional(v.string())})


def test_pick_and_omit_refuse_unknown_fields() -> None:
    with pytest.raises(SchemaError, match="nope"):
        USER.pick("nope")
    with pytest.raises(SchemaError, match="nope"):
        USER.omit("nope")


def test_extend_adds_and_replaces_fields() -> None:
    extended = USER.extend({"age": v.int64(), "admin": v.boolean()})
    assert extended.fields["age"] == v.int64()
    assert list(extended.fields) == ["name", "age", "email", "admin"]
    assert USER.extend(v.object({"x": v.null()})).fields["x"] == v.null()


def test_partial_makes_every_field_optional() -> None:
    partial = USER.partial()
    partial.validate({})
    assert all(field.is_optional for field in partial.fields.values())
    assert partial.fields["email"] == v.optional(v.string())


def test_helpers_leave_the_original_alone() -> None:
    USER.partial()
    USER.extend({"x": v.null()})
    assert list(USER.fields) == ["name", "age", "email"]


def test_field_names_must_be_identifiers() -> None:
    with pytest.raises(SchemaError, match="identifier"):
        v.object({"user-name": v.string()})
    with pytest.raises(SchemaError, match="identifier"):
        v.object({"___": v.string()})
    with pytest.raises(SchemaError, match="validator"):
        v.object({"a": str})  # type: ignore[dict-item]
