"""Validator JSON (VAL-10), repr and equality."""

import math

from reactor.schema import pagination_opts_validator, v
from reactor.values._int64 import Int64


def test_leaf_json() -> None:
    assert v.id("users").to_json() == {"type": "id", "tableName": "users"}
    assert v.null().to_json() == {"type": "null"}
    assert v.number().to_json() == {"type": "number"}
    assert v.float64().to_json() == {"type": "number"}
    assert v.int64().to_json() == {"type": "bigint"}
    assert v.bigint().to_json() == {"type": "bigint"}
    assert v.boolean().to_json() == {"type": "boolean"}
    assert v.string().to_json() == {"type": "string"}
    assert v.bytes().to_json() == {"type": "bytes"}
    assert v.any().to_json() == {"type": "any"}


def test_literal_json_uses_convex_value_encoding() -> None:
    assert v.literal("a").to_json() == {"type": "literal", "value": "a"}
    assert v.literal(True).to_json() == {"type": "literal", "value": True}
    assert v.literal(1.0).to_json() == {"type": "literal", "value": 1}
    assert v.literal(1.5).to_json() == {"type": "literal", "value": 1.5}
    assert v.literal(Int64(1)).to_json() == {
        "type": "literal",
        "value": {"$integer": "AQAAAAAAAAA="},
    }
    assert v.literal(math.inf).to_json() == {
        "type": "literal",
        "value": {"$float": "AAAAAAAA8H8="},
    }


def test_compound_json() -> None:
    validator = v.object(
        {
            "tags": v.array(v.string()),
            "note": v.optional(v.union(v.string(), v.null())),
            "scores": v.record(v.id("users"), v.number()),
        }
    )
    assert validator.to_json() == {
        "type": "object",
        "value": {
            "tags": {
                "fieldType": {"type": "array", "value": {"type": "string"}},
                "optional": False,
            },
            "note": {
                "fieldType": {"type": "union", "value": [{"type": "string"}, {"type": "null"}]},
                "optional": True,
            },
            "scores": {
                "fieldType": {
                    "type": "record",
                    "keys": {"type": "id", "tableName": "users"},
                    "values": {"fieldType": {"type": "number"}, "optional": False},
                },
                "optional": False,
            },
        },
    }


def test_optional_json_is_its_inner_json() -> None:
    assert v.optional(v.string()).to_json() == {"type": "string"}


def test_repr_reads_like_the_builder_call() -> None:
    assert repr(v.string()) == "v.string()"
    assert repr(v.float64()) == "v.float64()"
    assert repr(v.id("users")) == 'v.id("users")'
    assert repr(v.literal(Int64(2))) == "v.literal(Int64(2))"
    assert repr(v.literal(2)) == "v.literal(2)"
    assert repr(v.record(v.string(), v.any())) == "v.record(v.string(), v.any())"
    assert repr(v.object({"a": v.optional(v.array(v.null()))})) == (
        'v.object({"a": v.optional(v.array(v.null()))})'
    )


def test_validators_compare_by_meaning() -> None:
    assert v.number() == v.float64()
    assert v.int64() == v.bigint()
    assert v.literal(1) == v.literal(1.0)
    assert v.literal(1) != v.literal(Int64(1))
    assert v.string() != v.optional(v.string())
    assert v.object({"a": v.string()}) == v.object({"a": v.string()})
    assert len({v.number(), v.float64(), v.string()}) == 2


def test_pagination_opts_validator_matches_the_official_clients() -> None:
    fields = pagination_opts_validator.to_json()["value"]
    assert {name: field["optional"] for name, field in fields.items()} == {
        "numItems": False,
        "cursor": False,
        "endCursor": True,
        "id": True,
        "maximumRowsRead": True,
        "maximumBytesRead": True,
    }
    pagination_opts_validator.validate({"numItems": 10, "cursor": None})
    pagination_opts_validator.validate(
        {"numItems": 5.0, "cursor": "c", "endCursor": None, "id": 3, "maximumRowsRead": 100}
    )
    assert not pagination_opts_validator.matches({"numItems": 10})
    assert not pagination_opts_validator.matches({"numItems": 10, "cursor": None, "x": 1})
