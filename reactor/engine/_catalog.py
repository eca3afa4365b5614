"""Tables, their numbers, their indexes, and how a document becomes index keys.

Every table has the built-in indexes ``by_id`` (``[_id]``) and
``by_creation_time`` (``[_creationTime, _id]``); a user index on
``[f1..fn]`` is really ``[f1..fn, _creationTime, _id]``. Index names in read
sets, write logs and the store are full: ``"<table>.<index>"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from reactor.errors import InvalidQueryError, SchemaError
from reactor.schema import get_field_path
from reactor.storage import IndexMeta
from reactor.values import UNSET, decode_id, encode_key, encode_key_value

__all__ = [
    "FIRST_USER_TABLE_NUMBER",
    "SYSTEM_TABLES",
    "Catalog",
    "IndexDef",
]

FIRST_USER_TABLE_NUMBER: Final = 10001

SYSTEM_TABLES: Final[dict[str, int]] = {
    "_scheduled_functions": 1,
    "_storage": 2,
    "_session_requests": 3,
    "_environment_variables": 4,
    "_cron_jobs": 5,
    "_scheduled_job_leases": 6,
}

# Indexes that reactor itself keeps on system tables: table -> index -> fields.
SYSTEM_INDEXES: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    # reactor.scheduler: due jobs (the pending range, oldest first) and finished ones to delete.
    "_scheduled_functions": {
        "by_state": ("state.kind", "scheduledTime"),
        "by_completed_time": ("completedTime",),
    },
    "_session_requests": {"by_session_request": ("sessionId", "requestId")},
    "_environment_variables": {"by_name": ("name",)},
    "_cron_jobs": {"by_name": ("name",)},
    # reactor.scheduler: which worker runs an action (by job), and claims whose lease lapsed.
    "_scheduled_job_leases": {"by_key": ("key",), "by_expires_at": ("expiresAt",)},
}

BUILTIN_INDEXES: Final = ("by_id", "by_creation_time")


@dataclass(frozen=True, slots=True)
class IndexDef:
    table: str
    name: str
    fields: tuple[str, ...]
    """Declared fields, without the implicit ``_creationTime`` and ``_id``."""
    full_name: str = field(init=False, repr=False, compare=False)
    """``"<table>.<name>"``, made once: every read and write names the index."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "full_name", f"{self.table}.{self.name}")

    @property
    def key_fields(self) -> tuple[str, ...]:
        """Every field of the key, in order."""
        if self.name == "by_id":
            return ("_id",)
        return (*self.fields, "_creationTime", "_id")

    def key_for(self, doc: dict[str, Any]) -> bytes:
        return self.key_with_id(doc, encode_key_value(doc["_id"]))

    def key_with_id(self, doc: dict[str, Any], id_key: bytes) -> bytes:
        """``key_for``, given ``encode_key_value(doc["_id"])``: every key ends with
        it (a tuple's encoding is its values' concatenated), so the indexes of
        one document share one encoding of its id."""
        if self.name == "by_id":
            return id_key
        if not self.fields:  # by_creation_time
            return encode_key_value(doc["_creationTime"]) + id_key
        values: list[Any] = [_field(doc, f) for f in self.fields]
        values.append(doc["_creationTime"])
        return encode_key(values) + id_key


def _field(doc: dict[str, Any], path: str) -> Any:
    if "." not in path:
        return doc.get(path, UNSET)
    return get_field_path(doc, path)


@dataclass
class Catalog:
    """What the engine knows of tables and indexes; kept in step with the store."""

    tables: dict[str, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    indexes: dict[str, dict[str, IndexDef]] = field(default_factory=dict)
    """table -> index name -> definition, user and system indexes (ready or backfilling)."""
    ready: set[str] = field(default_factory=set)
    """Full names of the indexes that serve reads."""
    schema: Any = None
    _write_indexes: dict[str, tuple[IndexDef, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """``write_indexes`` per table, made once: every write asks. Cleared whenever
    an index comes or goes (``set_index``, ``drop_index``)."""
    version: int = field(default=0, init=False, compare=False)
    """Changes whenever an index comes or goes: what was computed from the
    indexes at an older version must be computed again."""

    def add_table(self, name: str, number: int) -> None:
        self.tables[name] = number
        self.names[number] = name

    def next_table_number(self) -> int:
        user = [n for n in self.names if n >= FIRST_USER_TABLE_NUMBER]
        return max(user, default=FIRST_USER_TABLE_NUMBER - 1) + 1

    def table_name_for_id(self, id: str) -> str | None:
        number = decode_id(id) if isinstance(id, str) else None
        return None if number is None else self.names.get(number)

    def table_definition(self, table: str) -> Any:
        if self.schema is None:
            return None
        return self.schema.tables.get(table)

    def builtin(self, table: str, name: str) -> IndexDef:
        return IndexDef(table, name, ())

    def write_indexes(self, table: str) -> tuple[IndexDef, ...]:
        """Every index a write to ``table`` must maintain."""
        indexes = self._write_indexes.get(table)
        if indexes is None:
            builtin = (self.builtin(table, "by_id"), self.builtin(table, "by_creation_time"))
            indexes = (*builtin, *self.indexes.get(table, {}).values())
            self._write_indexes[table] = indexes
        return indexes

    def read_index(self, table: str, name: str) -> IndexDef:
        if name in BUILTIN_INDEXES:
            return self.builtin(table, name)
        index = self.indexes.get(table, {}).get(name)
        if index is None or index.full_name not in self.ready:
            raise InvalidQueryError(f"Index `{table}.{name}` not found.")
        return index

    def set_index(self, meta: IndexMeta) -> None:
        table, _, name = meta.name.partition(".")
        self.indexes.setdefault(table, {})[name] = IndexDef(table, name, meta.fields)
        self._write_indexes.clear()
        self.version += 1
        if meta.state == "ready":
            self.ready.add(meta.name)
        else:
            self.ready.discard(meta.name)

    def drop_index(self, full_name: str) -> None:
        table, _, name = full_name.partition(".")
        self.indexes.get(table, {}).pop(name, None)
        self._write_indexes.clear()
        self.version += 1
        self.ready.discard(full_name)

    def declared_indexes(self) -> dict[str, IndexMeta]:
        """The indexes the schema and reactor's system tables ask for (state: ready)."""
        wanted: dict[str, IndexMeta] = {}
        for table, indexes in SYSTEM_INDEXES.items():
            for name, fields in indexes.items():
                wanted[f"{table}.{name}"] = IndexMeta(f"{table}.{name}", table, fields, "ready")
        if self.schema is not None:
            for table, definition in self.schema.tables.items():
                for name, fields in definition.indexes.items():
                    full = f"{table}.{name}"
                    wanted[full] = IndexMeta(full, table, tuple(fields), "ready")
        return wanted

    def check_user_table_name(self, table: str) -> None:
        if not isinstance(table, str) or not table:
            raise InvalidQueryError(f"table name must be a non-empty string, got {table!r}")
        if table.startswith("_"):
            raise InvalidQueryError(
                f"System tables (prefixed with `_`) are read-only: `{table}`; "
                "use ctx.db.system to read them"
            )
        if not table.isidentifier() or len(table) > 64:
            raise SchemaError(f"invalid table name {table!r}: use an identifier of <= 64 chars")
