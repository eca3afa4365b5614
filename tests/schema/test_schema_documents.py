"""Document validation against the schema (T21) and dotted field paths."""

import pytest

from reactor.errors import ValidationError
from reactor.schema import define_schema, define_table, get_field_path, v
from reactor.values._int64 import UNSET

SCHEMA = define_schema(
    {
        "m": define_table({"body": v.string()}),
        "people": define_table({"name": v.string(), "boss": v.optional(v.id("people"))}),
        "anything": define_table(v.any()),
    }
)


def test_t21_documents_are_checked_on_write() -> None:
    SCHEMA.validate_document("m", {"body": "x"})
    with pytest.raises(ValidationError, match="extra field `extra`"):
        SCHEMA.validate_document("m", {"body": "x", "extra": 1})
    stored = {"_id": "m|1", "_creationTime": 1.5, "body": "x"}
    patched = {**stored, "body": 3}
    with pytest.raises(ValidationError) as caught:
        SCHEMA.validate_document("m", patched)
    assert caught.value.path == ".body"
    SCHEMA.validate_document("scratch", {"whatever": [1, 2], "fields": None})


def test_system_fields_are_ignored_but_other_underscore_fields_are_not() -> None:
    table = SCHEMA.tables["m"]
    table.validate_document({"_id": "m|1", "_creationTime": 1.0, "body": "x"})
    with pytest.raises(ValidationError, match="extra field `_secret`"):
        table.validate_document({"_id": "m|1", "body": "x", "_secret": 1})


def test_document_ids_are_checked_with_the_context() -> None:
    class Ids:
        def table_name_for_id(self, id: str) -> str | None:
            return id.partition("|")[0] or None

    table = SCHEMA.tables["people"]
    table.validate_document({"name": "a", "boss": "people|1"}, Ids())
    with pytest.raises(ValidationError) as caught:
        table.validate_document({"name": "a", "boss": "m|1"}, Ids())
    assert caught.value.path == ".boss"


def test_v_any_tables_take_any_object() -> None:
    SCHEMA.validate_document("anything", {"a": {"b": [1]}, "c": None})
    with pytest.raises(ValidationError):
        SCHEMA.tables["anything"].validate_document(["not", "an", "object"])  # type: ignore[arg-type]


def test_schema_validation_can_be_turned_off() -> None:
    relaxed = define_schema({"m": define_table({"body": v.string()})}, schema_validation=False)
    relaxed.validate_document("m", {"body": 3})


def test_get_field_path() -> None:
    doc = {"a": 1, "author": {"name": "ann", "tags": ["x"]}, "n": None, "gone": UNSET}
    assert get_field_path(doc, "a") == 1
    assert get_field_path(doc, "author.name") == "ann"
    assert get_field_path(doc, "author") == {"name": "ann", "tags": ["x"]}
    assert get_field_path(doc, "n") is None
    assert get_field_path(doc, "missing") is UNSET
    assert get_field_path(doc, "gone") is UNSET
    assert get_field_path(doc, "author.missing.deeper") is UNSET
    assert get_field_path(doc, "a.b") is UNSET
    assert get_field_path(doc, "n.b") is UNSET
    assert get_field_path(doc, "author.tags.0") is UNSET


def test_union_tables_ignore_system_fields_too() -> None:
    shapes = define_schema(
        {
            "shapes": define_table(
                v.union(
                    v.object({"kind": v.literal("circle"), "r": v.number()}),
                    v.object({"kind": v.literal("square"), "side": v.number()}),
                )
            )
        }
    ).tables["shapes"]
    shapes.validate_document({"_id": "s|1", "_creationTime": 2.0, "kind": "square", "side": 1})
    with pytest.raises(ValidationError, match=r"does not match validator v\.union"):
        shapes.validate_document({"_id": "s|1", "kind": "square", "r": 1})


def test_a_document_must_be_an_object() -> None:
    with pytest.raises(ValidationError, match=r"does not match validator v\.object"):
        SCHEMA.tables["m"].validate_document("body")  # type: ignore[arg-type]
