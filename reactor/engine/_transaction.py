"""One transaction: a snapshot, the key ranges it read, and its buffered writes.

Reads see the snapshot with the transaction's own pending writes laid over
it, in index order. Every read records the byte interval it actually
consumed in the read set (a ``db.get`` records one point of ``by_id``), so
the committer can check it against later commits and live queries can be
invalidated precisely.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from reactor.engine._catalog import Catalog, IndexDef
from reactor.engine._intervals import Interval, ReadSet
from reactor.engine._limits import Usage
from reactor.storage import Commit, DocumentWrite, IndexWrite, Snapshot
from reactor.values import (
    decode_stored,
    encode_key_value,
    encode_stored,
    key_successor,
    new_id,
)

__all__ = ["PendingWrite", "Transaction"]

_PAGE = 128

_KeyPair = tuple[str, bytes | None, bytes | None]
"""An index's full name, and a write's old and new key in it (None: no such version)."""


class PendingWrite(NamedTuple):
    """A buffered write. A NamedTuple, not a frozen dataclass: one is made per
    write, and a frozen dataclass's ``__init__`` costs several times as much."""

    table: str
    original: bytes | None
    """The committed version at the snapshot (None for an insert)."""
    value: bytes | None
    """The new version (None for a delete)."""
    original_doc: dict[str, Any] | None
    doc: dict[str, Any] | None
    """Decoded forms of the two, kept to compute index keys without decoding again.
    Never handed to function code, which gets fresh copies."""


