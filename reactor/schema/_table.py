"""``define_table``: a table's document validator and its indexes (Q-07, LIM-02).

Index rules are checked by ``define_schema``, which knows the table's name,
so every error names both the table and the index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from reactor.errors import SchemaError, ValidationError
from reactor.schema._base import (
    ValidationContext,
    Validator,
    is_identifier,
    name_of,
    run_validator,
    show,
)
from reactor.schema._compound import ObjectValidator, UnionValidator
from reactor.schema._scalars import AnyValidator

SYSTEM_FIELDS = frozenset({"_id", "_creationTime"})
RESERVED_INDEX_NAMES = frozenset({"by_id", "by_creation_time"})
MAX_INDEXES = 32
MAX_INDEX_FIELDS = 15  # 16 counting the implicit _creationTime
MAX_SEARCH_INDEXES = 4
MAX_VECTOR_INDEXES = 4
MAX_FILTER_FIELDS = 16
VECTOR_DIMENSIONS = range(2, 4097)


@dataclass(frozen=True)
class SearchIndex:
    """A full-text index: stored now, served later (API.md marks it *(later)*)."""

    name: str
    search_field: str
    filter_fields: tuple[str, ...]
    staged: bool = False


@dataclass(frozen=True)
class VectorIndex:
    """A vector index: stored now, served later."""

    name: str
    vector_field: str
    dimensions: int
    filter_fields: tuple[str, ...]
    staged: bool = False


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
        self._indexes.append((name, _field_list(name, fields, "fields"), staged))
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
        filters = _field_list(name, filter_fields, "filter_fields")
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
        filters = _field_list(name, filter_fields, "filter_fields")
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
        if isinstance(validator, AnyValidator):
            if not isinstance(doc, dict):
                raise ValidationError(f"A document must be an object, got {show(doc)}")
            return
        if isinstance(doc, dict) and ("_id" in doc or "_creationTime" in doc):
            doc = {key: item for key, item in doc.items() if key not in SYSTEM_FIELDS}
        run_validator(validator, doc, ctx, "", ValidationError)

    def check_rules(self, table_name: str) -> None:
        """Enforce the index rules; ``define_schema`` calls this with the table's name."""
        prefix = f'Table "{table_name}"'
        names: set[str] = set()
        declared = [i[0] for i in self._indexes] + [i.name for i in self._search]
        for name in declared + [i.name for i in self._vector]:
            _check_index_name(prefix, name)
            if name in names:
                raise SchemaError(f'{prefix}: index "{name}" is defined more than once')
            names.add(name)
        if len(names) > MAX_INDEXES:
            raise SchemaError(f"{prefix}: {len(names)} indexes, at most {MAX_INDEXES} allowed")
        for kind, count, limit in (
            ("search", len(self._search), MAX_SEARCH_INDEXES),
            ("vector", len(self._vector), MAX_VECTOR_INDEXES),
        ):
            if count > limit:
                raise SchemaError(f"{prefix}: {count} {kind} indexes, at most {limit} allowed")
        seen_fields: dict[tuple[str, ...], str] = {}
        for name, fields, _staged in self._indexes:
            where = f'{prefix}, index "{name}"'
            if not 1 <= len(fields) <= MAX_INDEX_FIELDS:
                raise SchemaError(
                    f"{where}: an index needs 1 to {MAX_INDEX_FIELDS} fields "
                    f"(_creationTime is added implicitly), got {len(fields)}"
                )
            _check_fields(where, fields)
            if fields in seen_fields:
                raise SchemaError(
                    f'{where}: same fields as index "{seen_fields[fields]}" {show(list(fields))}'
                )
            seen_fields[fields] = name
        for search in self._search:
            where = f'{prefix}, search index "{search.name}"'
            _check_fields(where, (search.search_field, *search.filter_fields))
            _check_filter_count(where, search.filter_fields)
        for vector in self._vector:
            where = f'{prefix}, vector index "{vector.name}"'
            _check_fields(where, (vector.vector_field, *vector.filter_fields))
            _check_filter_count(where, vector.filter_fields)
            dims = vector.dimensions
            if isinstance(dims, bool) or not isinstance(dims, int) or dims not in VECTOR_DIMENSIONS:
                raise SchemaError(
                    f"{where}: dimensions must be an int from 2 to 4096, got {dims!r}"
                )

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


def _field_list(index: str, fields: object, what: str) -> tuple[str, ...]:
    # A bare string is a common slip (`.index("by_a", "a")`) that would
    # otherwise become one field per character.
    if isinstance(fields, str | bytes) or not isinstance(fields, Iterable):
        raise SchemaError(f'Index "{index}": {what} must be a list of field paths, got {fields!r}')
    return tuple(fields)


def _check_index_name(prefix: str, name: object) -> None:
    if not is_identifier(name) or not isinstance(name, str) or name.startswith("_"):
        raise SchemaError(
            f"{prefix}: index name {name_of(name)} is not valid: it must be an identifier "
            "([A-Za-z_][A-Za-z0-9_]*) of at most 64 characters not starting with '_'"
        )
    if name in RESERVED_INDEX_NAMES:
        raise SchemaError(f'{prefix}: index name "{name}" is reserved for a built-in index')


def _check_fields(where: str, fields: Sequence[object]) -> None:
    if len(set(fields)) != len(fields):
        raise SchemaError(f"{where}: duplicate fields in {show(list(fields))}")
    for path in fields:
        if path in SYSTEM_FIELDS:
            raise SchemaError(
                f"{where}: {path} cannot be an index field; every index ends with "
                "_creationTime and _id implicitly"
            )
        parts = path.split(".") if isinstance(path, str) else [None]
        if not all(is_identifier(part) for part in parts) or str(path).startswith("_"):
            raise SchemaError(
                f"{where}: field {name_of(path)} is not a valid field path: dot-separated "
                "identifiers, not starting with '_'"
            )


def _check_filter_count(where: str, filters: tuple[str, ...]) -> None:
    if len(filters) > MAX_FILTER_FIELDS:
        raise SchemaError(f"{where}: at most {MAX_FILTER_FIELDS} filter fields, got {len(filters)}")
