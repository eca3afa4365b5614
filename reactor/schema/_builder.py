"""The ``v`` namespace, spelled as Convex's ``v`` from ``convex/values``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from reactor.schema._base import Validator
from reactor.schema._compound import (
    ArrayValidator,
    ObjectValidator,
    OptionalValidator,
    UnionValidator,
)
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
from reactor.values._int64 import Int64


class _V:
    """Validator builders. Each call returns a new, immutable validator."""

    __slots__ = ()

    def id(self, table_name: str) -> IdValidator:
        """An id of a document in ``table_name`` (the document need not exist)."""
        return IdValidator(table_name)

    def null(self) -> NullValidator:
        return NullValidator()

    def number(self) -> Float64Validator:
        """A float64: a ``float``, or a plain ``int`` that float64 holds exactly."""
        return Float64Validator("number")

    def float64(self) -> Float64Validator:
        return Float64Validator("float64")

    def int64(self) -> Int64Validator:
        """An ``Int64`` (a plain ``int`` is a float64 and does not match)."""
        return Int64Validator("int64")

    def bigint(self) -> Int64Validator:
        """Deprecated alias of ``v.int64()``, kept because Convex has it."""
        return Int64Validator("bigint")

    def boolean(self) -> BooleanValidator:
        return BooleanValidator()

    def string(self) -> StringValidator:
        return StringValidator()

    def bytes(self) -> BytesValidator:
        return BytesValidator()

    def literal(self, value: str | bool | float | Int64) -> LiteralValidator:
        return LiteralValidator(value)

    def array(self, element: Validator) -> ArrayValidator:
        return ArrayValidator(element)

    def object(self, fields: Mapping[str, Validator]) -> ObjectValidator:
        return ObjectValidator(fields)

    def record(self, keys: Validator, values: Validator) -> RecordValidator:
        return RecordValidator(keys, values)

    def union(self, *members: Validator) -> UnionValidator:
        return UnionValidator(*members)

    def optional(self, inner: Validator) -> OptionalValidator:
        """An object field that may be absent. ``None`` is a value, not absence."""
        return OptionalValidator(inner)

    def nullable(self, inner: Validator) -> Validator:
        """``v.union(inner, v.null())``; ``v.nullable(v.optional(x))`` stays optional."""
        if isinstance(inner, OptionalValidator):
            return OptionalValidator(UnionValidator(inner.inner, NullValidator()))
        return UnionValidator(inner, NullValidator())

    def any(self) -> AnyValidator:
        return AnyValidator()

    def __repr__(self) -> str:
        return "v"


v: Final = _V()

pagination_opts_validator: Final = ObjectValidator(
    {
        "numItems": v.number(),
        "cursor": v.union(v.string(), v.null()),
        "endCursor": v.optional(v.union(v.string(), v.null())),
        "id": v.optional(v.number()),
        "maximumRowsRead": v.optional(v.number()),
        "maximumBytesRead": v.optional(v.number()),
    }
)
"""What ``paginate`` takes, as the official clients' paginated queries send it (PG-01)."""
