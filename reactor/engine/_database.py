"""``ctx.db``: the reader queries and mutations get, and the writer mutations get."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from reactor.engine._query import PaginationState, Query
from reactor.errors import DocumentError, InvalidQueryError
from reactor.values import (
    MAX_DOCUMENT_SIZE,
    UNSET,
    check_document,
    decode_id,
    normalize,
)
from reactor.values._fast import normalize_checked

if TYPE_CHECKING:
    from reactor.engine._engine import Engine
    from reactor.engine._transaction import Transaction

__all__ = ["DatabaseReader", "DatabaseWriter", "SystemReader", "SystemWriter"]

_SYSTEM_FIELDS = ("_id", "_creationTime")
SYSTEM_FIELDS = frozenset(_SYSTEM_FIELDS)


class _BaseReader:
    def __init__(self, tx: Transaction, pagination: PaginationState) -> None:
        self._tx = tx
        self._pagination = pagination

    def _table_of(self, doc_id: Any, *, system: bool) -> str | None:
        if not isinstance(doc_id, str):
            raise DocumentError(f"Invalid argument `id`: expected an id string, got {doc_id!r}")
        number = decode_id(doc_id)
        if number is None:
            raise DocumentError(f"Invalid argument `id`: {doc_id!r} is not a valid document id")
        table = self._tx.catalog.names.get(number)
        if table is not None and table.startswith("_") != system:
            where = "ctx.db.system" if table.startswith("_") else "ctx.db"
            raise DocumentError(f"the id {doc_id} is of table {table}: read it through {where}")
        return table

    async def _get(self, args: tuple[Any, ...], *, system: bool) -> dict[str, Any] | None:
        if len(args) == 2:
            expected, doc_id = args
            table = self._table_of(doc_id, system=system)
            if table is not None and table != expected:
                raise DocumentError(f"the id {doc_id} belongs to table {table}, not {expected}")
        elif len(args) == 1:
            doc_id = args[0]
            table = self._table_of(doc_id, system=system)
        else:
            raise TypeError("get() takes an id, or a table name and an id")
        if table is None:
            return None
        return await self._tx.get(table, doc_id)

    def _normalize_id(self, table: str, value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        return value if self._tx.catalog.table_name_for_id(value) == table else None


class SystemReader(_BaseReader):
    """``ctx.db.system``: read-only access to ``_scheduled_functions`` and ``_storage``."""

    async def get(self, *args: Any) -> dict[str, Any] | None:
        return await self._get(args, system=True)

    def query(self, table: str) -> Query:
        if not isinstance(table, str) or not table.startswith("_"):
            raise InvalidQueryError(f"ctx.db.system.query reads system tables, not {table!r}")
        return Query(self._tx, table, self._pagination)

    def normalize_id(self, table: str, value: Any) -> str | None:
        if not table.startswith("_"):
            raise InvalidQueryError(
                f"ctx.db.system.normalize_id takes a system table, not {table!r}"
            )
        return self._normalize_id(table, value)


class DatabaseReader(_BaseReader):
    """``ctx.db`` in a query."""

    @cached_property
    def system(self) -> SystemReader:
        """``ctx.db.system``, made on first use."""
        return SystemReader(self._tx, self._pagination)

    async def get(self, *args: Any) -> dict[str, Any] | None:
        """``get(id)`` or ``get(table, id)``: the document, or None."""
        return await self._get(args, system=False)

    def query(self, table: str) -> Query:
        self._tx.catalog.check_user_table_name(table)
        return Query(self._tx, table, self._pagination)

    def normalize_id(self, table: str, value: Any) -> str | None:
        """``value`` if it is an id of ``table``, else None."""
        if table.startswith("_"):
            raise InvalidQueryError(
                f"normalize_id on system table {table}: use ctx.db.system.normalize_id"
            )
        return self._normalize_id(table, value)


class DatabaseWriter(DatabaseReader):
    """``ctx.db`` in a mutation: the reader plus insert, patch, replace and delete."""

    def __init__(self, tx: Transaction, pagination: PaginationState, engine: Engine) -> None:
        super().__init__(tx, pagination)
        self._engine = engine

    async def insert(self, table: str, value: dict[str, Any]) -> str:
        self._tx.catalog.check_user_table_name(table)
        schema = self._tx.catalog.schema
        if schema is not None and schema.strict_tables and table not in schema.tables:
            raise DocumentError(
                f"table {table!r} is not in the schema, and the schema is strict "
                "(define_schema(..., strict_tables=True))"
            )
        return await self._insert(table, value)

    async def _insert(self, table: str, value: dict[str, Any]) -> str:
        if not isinstance(value, dict):
            raise DocumentError(f"insert into {table} takes a dict, got {type(value).__name__}")
        for name in _SYSTEM_FIELDS:
            if name in value:
                raise DocumentError(f"insert into {table}: `{name}` is set by the system")
        await self._engine.ensure_table(table)
        # One walk normalizes and sizes the usual document (see normalize_checked).
        fast = normalize_checked(value)
        doc: dict[str, Any] = normalize(value) if fast is None else fast[0]  # without UNSET
        doc_id = self._tx.new_document_id(table)
        doc["_id"] = doc_id
        doc["_creationTime"] = self._tx.next_creation_time()
        if fast is None or not _passes_document_rules(doc, fast[1] + _system_fields_size(doc_id)):
            check_document(doc)  # the full check, which names what is wrong
        self._validate(table, doc)
        # An id drawn from the OS's entropy is new: no need to look it up. A seeded
        # id_rng (simulations, tests) may repeat ids across runs on one file.
        await self._tx.put(table, doc_id, doc, fresh=self._tx.id_rng is None)
        return doc_id

    async def _existing(self, doc_id: Any, operation: str) -> tuple[str, dict[str, Any]]:
        table = self._table_of(doc_id, system=False)
        current = await self._tx.get(table, doc_id) if table is not None else None
        if table is None or current is None:
            raise DocumentError(f"{operation} on nonexistent document ID {doc_id}")
        return table, current

    async def patch(self, doc_id: str, fields: dict[str, Any]) -> None:
        """Shallow-merge ``fields``; a field set to ``reactor.UNSET`` is removed."""
        if not isinstance(fields, dict):
            raise DocumentError(f"patch takes a dict of fields, got {type(fields).__name__}")
        table, current = await self._existing(doc_id, "Update")
        for name in _SYSTEM_FIELDS:
            if name in fields and fields[name] != current[name]:
                raise DocumentError(f"patch cannot change the system field `{name}`")
        updated = dict(current)
        for key, value in fields.items():
            if value is UNSET:
                updated.pop(key, None)
            else:
                updated[key] = normalize(value)
        self._check(table, updated)
        await self._tx.put(table, doc_id, updated)

    async def replace(self, doc_id: str, value: dict[str, Any]) -> None:
        """Replace every user field; ``_id`` and ``_creationTime`` stay."""
        if not isinstance(value, dict):
            raise DocumentError(f"replace takes a dict, got {type(value).__name__}")
        table, current = await self._existing(doc_id, "Replace")
        for name in _SYSTEM_FIELDS:
            if name in value and value[name] != current[name]:
                raise DocumentError(f"replace cannot change the system field `{name}`")
        doc = {k: v for k, v in normalize(value).items() if v is not UNSET}
        doc["_id"] = current["_id"]
        doc["_creationTime"] = current["_creationTime"]
        self._check(table, doc)
        await self._tx.put(table, doc_id, doc)

    async def delete(self, doc_id: str) -> None:
        table, _ = await self._existing(doc_id, "Delete")
        await self._tx.put(table, doc_id, None)

    def _check(self, table: str, doc: dict[str, Any]) -> None:
        check_document(doc)
        self._validate(table, doc)

    def _validate(self, table: str, doc: dict[str, Any]) -> None:
        """Against the table's validator in the schema, if there is one."""
        definition = self._tx.catalog.table_definition(table)
        if definition is not None and self._tx.catalog.schema.schema_validation:
            definition.validate_document(doc, self._tx.catalog)


