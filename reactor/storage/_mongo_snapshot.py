"""Snapshots of the MongoDB store: a transaction used only for reading.

A transaction with ``readConcern: "snapshot"`` reads one majority-committed
point in time for its whole life, on a real replica set and on the jongodb
wire server alike (whose snapshot *sessions* are not point-in-time, so they
are not used). ``ts`` and ``seq`` are read from the sequencer as the first read,
inside that snapshot, so they describe exactly the state the snapshot sees.

How long a snapshot lives: MongoDB aborts a transaction after
``transactionLifetimeLimitSeconds`` (60 s by default); its snapshot history
(``minSnapshotHistoryWindowInSeconds``, 300 s) is therefore never the limit
here. The store refuses reads on a snapshot older than its
``snapshot_lifetime`` (default 55 s, under the server's limit so the failure is
ours and clear) with ``SnapshotExpiredError``; a server-side abort seen on a
read becomes the same error. Queries and mutations last far less; take a new
snapshot rather than keeping one.

A read cancelled half-way (its task cancelled: a client went away) leaves the
session's transaction in an unknown state on the server: ``close`` then
discards the session rather than return it to the driver's pool
(``_mongo_session``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from reactor.storage._contract import IndexEntry, IndexName, Snapshot, SnapshotExpiredError
from reactor.storage._errors import StoreError
from reactor.storage._mongo_layout import ENTRIES, docs_collection, key_str
from reactor.storage._mongo_session import end, interrupted

__all__ = ["MongoSnapshot"]

# NoSuchTransaction, SnapshotTooOld, SnapshotUnavailable,
# TransactionExceededLifetimeLimitSeconds: the server gave up on this snapshot.
_EXPIRED_CODES = frozenset({251, 239, 246, 290})

Collections = Callable[[str], AsyncCollection[dict[str, Any]]]


class MongoSnapshot(Snapshot):
    def __init__(
        self,
        session: AsyncClientSession,
        collection: Collections,
        *,
        lifetime: float,
        store_closed: Callable[[], bool],
    ) -> None:
        self.ts = 0
        self.seq = 0
        self._session: AsyncClientSession | None = session
        self._collection = collection
        self._expires = time.monotonic() + lifetime
        self._lifetime = lifetime
        self._store_closed = store_closed
        # A session runs one operation at a time; callers may not know that.
        self._lock = asyncio.Lock()
        self.lost = False
        """An operation on the session was interrupted: discard it on close."""

    @contextmanager
    def operation(self) -> Iterator[None]:
        """Around every command on the session: notes an interrupted one (``lost``)."""
        try:
            yield
        except BaseException as exc:
            if interrupted(exc):
                self.lost = True
            raise

    @property
    def session(self) -> AsyncClientSession:
        """The session whose transaction holds this snapshot (for the store's own reads)."""
        return self._live()

    def _live(self) -> AsyncClientSession:
        if self._session is None:
            raise StoreError("this snapshot is closed")
        if self._store_closed():
            raise StoreError("this snapshot's store is closed")
        if time.monotonic() > self._expires:
            raise SnapshotExpiredError(
                f"this snapshot (ts {self.ts}) is older than the MongoDB store's snapshot "
                f"lifetime of {self._lifetime:g} s; take a new snapshot"
            )
        return self._session

    async def get(self, doc_id: str) -> bytes | None:
        async with self._lock:
            session = self._live()
            try:
                with self.operation():
                    found = await self._collection(docs_collection(doc_id)).find_one(
                        {"_id": doc_id}, session=session
                    )
            except OperationFailure as exc:
                _raise_if_expired(exc)
                raise
        return None if found is None else bytes(found["v"])

    async def scan(
        self,
        index: IndexName,
        start: bytes,
        end: bytes | None,
        *,
        reverse: bool = False,
        limit: int = 256,
    ) -> list[IndexEntry]:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        async with self._lock:
            session = self._live()
            if limit == 0 or (end is not None and end <= start):
                return []
            bounds: dict[str, str] = {"$gte": key_str(start)}
            if end is not None:
                bounds["$lt"] = key_str(end)
            try:
                with self.operation():
                    rows = await (
                        self._collection(ENTRIES)
                        .find(
                            {"idx": index, "k": bounds}, {"_id": 0, "k": 1, "d": 1}, session=session
                        )
                        .sort("k", -1 if reverse else 1)
                        .limit(limit)
                        .to_list(None)
                    )
                    values = await self._values([row["d"] for row in rows], session)
            except OperationFailure as exc:
                _raise_if_expired(exc)
                raise
        entries: list[IndexEntry] = []
        for row in rows:
            value = values.get(row["d"])
            if value is None:
                # The engine writes an entry and its document in one commit, so a
                # dangling entry is a bug or damage: never skip it silently.
                raise StoreError(
                    f"index {index!r} has an entry for document {row['d']!r}, which does not exist"
                )
            entries.append(IndexEntry(bytes.fromhex(row["k"]), row["d"], value))
        return entries

    async def _values(self, doc_ids: list[str], session: AsyncClientSession) -> dict[str, bytes]:
        by_collection: dict[str, list[str]] = {}
        for doc_id in doc_ids:
            by_collection.setdefault(docs_collection(doc_id), []).append(doc_id)
        values: dict[str, bytes] = {}
        for name, ids in by_collection.items():
            cursor = self._collection(name).find({"_id": {"$in": ids}}, session=session)
            async for doc in cursor:
                values[doc["_id"]] = bytes(doc["v"])
        return values

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is None or self._store_closed():
            return  # closed already, or the store's client ended every session
        # Aborts the transaction (nothing to write; frees the snapshot), shielded:
        # a close cancelled half-way (a task cancelled again while its `finally`
        # closes the snapshot) would return the session to the driver's pool with
        # its transaction still open on the server, and a wire server that refuses
        # a new transaction on it (jongodb) then fails every later use of that
        # pooled session. A session whose read was interrupted is discarded.
        await end(session, lost=self.lost)


def _raise_if_expired(exc: OperationFailure) -> None:
    if exc.code in _EXPIRED_CODES:
        raise SnapshotExpiredError(f"MongoDB ended this snapshot's transaction: {exc}") from exc
