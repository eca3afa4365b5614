"""define_table / define_schema and the index rules (Q-07, LIM-02, TYPE-07)."""

from typing import Any

import pytest

from reactor.errors import SchemaError
from reactor.schema import (
    SearchIndex,
    TableDefinition,
    VectorIndex,
    define_schema,
    define_table,
    v,
)


def messages() -> TableDefinition:
    return define_table(
        {
            "channel": v.string(),
            "body": v.string(),
            "author": v.optional(v.string()),
            "likes": v.number(),
        }
    )


def test_the_api_md_example() -> None:
    schema = define_schema(
        {
            "messages": messages()
            .index("by_channel", ["channel"])
            .index("by_channel_likes", ["channel", "likes"])
            .search_index("search_body", search_field="body", filter_fields=["channel"])
            .vector_index(
                "by_embedding", vector_field="embedding", dimensions=8, filter_fields=["channel"]
            ),
            "events": define_table(v.any()),
        }
    )
    table = schema.tables["messages"]
    assert table.indexes == {"by_channel": ("channel",), "by_channel_likes": ("channel", "likes")}
    assert list(table.indexes) == ["by_channel", "by_channel_likes"]
    assert table.search_indexes == {"search_body": SearchIndex("search_body", "body", ("channel",))}
    assert table.vector_indexes == {
        "by_embedding": VectorIndex("by_embedding", "embedding", 8, ("channel",))
    }
    assert schema.tables["events"].validator == v.any()
    assert schema.schema_validation is True
    assert schema.strict_tables is False


def test_staged_indexes_are_kept_apart() -> None:
    table = messages().index("by_body", {"fields": ["body"], "staged": True})
    table.index("by_likes", {"fields": ["likes"]})
    define_schema({"messages": table})
    assert table.indexes == {"by_likes": ("likes",)}
    assert table.staged_indexes == {"by_body": ("body",)}


def test_dotted_paths_are_allowed() -> None:
    table = define_table({"author": v.object({"name": v.string()})}).index(
        "by_name", ["author.name"]
    )
    define_schema({"posts": table})
    assert table.indexes["by_name"] == ("author.name",)


def add(table: TableDefinition, count: int, kind: str = "db") -> TableDefinition:
    for i in range(count):
        if kind == "db":
            table.index(f"i{i}", [f"f{i}"])
        elif kind == "search":
            table.search_index(f"s{i}", search_field=f"s{i}")
        else:
            table.vector_index(f"v{i}", vector_field=f"v{i}", dimensions=4)
    return table


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda t: t.index("by-channel", ["channel"]), 'index name "by-channel"'),
        (lambda t: t.index("_private", ["channel"]), 'index name "_private"'),
        (lambda t: t.index("x" * 65, ["channel"]), "at most 64"),
        (lambda t: t.index("by_id", ["channel"]), 'index name "by_id" is reserved'),
        (lambda t: t.index("by_creation_time", ["body"]), "reserved"),
        (lambda t: t.index("a", ["channel"]).index("a", ["body"]), '"a" is defined more than once'),
        (lambda t: t.index("a", ["body"]).search_index("a", search_field="body"), "more than once"),
        (lambda t: t.index("a", []), "1 to 15 fields"),
        (lambda t: t.index("a", [f"f{i}" for i in range(16)]), "1 to 15 fields"),
        (lambda t: t.index("a", ["body", "body"]), "duplicate fields"),
        (lambda t: t.index("a", ["_creationTime"]), "implicitly"),
        (lambda t: t.index("a", ["_id"]), "implicitly"),
        (lambda t: t.index("a", ["_other"]), "not a valid field path"),
        (lambda t: t.index("a", ["author..name"]), "not a valid field path"),
        (lambda t: t.index("a", ["body"]).index("b", ["body"]), 'same fields as index "a"'),
        (lambda t: add(t, 33), "33 indexes, at most 32"),
        (lambda t: add(add(t, 29), 4, "search"), "33 indexes"),
        (lambda t: add(t, 5, "search"), "5 search indexes, at most 4"),
        (lambda t: add(t, 5, "vector"), "5 vector indexes, at most 4"),
        (lambda t: t.vector_index("e", vector_field="e", dimensions=1), "dimensions"),
        (lambda t: t.vector_index("e", vector_field="e", dimensions=4097), "dimensions"),
        (lambda t: t.vector_index("e", vector_field="e", dimensions=True), "dimensions"),
        (
            lambda t: t.search_index(
                "s", search_field="b", filter_fields=[f"f{i}" for i in range(17)]
            ),
            "at most 16 filter fields",
        ),
    ],
)
def test_index_rules_name_the_table_and_index(build: Any, message: str) -> None:
    with pytest.raises(SchemaError) as caught:
        define_schema({"messages": build(messages())})
    assert message in str(caught.value)
    assert 'Table "messages"' in str(caught.value)