def _system_fields_size(doc_id: str) -> int:
    """What ``_id`` and ``_creationTime`` add to a document's size (ids are ASCII)."""
    return len("_id") + 1 + 2 + len(doc_id) + len("_creationTime") + 1 + 9


def _passes_document_rules(doc: dict[str, Any], size: int) -> bool:
    """``check_document``'s own rules, for a document ``normalize_checked`` passed
    (``size`` its size, system fields included): no reserved field, not too large."""
    if size > MAX_DOCUMENT_SIZE:
        return False
    for key in doc:  # noqa: SIM110 - a plain loop is several times faster than all()
        if key[0] == "_" and key not in SYSTEM_FIELDS:
            return False
    return True


class SystemWriter(DatabaseWriter):
    """reactor's own writes to system tables (scheduler, sessions, storage)."""

    async def insert(self, table: str, value: dict[str, Any]) -> str:
        return await self._insert(table, value)

    def query(self, table: str) -> Query:
        return Query(self._tx, table, self._pagination)

    async def patch_system(self, doc_id: str, fields: dict[str, Any]) -> None:
        table = self._table_of(doc_id, system=True)
        current = await self._tx.get(table, doc_id) if table is not None else None
        if table is None or current is None:
            raise DocumentError(f"Update on nonexistent document ID {doc_id}")
        updated = dict(current)
        for key, value in fields.items():
            if value is UNSET:
                updated.pop(key, None)
            else:
                updated[key] = normalize(value)
        check_document(updated)
        await self._tx.put(table, doc_id, updated)

    async def delete_system(self, doc_id: str) -> None:
        table = self._table_of(doc_id, system=True)
        if table is None or await self._tx.get(table, doc_id) is None:
            raise DocumentError(f"Delete on nonexistent document ID {doc_id}")
        await self._tx.put(table, doc_id, None)

    def _table_of(self, doc_id: Any, *, system: bool) -> str | None:
        return super()._table_of(doc_id, system=True)