class Transaction:
    def __init__(
        self,
        snapshot: Snapshot,
        catalog: Catalog,
        usage: Usage,
        *,
        begin_ms: float,
        rng: random.Random | None = None,
        id_rng: random.Random | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.ts = snapshot.ts
        self.catalog = catalog
        self.usage = usage
        self.read_set = ReadSet()
        self.writes: dict[str, PendingWrite] = {}
        self._rng = rng
        self.id_rng = id_rng
        """Draws new document ids; None (the default) uses the OS's entropy."""
        self.begin_ms = float(int(begin_ms))
        self._creation_time = begin_ms
        self._bytes_written = 0
        """The size of every buffered version (``bytes_written``)."""
        self._index_writes: tuple[int, list[tuple[str, PendingWrite, list[_KeyPair]]]] | None = None
        """``_index_keys``'s answer, with the catalog version it was made at."""

    @property
    def rng(self) -> random.Random:
        """Seeds ``ctx.random``: the one given, else one seeded from the OS on first use."""
        if self._rng is None:
            self._rng = random.Random(int.from_bytes(os.urandom(8)))
        return self._rng

    # -- reads -----------------------------------------------------------------

    async def get(self, table: str, doc_id: str) -> dict[str, Any] | None:
        self.usage.range()
        self.read_set.record_point(f"{table}.by_id", encode_key_value(doc_id))
        raw = await self._current(doc_id)
        if raw is None:
            return None
        self.usage.read(len(raw))
        doc: dict[str, Any] = decode_stored(raw)
        return doc

    async def _current(self, doc_id: str) -> bytes | None:
        pending = self.writes.get(doc_id)
        if pending is not None:
            return pending.value
        return await self.snapshot.get(doc_id)

    async def scan(
        self, index: IndexDef, start: bytes, end: bytes | None, *, reverse: bool
    ) -> AsyncIterator[tuple[bytes, dict[str, Any]]]:
        """Yield ``(key, document)`` in index order, recording what is consumed.

        The consumed interval is recorded before each row is handed out, so a
        consumer that stops early has recorded exactly what it saw.
        """
        self.usage.range()
        name = index.full_name
        overlay_keys, overlay = self._overlay(index, start, end)
        if reverse:
            overlay_keys.reverse()
        position = 0
        cursor_start, cursor_end = start, end
        exhausted = False
        buffer: list[tuple[bytes, str, bytes]] = []
        while True:
            while not buffer and not exhausted:
                entries = await self.snapshot.scan(
                    name, cursor_start, cursor_end, reverse=reverse, limit=_PAGE
                )
                if len(entries) < _PAGE:
                    exhausted = True
                if entries:
                    last = entries[-1].key
                    if reverse:
                        cursor_end = last
                    else:
                        cursor_start = key_successor(last)
                buffer = [(e.key, e.doc_id, e.value) for e in entries if e.key not in overlay]
                buffer.reverse()  # pop() from the end in scan order
            if position < len(overlay_keys) and (
                not buffer
                or (
                    overlay_keys[position] > buffer[-1][0]
                    if reverse
                    else overlay_keys[position] < buffer[-1][0]
                )
            ):
                key = overlay_keys[position]
                position += 1
                raw = overlay[key]
                assert raw is not None
            elif buffer:
                key, _, raw = buffer.pop()
            else:
                self.read_set.record(name, Interval(start, end))
                return
            if reverse:
                self.read_set.record(name, Interval(key, end))
            else:
                self.read_set.record(name, Interval(start, key_successor(key)))
            self.usage.read(len(raw))
            yield key, decode_stored(raw)

    def _overlay(
        self, index: IndexDef, start: bytes, end: bytes | None
    ) -> tuple[list[bytes], dict[bytes, bytes | None]]:
        """This transaction's own writes in the range: key -> document (None: hidden)."""
        overlay: dict[bytes, bytes | None] = {}
        for pending in self.writes.values():
            if pending.table != index.table:
                continue
            if pending.original_doc is not None:
                overlay[index.key_for(pending.original_doc)] = None
            if pending.doc is not None:
                overlay[index.key_for(pending.doc)] = pending.value
        visible = sorted(
            k
            for k, v in overlay.items()
            if v is not None and k >= start and (end is None or k < end)
        )
        return visible, overlay

    # -- writes ----------------------------------------------------------------

    def next_creation_time(self) -> float:
        # Unique and rising within a transaction, as Convex does: the next double.
        value = self._creation_time
        self._creation_time = math.nextafter(value, math.inf)
        return value

    def new_document_id(self, table: str) -> str:
        return new_id(self.catalog.tables[table], self.id_rng)

    async def put(
        self, table: str, doc_id: str, doc: dict[str, Any] | None, *, fresh: bool = False
    ) -> None:
        """Buffer a new version (None deletes). The caller has validated ``doc``.

        ``fresh``: ``doc_id`` was just drawn from the OS's entropy (an insert), so
        no version of it exists yet and the snapshot need not be asked.
        """
        pending = self.writes.get(doc_id)
        if pending is not None:
            original, original_doc = pending.original, pending.original_doc
        elif fresh:
            original = original_doc = None
        else:
            original = await self.snapshot.get(doc_id)
            original_doc = None if original is None else decode_stored(original)
        value = None if doc is None else encode_stored(doc)
        self.writes[doc_id] = PendingWrite(table, original, value, original_doc, doc)
        self._index_writes = None
        # A running total: summing every write on each put is quadratic in a big mutation.
        replaced = pending.value if pending is not None else None
        self._bytes_written += (len(value) if value is not None else 0) - (
            len(replaced) if replaced is not None else 0
        )
        self.usage.check_writes(len(self.writes), self._bytes_written)

    def bytes_written(self) -> int:
        return self._bytes_written

    def savepoint(self) -> dict[str, PendingWrite]:
        return dict(self.writes)

    def rollback_to(self, savepoint: dict[str, PendingWrite]) -> None:
        self.writes = savepoint
        self._index_writes = None
        self._bytes_written = sum(len(w.value) for w in savepoint.values() if w.value is not None)

    # -- commit ----------------------------------------------------------------

    def _index_keys(self) -> list[tuple[str, PendingWrite, list[_KeyPair]]]:
        """Per write: its document id, the write, and per index its old and new key.

        Computed once for ``written_keys`` and ``to_commit`` both; made again if
        a write or the catalog's indexes changed since (see ``Catalog.version``).
        """
        cached = self._index_writes
        if cached is not None and cached[0] == self.catalog.version:
            return cached[1]
        rows: list[tuple[str, PendingWrite, list[_KeyPair]]] = []
        for doc_id, pending in self.writes.items():
            old, new = pending.original_doc, pending.doc
            # Both versions have this id: its encoding ends every key of both.
            id_key = encode_key_value(doc_id)
            pairs = [
                (
                    index.full_name,
                    index.key_with_id(old, id_key) if old is not None else None,
                    index.key_with_id(new, id_key) if new is not None else None,
                )
                for index in self.catalog.write_indexes(pending.table)
            ]
            rows.append((doc_id, pending, pairs))
        self._index_writes = (self.catalog.version, rows)
        return rows

    def written_keys(self) -> dict[str, list[bytes]]:
        """Per index, every key this transaction writes: old and new, changed or not."""
        keys: dict[str, list[bytes]] = {}
        for _, _, pairs in self._index_keys():
            for index_name, old_key, new_key in pairs:
                bucket = keys.get(index_name)
                if bucket is None:
                    bucket = keys[index_name] = []
                if old_key is not None:
                    bucket.append(old_key)
                if new_key is not None:
                    bucket.append(new_key)
        for bucket in keys.values():
            bucket.sort()
        return keys

    def to_commit(self, ts: int) -> Commit:
        documents: list[DocumentWrite] = []
        removals: list[IndexWrite] = []
        sets: list[IndexWrite] = []
        for doc_id, pending, pairs in self._index_keys():
            if pending.original is None and pending.value is None:
                continue  # inserted then deleted in this transaction
            documents.append(DocumentWrite(pending.table, doc_id, pending.value))
            for index_name, old_key, new_key in pairs:
                if old_key is not None and old_key != new_key:
                    removals.append(IndexWrite(index_name, old_key, None))
                if new_key is not None:
                    sets.append(IndexWrite(index_name, new_key, doc_id))
        return Commit(ts, tuple(documents), tuple(removals + sets))
