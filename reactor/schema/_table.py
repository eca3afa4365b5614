"""``define_table``: a table's document validator and its indexes (Q-07, LIM-02).

Index rules are checked by ``define_schema``, which knows the table's name,
so every error names both the table and the index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from reactor.errors import SchemaError, ValidationError
from reactor.schema._base import (
    ValidationContext,
    Validator,
    _Mismatch,
    show,
)
from reactor.schema._compound import ObjectValidator, UnionValidator, check_document
from reactor.schema._indexes import (
    SYSTEM_FIELDS,
    SearchIndex,
    VectorIndex,
    check_index_rules,
    field_list,
)
from reactor.schema._scalars import AnyValidator


def _document_validator(spec: object) -> Validator:
    if isinstance(spec, Mapping):
        spec = ObjectValidator(spec)
    objects: Sequence[Validator]
    if isinstance(spec, ObjectValidator):
        objects = [spec]
    elif isinstance(spec, UnionValidator) and spec.members:
        objects = spec.members
    elif isinstance(spec, AnyValidator):
        return spec
    else:
        objects = []
    if not objects or not all(isinstance(m, ObjectValidator) for m in objects):
        raise SchemaError(
            "define_table() takes a dict of validators, a v.object, a v.union of v.object "
            f"or v.any(), got {show(spec)}"
        )
    for member in objects:
        assert isinstance(member, ObjectValidator)
        reserved = [name for name in member.fields if name.startswith("_")]
        if reserved:
            raise SchemaError(
                f"define_table(): top-level field {show(reserved[0])} is reserved: field names "
                "starting with '_' belong to the system (_id and _creationTime are added for you)"
            )
    assert isinstance(spec, Validator)
    return spec


class TableDefinition:
    """A table in a schema: its document validator and its indexes.

    ``.index``, ``.search_index`` and ``.vector_index`` return the table, so
    calls chain as in Convex.
    """

    def __init__(self, validator: Validator) -> None:
        self.validator: Validator = validator
        """The document validator, without the system fields."""
        self._indexes: list[tuple[str, tuple[str, ...], bool]] = []
        self._search: list[SearchIndex] = []
        self._vector: list[VectorIndex] = []

    def index(self, name: str, fields: Sequence[str] | Mapping[str, Any]) -> Self:
        """Add a database index: ``.index("by_a_b", ["a", "b"])``.

        Also ``.index(name, {"fields": [...], "staged": True})``: a staged index
        is stored but cannot be queried (Q-14).
        """
        staged = False
        if isinstance(fields, Mapping):
            unknown = set(fields) - {"fields", "staged"}
            if unknown or "fields" not in fields:
                raise SchemaError(
                    f'Index "{name}": expected {{"fields": [...], "staged": bool}}, '
                    f"got {show(dict(fields))}"
                )
            staged = bool(fields.get("staged", False))
            fields = fields["fields"]
        self._indexes.append((name, field_list(name, fields, "fields"), staged))
        return self

    def search_index(
        self,
        name: str,
        *,
        search_field: str,
        filter_fields: Iterable[str] = (),
        staged: bool = False,
    ) -> Self:
        """Add a full-text search index over ``search_field``."""
        filters = field_list(name, filter_fields, "filter_fields")
        self._search.append(SearchIndex(name, search_field, filters, staged))
        return self

    def vector_index(
        self,
        name: str,
        *,
        vector_field: str,
        dimensions: int,
        filter_fields: Iterable[str] = (),
        staged: bool = False,
    ) -> Self:
        """Add a vector index over ``vector_field`` (arrays of ``dimensions`` floats)."""
        filters = field_list(name, filter_fields, "filter_fields")
        self._vector.append(VectorIndex(name, vector_field, dimensions, filters, staged))
        return self

    @property
    def indexes(self) -> dict[str, tuple[str, ...]]:
        """User database indexes that can be queried: name -> field paths, in order.

        The implicit ``_creationTime``, ``_id`` suffix and the built-in
        ``by_id`` / ``by_creation_time`` indexes are not listed.
        """
        return {name: fields for name, fields, staged in self._indexes if not staged}

    @property
    def staged_indexes(self) -> dict[str, tuple[str, ...]]:
        return {name: fields for name, fields, staged in self._indexes if staged}

    @property
    def search_indexes(self) -> dict[str, SearchIndex]:
        return {index.name: index for index in self._search}

    @property
    def vector_indexes(self) -> dict[str, VectorIndex]:
        return {index.name: index for index in self._vector}

    def validate_document(self, doc: dict[str, Any], ctx: ValidationContext | None = None) -> None:
        """Raise ``ValidationError`` if a stored document breaks this table's validator.

        ``_id`` and ``_creationTime`` are ignored; any other top-level field
        the validator does not declare is an error.
        """
        validator = self.validator
        if isinstance(validator, ObjectValidator | UnionValidator):
            try:
                check_document(validator, doc, ctx, SYSTEM_FIELDS)
            except _Mismatch as mismatch:
                raise ValidationError(mismatch.message, mismatch.path()) from None
        elif not isinstance(doc, dict):
            raise ValidationError(f"A document must be an object, got {show(doc)}")

    def check_rules(self, table_name: str) -> None:
        """Enforce the index rules; ``define_schema`` calls this with the table's name."""
        check_index_rules(table_name, self._indexes, self._search, self._vector)

    def to_json(self, table_name: str) -> dict[str, Any]:
        """The table in Convex's schema JSON (``TableDefinitionJson``)."""

        def db(staged: bool) -> list[dict[str, Any]]:
            return [
                {"indexDescriptor": name, "fields": list(fields)}
                for name, fields, is_staged in self._indexes
                if is_staged is staged
            ]

        def search(staged: bool) -> list[dict[str, Any]]:
            return [
                {
                    "indexDescriptor": i.name,
                    "searchField": i.search_field,
                    "filterFields": list(i.filter_fields),
                }
                for i in self._search
                if i.staged is staged
            ]

        def vector(staged: bool) -> list[dict[str, Any]]:
            return [
                {
                    "indexDescriptor": i.name,
                    "vectorField": i.vector_field,
                    "dimensions": i.dimensions,
                    "filterFields": list(i.filter_fields),
                }
                for i in self._vector
                if i.staged is staged
            ]

        return {
            "tableName": table_name,
            "indexes": db(False),
            "stagedDbIndexes": db(True),
            "searchIndexes": search(False),
            "stagedSearchIndexes": search(True),
            "vectorIndexes": vector(False),
            "stagedVectorIndexes": vector(True),
            "documentType": self.validator.to_json(),
        }

    def __repr__(self) -> str:
        return f"define_table({self.validator!r})"


def define_table(fields_or_validator: Mapping[str, Validator] | Validator) -> TableDefinition:
    """A table whose documents match a dict of validators (a strict ``v.object``),
    a ``v.object``, a ``v.union`` of ``v.object``, or ``v.any()`` (any object)."""
    return TableDefinition(_document_validator(fields_or_validator))
