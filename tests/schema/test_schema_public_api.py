"""The public surface of reactor.schema, pinned so changes are deliberate."""

import reactor.schema as schema


def test_public_names_are_pinned() -> None:
    assert sorted(schema.__all__) == [
        "AnyValidator",
        "ArgsValidator",
        "ArrayValidator",
        "BooleanValidator",
        "BytesValidator",
        "Float64Validator",
        "IdValidator",
        "Int64Validator",
        "LiteralValidator",
        "NullValidator",
        "ObjectValidator",
        "OptionalValidator",
        "RecordValidator",
        "ReturnsValidator",
        "Schema",
        "SearchIndex",
        "StringValidator",
        "TableDefinition",
        "UnionValidator",
        "ValidationContext",
        "Validator",
        "VectorIndex",
        "args_validator_from",
        "define_schema",
        "define_table",
        "get_field_path",
        "pagination_opts_validator",
        "returns_validator_from",
        "v",
        "zid",
    ]


def test_every_public_name_exists() -> None:
    for name in schema.__all__:
        assert getattr(schema, name) is not None


def test_v_has_the_convex_builders() -> None:
    builders = {
        "id", "null", "number", "float64", "int64", "bigint", "boolean", "string", "bytes",
        "literal", "array", "object", "record", "union", "optional", "nullable", "any",
    }  # fmt: skip
    assert builders <= set(dir(schema.v))
