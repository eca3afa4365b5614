"""Index definitions and the rules they must follow (Q-07, LIM-02, TYPE-07)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reactor.errors import SchemaError
from reactor.schema._base import is_identifier, name_of, show

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


def check_index_rules(
    table_name: str,
    indexes: Sequence[tuple[str, tuple[str, ...], bool]],
    search_indexes: Sequence[SearchIndex],
    vector_indexes: Sequence[VectorIndex],
) -> None:
    """Q-07 and LIM-02; every error names the table and the index."""
    prefix = f'Table "{table_name}"'
    names: set[str] = set()
    declared = [i[0] for i in indexes] + [i.name for i in search_indexes]
    for name in declared + [i.name for i in vector_indexes]:
        _check_index_name(prefix, name)
        if name in names:
            raise SchemaError(f'{prefix}: index "{name}" is defined more than once')
        names.add(name)
    if len(names) > MAX_INDEXES:
        raise SchemaError(f"{prefix}: {len(names)} indexes, at most {MAX_INDEXES} allowed")
    for kind, count, limit in (
        ("search", len(search_indexes), MAX_SEARCH_INDEXES),
        ("vector", len(vector_indexes), MAX_VECTOR_INDEXES),
    ):
        if count > limit:
            raise SchemaError(f"{prefix}: {count} {kind} indexes, at most {limit} allowed")
    seen_fields: dict[tuple[str, ...], str] = {}
    for name, fields, _staged in indexes:
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
    for search in search_indexes:
        where = f'{prefix}, search index "{search.name}"'
        _check_fields(where, (search.search_field, *search.filter_fields))
        _check_filter_count(where, search.filter_fields)
    for vector in vector_indexes:
        where = f'{prefix}, vector index "{vector.name}"'
        _check_fields(where, (vector.vector_field, *vector.filter_fields))
        _check_filter_count(where, vector.filter_fields)
        dims = vector.dimensions
        if isinstance(dims, bool) or not isinstance(dims, int) or dims not in VECTOR_DIMENSIONS:
            raise SchemaError(f"{where}: dimensions must be an int from 2 to 4096, got {dims!r}")


def field_list(index: str, fields: object, what: str) -> tuple[str, ...]:
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
