"""v.record (VAL-06) and v.union (VAL-05)."""

import pytest

from reactor.errors import SchemaError, ValidationError
from reactor.schema import v
from reactor.values._int64 import UNSET


def test_record_checks_every_key_and_value() -> None:
    scores = v.record(v.string(), v.number())
    scores.validate({})
    scores.validate({"alice": 1, "bob-2": 2.5, "with space": 3})
    with pytest.raises(ValidationError) as caught:
        scores.validate({"alice": 1, "bob": "x"}, path=".scores")
    assert caught.value.path == ".scores.values()"
    assert caught.value.detail == "Value 'x' does not match validator v.number()"


@pytest.mark.parametrize("key", ["", "$where", "_hidden", "café", "tab\there", 7])
def test_record_keys_must_be_valid_field_names(key: object) -> None:
    with pytest.raises(ValidationError) as caught:
        v.record(v.string(), v.any()).validate({key: 1})
    assert caught.value.path == ".keys()"
    assert "is not a valid field name" in caught.value.detail


def test_record_keys_can_be_ids() -> None:
    class Ids:
        def table_name_for_id(self, id: str) -> str | None:
            return id.split("|")[0] if "|" in id else None

    by_user = v.record(v.id("users"), v.boolean())
    by_user.validate({"users|1": True}, Ids())
    with pytest.raises(ValidationError) as caught:
        by_user.validate({"teams|1": True}, Ids())
    assert caught.value.path == ".keys()"
    v.record(v.union(v.id("users"), v.string()), v.boolean()).validate({"x": False})


def test_record_entries_set_to_unset_are_absent() -> None:
    v.record(v.string(), v.number()).validate({"a": 1, "b": UNSET})


@pytest.mark.parametrize(
    "keys", [v.number(), v.any(), v.literal("a"), v.union(v.string(), v.null())]
)
def test_record_keys_must_be_string_like(keys: object) -> None:
    with pytest.raises(SchemaError, match="keys must be"):
        v.record(keys, v.any())  # type: ignore[arg-type]


def test_record_values_cannot_be_optional() -> None:
    with pytest.raises(SchemaError):
        v.record(v.string(), v.optional(v.number()))


def test_record_rejects_non_dicts() -> None:
    with pytest.raises(ValidationError):
        v.record(v.string(), v.any()).validate([("a", 1)])


def test_union_passes_if_any_member_passes() -> None:
    either = v.union(v.string(), v.object({"kind": v.literal("n"), "n": v.number()}))
    either.validate("x")
    either.validate({"kind": "n", "n": 1})


def test_union_failure_shows_the_whole_union() -> None:
    either = v.union(v.string(), v.number())
    with pytest.raises(ValidationError) as caught:
        v.object({"x": either}).validate({"x": None})
    assert caught.value.path == ".x"
    assert (
        caught.value.detail == "Value None does not match validator v.union(v.string(), v.number())"
    )


def test_union_of_objects_reports_at_the_union() -> None:
    shapes = v.union(
        v.object({"kind": v.literal("circle"), "r": v.number()}),
        v.object({"kind": v.literal("square"), "side": v.number()}),
    )
    with pytest.raises(ValidationError) as caught:
        v.array(shapes).validate([{"kind": "circle", "r": 1}, {"kind": "square", "r": 1}])
    assert caught.value.path == "[1]"
    assert caught.value.detail.startswith("Value {'kind': 'square', 'r': 1} does not match")


def test_one_member_union_behaves_like_its_member() -> None:
    single = v.union(v.object({"a": v.number()}))
    with pytest.raises(ValidationError) as caught:
        single.validate({"a": "x"})
    assert caught.value.path == ".a"
    assert caught.value.detail == "Value 'x' does not match validator v.number()"


def test_empty_union_matches_nothing() -> None:
    assert not v.union().matches(None)
