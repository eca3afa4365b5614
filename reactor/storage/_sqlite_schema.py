"""The SQLite store's tables, its schema version, and loading its metadata.

Tables are STRICT so that a value of the wrong type (a str key, a missing
document body) is refused by SQLite itself instead of being stored and then
compared wrongly: SQLite orders every TEXT before every BLOB.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import apsw
import orjson

from reactor.storage._contract import IndexMeta, IndexState, StoreMetadata
from reactor.storage._errors import StoreError, StoreVersionError

__all__ = ["SCHEMA_VERSION", "load_metadata", "prepare_schema"]

SCHEMA_VERSION = 1
"""Kept in ``PRAGMA user_version``; bump it (and migrate) when the tables change."""

_CREATE = f"""
CREATE TABLE documents (
    id TEXT NOT NULL PRIMARY KEY,
    tbl TEXT NOT NULL,
    value BLOB NOT NULL
) STRICT;
CREATE TABLE index_entries (
    idx TEXT NOT NULL,
    key BLOB NOT NULL,
    doc_id TEXT NOT NULL,
    PRIMARY KEY (idx, key)
) STRICT, WITHOUT ROWID;
CREATE TABLE tables (
    name TEXT NOT NULL PRIMARY KEY,
    number INTEGER NOT NULL UNIQUE
) STRICT;
CREATE TABLE indexes (
    name TEXT NOT NULL PRIMARY KEY,
    tbl TEXT NOT NULL,
    fields TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('backfilling', 'ready'))
) STRICT;
CREATE TABLE globals (
    key TEXT NOT NULL PRIMARY KEY,
    value ANY
) STRICT;
INSERT INTO globals (key, value) VALUES ('max_ts', 0);
PRAGMA user_version = {SCHEMA_VERSION};
"""


def prepare_schema(conn: apsw.Connection, path: Path) -> None:
    """Create the tables in a new file, or check that an existing one is ours and not newer.

    Runs before the file is switched to WAL, so a foreign database is refused
    untouched. Creation and ``user_version`` commit together (both are
    transactional), so a file with version 0 and any table is not a reactor store.
    """
    try:
        version = cast(int, conn.pragma("user_version"))
    except apsw.NotADBError:
        raise StoreError(f"{path} is not a SQLite database") from None
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"{path} has store schema version {version}, but this reactor only knows "
            f"versions up to {SCHEMA_VERSION}: upgrade reactor to open it"
        )
    if version == SCHEMA_VERSION:
        return
    (count,) = conn.execute("SELECT count(*) FROM sqlite_schema").fetchall()[0]
    if count:
        raise StoreError(f"{path} is a SQLite database but not a reactor store")


def create_schema_if_new(conn: apsw.Connection) -> None:
    """Create the tables (in one transaction) unless ``prepare_schema`` found them."""
    if cast(int, conn.pragma("user_version")) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_CREATE)
        conn.execute("COMMIT")
    except BaseException:
        if not conn.get_autocommit():
            conn.execute("ROLLBACK")
        raise


def load_metadata(conn: apsw.Connection) -> StoreMetadata:
    """Tables, indexes and max_ts, read in one transaction so they agree with each other."""
    conn.execute("BEGIN")
    try:
        tables = {
            cast(str, name): cast(int, number)
            for name, number in conn.execute("SELECT name, number FROM tables")
        }
        indexes: dict[str, IndexMeta] = {}
        for name, tbl, fields, state in conn.execute(
            "SELECT name, tbl, fields, state FROM indexes"
        ):
            indexes[cast(str, name)] = IndexMeta(
                name=cast(str, name),
                table=cast(str, tbl),
                fields=tuple(orjson.loads(cast(str, fields))),
                state=cast(IndexState, state),
            )
        max_ts = read_max_ts(conn)
    finally:
        conn.execute("COMMIT")
    return StoreMetadata(tables=tables, indexes=indexes, max_ts=max_ts)


def read_max_ts(conn: apsw.Connection) -> int:
    rows = conn.execute("SELECT value FROM globals WHERE key = 'max_ts'").fetchall()
    return cast(int, rows[0][0])
