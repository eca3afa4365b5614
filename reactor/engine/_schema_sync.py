"""Bring the store in line with the app's schema, before it serves reads.

A schema that existing documents break is refused whole, naming some of the
offending ids, and nothing changes. A new index is backfilled while no other
commit can run, and only then serves reads; an index the schema no longer
declares is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reactor.errors import SchemaError, ValidationError
from reactor.storage import Commit, IndexMeta, IndexWrite
from reactor.values import decode_stored

if TYPE_CHECKING:
    from reactor.engine._engine import Engine

__all__ = ["sync_schema"]

_PAGE = 512
_SHOWN = 5


async def sync_schema(engine: Engine) -> None:
    catalog = engine.catalog
    schema = catalog.schema
    if schema is not None:
        for table in schema.tables:
            await engine.ensure_table(table)
    async with engine.committer.exclusive():
        if schema is not None and schema.schema_validation:
            await _validate_existing(engine)
        wanted = catalog.declared_indexes()
        current = {
            index.full_name: index
            for indexes in catalog.indexes.values()
            for index in indexes.values()
        }
        for name, index in current.items():
            stale = name in wanted and wanted[name].fields != index.fields
            if name not in wanted or stale:
                await engine.store.drop_index(name)
                catalog.drop_index(name)
        for name, meta in wanted.items():
            if name in catalog.ready and name in current and current[name].fields == meta.fields:
                continue
            backfilling = IndexMeta(name, meta.table, meta.fields, "backfilling")
            await engine.store.put_index(backfilling)
            catalog.set_index(backfilling)
            await _backfill(engine, meta)
            await engine.store.put_index(meta)
            catalog.set_index(meta)


async def _validate_existing(engine: Engine) -> None:
    catalog = engine.catalog
    problems: list[str] = []
    async with await engine.store.snapshot() as snapshot:
        for table, definition in catalog.schema.tables.items():
            bad: list[str] = []
            start = b""
            while True:
                entries = await snapshot.scan(f"{table}.by_creation_time", start, None, limit=_PAGE)
                for entry in entries:
                    try:
                        definition.validate_document(decode_stored(entry.value), catalog)
                    except ValidationError as exc:
                        if len(bad) < _SHOWN:
                            bad.append(f"{entry.doc_id} ({exc})")
                        else:
                            bad.append("")
                if len(entries) < _PAGE:
                    break
                start = entries[-1].key + b"\x00"
            if bad:
                shown = [b for b in bad if b]
                more = len(bad) - len(shown)
                problems.append(
                    f"table {table}: {len(bad)} document(s) do not match the new validator, "
                    f"e.g. {'; '.join(shown)}" + (f" and {more} more" if more else "")
                )
    if problems:
        raise SchemaError("Schema validation failed: " + " | ".join(problems))


async def _backfill(engine: Engine, meta: IndexMeta) -> None:
    index = engine.catalog.indexes[meta.table][meta.name.partition(".")[2]]
    async with await engine.store.snapshot() as snapshot:
        start = b""
        while True:
            entries = await snapshot.scan(
                f"{meta.table}.by_creation_time", start, None, limit=_PAGE
            )
            if entries:
                writes = tuple(
                    IndexWrite(meta.name, index.key_for(decode_stored(e.value)), e.doc_id)
                    for e in entries
                )
                await engine.store.write([Commit(engine.committer.allocate_ts(), (), writes)])
            if len(entries) < _PAGE:
                break
            start = entries[-1].key + b"\x00"
