"""Helpers for the MongoDB store tests: stores on one database, checked commits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from reactor.engine._intervals import Interval, ReadSet
from reactor.storage import CheckedCommit, Commit, DocumentWrite, IndexWrite, MongoStore

IDX = "t.k"


@asynccontextmanager
async def stores(
    database: tuple[str, str], count: int = 2, **options: Any
) -> AsyncIterator[list[MongoStore]]:
    """``count`` open stores on one database: as many reactor "processes"."""
    opened: list[MongoStore] = []
    try:
        for _ in range(count):
            store = MongoStore(
                database[0], database=database[1], poll_interval=0.01, retry_deadline=5, **options
            )
            await store.open()
            opened.append(store)
        yield opened
    finally:
        for store in opened:
            await store.close()


def reads(*ranges: tuple[bytes, bytes | None], index: str = IDX) -> ReadSet:
    read_set = ReadSet()
    for start, end in ranges:
        read_set.record(index, Interval(start, end))
    return read_set


def checked(
    snapshot_ts: int,
    read_set: ReadSet,
    keys: list[bytes],
    *,
    value: bytes = b"v",
    index: str = IDX,
    built: list[int] | None = None,
) -> CheckedCommit:
    """Writes one document per key (id ``d<hex>``) and its entry in ``index``."""

    def build(ts: int) -> Commit:
        if built is not None:
            built.append(ts)
        return Commit(
            ts,
            tuple(DocumentWrite("t", f"d{k.hex()}", value) for k in keys),
            tuple(IndexWrite(index, k, f"d{k.hex()}") for k in keys),
        )

    return CheckedCommit(snapshot_ts, read_set, {index: sorted(keys)}, build)


async def snapshot_ts(store: MongoStore) -> int:
    async with await store.snapshot() as snap:
        return snap.ts


async def commit_records(store: MongoStore) -> list[dict[str, Any]]:
    """The raw commit records, in seq order (a test peeking at the layout)."""
    collection = store._collection("commits")
    return [doc async for doc in collection.find().sort("_id", 1)]


Clock = Callable[[], int]