def test_fifteen_fields_is_the_maximum() -> None:
    define_schema({"wide": define_table(v.any()).index("all", [f"f{i}" for i in range(15)])})
    define_schema({"many": add(define_table(v.any()), 32)})


def test_index_fields_must_be_a_list() -> None:
    with pytest.raises(SchemaError, match="must be a list"):
        messages().index("by_channel", "channel")
    with pytest.raises(SchemaError, match="staged"):
        messages().index("by_channel", {"fields": ["channel"], "unique": True})


@pytest.mark.parametrize("name", ["_users", "user-data", "", "9lives", "x" * 65])
def test_table_names_are_identifiers_not_starting_with_underscore(name: str) -> None:
    with pytest.raises(SchemaError, match="Table name"):
        define_schema({name: define_table(v.any())})


def test_schema_values_must_be_table_definitions() -> None:
    with pytest.raises(SchemaError, match="define_table"):
        define_schema({"t": {"a": v.string()}})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "spec",
    [v.string(), v.union(v.object({}), v.string()), v.union(), v.record(v.string(), v.any()), 3],
)
def test_define_table_needs_objects(spec: Any) -> None:
    with pytest.raises(SchemaError, match="define_table"):
        define_table(spec)


def test_top_level_underscore_fields_are_reserved() -> None:
    with pytest.raises(SchemaError, match="reserved"):
        define_table({"_id": v.string()})
    define_table({"nested": v.object({"_fine": v.string()})})


def test_define_table_accepts_a_union_of_objects() -> None:
    shapes = v.union(
        v.object({"kind": v.literal("circle"), "r": v.number()}),
        v.object({"kind": v.literal("square"), "side": v.number()}),
    )
    assert define_table(shapes).validator == shapes


def test_doc_adds_system_fields_to_each_union_member() -> None:
    schema = define_schema(
        {
            "users": define_table({"name": v.string()}),
            "shapes": define_table(
                v.union(v.object({"r": v.number()}), v.object({"side": v.number()}))
            ),
            "blobs": define_table(v.any()),
        }
    )
    assert schema.doc("users") == v.object(
        {"name": v.string(), "_id": v.id("users"), "_creationTime": v.number()}
    )
    assert schema.doc("shapes") == v.union(
        v.object({"r": v.number(), "_id": v.id("shapes"), "_creationTime": v.number()}),
        v.object({"side": v.number(), "_id": v.id("shapes"), "_creationTime": v.number()}),
    )
    assert schema.doc("blobs") == v.any()
    assert schema.id("users") == v.id("users")
    with pytest.raises(SchemaError, match="not in the schema"):
        schema.id("nope")
    with pytest.raises(SchemaError, match="not in the schema"):
        schema.doc("nope")


def test_schema_json_for_tooling() -> None:
    schema = define_schema(
        {
            "messages": messages()
            .index("by_channel", ["channel"])
            .index("by_body", {"fields": ["body"], "staged": True})
            .search_index("search_body", search_field="body", filter_fields=["channel"])
            .vector_index("by_embedding", vector_field="embedding", dimensions=8),
        },
        schema_validation=False,
    )
    assert schema.to_json() == {
        "tables": [
            {
                "tableName": "messages",
                "indexes": [{"indexDescriptor": "by_channel", "fields": ["channel"]}],
                "stagedDbIndexes": [{"indexDescriptor": "by_body", "fields": ["body"]}],
                "searchIndexes": [
                    {
                        "indexDescriptor": "search_body",
                        "searchField": "body",
                        "filterFields": ["channel"],
                    }
                ],
                "stagedSearchIndexes": [],
                "vectorIndexes": [
                    {
                        "indexDescriptor": "by_embedding",
                        "vectorField": "embedding",
                        "dimensions": 8,
                        "filterFields": [],
                    }
                ],
                "stagedVectorIndexes": [],
                "documentType": messages().validator.to_json(),
            }
        ],
        "schemaValidation": False,
    }
