"""Validators (``v``), args/returns validation and the app schema.

Convex's ``convex/values`` validators and ``convex/server`` schema in Python
spelling (API.md "Schema", "Validators"; SEMANTICS.md VAL-01..VAL-11, Q-07).
"""

from reactor.schema._args import ArgsValidator, ReturnsValidator
from reactor.schema._base import ValidationContext, Validator
from reactor.schema._builder import pagination_opts_validator, v
from reactor.schema._compound import (
    ArrayValidator,
    ObjectValidator,
    OptionalValidator,
    UnionValidator,
)
from reactor.schema._indexes import SearchIndex, VectorIndex
from reactor.schema._models import zid
from reactor.schema._paths import get_field_path
from reactor.schema._record import RecordValidator
from reactor.schema._scalars import (
    AnyValidator,
    BooleanValidator,
    BytesValidator,
    Float64Validator,
    IdValidator,
    Int64Validator,
    LiteralValidator,
    NullValidator,
    StringValidator,
)
from reactor.schema._schema import Schema, define_schema
from reactor.schema._specs import args_validator_from, returns_validator_from
from reactor.schema._table import TableDefinition, define_table

__all__ = [
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
