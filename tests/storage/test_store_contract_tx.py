"""Contract: snapshots, atomicity, metadata, restarts and closing (every store kind)."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import anyio
import pytest

from reactor.storage import (
    Commit,
    DocumentWrite,
    IndexEntry,
    IndexMeta,
    IndexWrite,
    Store,
    StoreError,
    StoreMetadata,
)

pytestmark = pytest.mark.anyio

IDX = "t.by_k"

StoreFactory = Callable[[], Store]


def put(ts: int, doc_id: str, value: bytes | None, key: bytes | None = None) -> Commit:
    """A commit writing one document and, if ``key``, its entry in IDX."""
    writes = () if key is None else (IndexWrite(IDX, key, doc_id if value is not None else None),)
    return Commit(ts=ts, documents=(DocumentWrite("t", doc_id, value),), index_writes=writes)


async def test_a_snapshot_keeps_its_view_while_others_commit(store: Store) -> None:
    await store.write([put(10, "a", b"old", b"ka"), put(11, "gone", b"x", b"kg")])
    before = await store.snapshot()
    try:
        await store.write(
            [put(20, "a", b"new", b"ka"), put(21, "b", b"B", b"kb"), put(22, "gone", None, b"kg")]
        )
        after = await store.snapshot()
        async with after:
            assert (before.ts, after.ts) == (11, 22)
            assert await before.get("a") == b"old"
            assert await before.get("b") is None
            assert await before.get("gone") == b"x"
            assert await before.scan(IDX, b"", None) == [
                IndexEntry(b"ka", "a", b"old"),
                IndexEntry(b"kg", "gone", b"x"),
            ]
            assert await after.get("a") == b"new"
            assert await after.get("gone") is None
            assert await after.scan(IDX, b"", None, reverse=True) == [
                IndexEntry(b"kb", "b", b"B"),
                IndexEntry(b"ka", "a", b"new"),
            ]
    finally:
        await before.close()


async def test_snapshot_ts_is_the_last_commit(store: Store) -> None:
    for ts in (5, 6, 1_700_000_000_000_000_000):
        await store.write([put(ts, "a", str(ts).encode())])
        async with await store.snapshot() as snap:
            assert snap.ts == ts
            assert await snap.get("a") == str(ts).encode()


async def test_a_batch_that_fails_midway_applies_nothing(store: Store) -> None:
    await store.write([put(1, "keep", b"K", b"kk")])
    bad_key = cast(bytes, "not bytes")  # a malformed write the store cannot persist
    batch = [
        put(2, "a", b"A", b"ka"),
        put(3, "keep", None, b"kk"),
        Commit(
            ts=4,
            documents=(DocumentWrite("t", "b", b"B"),),
            index_writes=(IndexWrite(IDX, bad_key, "b"),),
        ),
        put(5, "c", b"C", b"kc"),
    ]
    with pytest.raises(Exception) as failure:  # each store fails its own way
        await store.write(batch)
    assert not isinstance(failure.value, AssertionError)
    async with await store.snapshot() as snap:
        assert snap.ts == 1
        assert [await snap.get(d) for d in ("keep", "a", "b", "c")] == [b"K", None, None, None]
        assert await snap.scan(IDX, b"", None) == [IndexEntry(b"kk", "keep", b"K")]
    # The store still works, and the next batch is applied whole.
    await store.write(batch[:2] + batch[3:])
    async with await store.snapshot() as snap:
        assert snap.ts == 5
        assert [await snap.get(d) for d in ("keep", "a", "c")] == [None, b"A", b"C"]


async def test_timestamps_must_increase_within_a_batch(store: Store) -> None:
    with pytest.raises(ValueError, match="increase"):
        await store.write([put(2, "a", b"A"), put(2, "b", b"B")])
    with pytest.raises(ValueError, match="increase"):
        await store.write([put(3, "a", b"A"), put(2, "b", b"B")])
    async with await store.snapshot() as snap:
        assert snap.ts == 0
        assert await snap.get("a") is None


async def test_an_empty_batch_changes_nothing(store: Store) -> None:
    await store.write([put(7, "a", b"A")])
    await store.write([])
    async with await store.snapshot() as snap:
        assert snap.ts == 7


async def test_concurrent_writes_and_snapshots(store: Store) -> None:
    async def writer(i: int) -> None:
        await store.write([put(i + 1, f"d{i}", b"%d" % i, b"k%03d" % i)])

    async def reader() -> None:
        async with await store.snapshot() as snap:
            entries = await snap.scan(IDX, b"", None, limit=1000)
            for e in entries:  # whatever a snapshot sees, it sees consistently
                assert await snap.get(e.doc_id) == e.value

    async with anyio.create_task_group() as tg:
        for i in range(40):
            tg.start_soon(writer, i)
            tg.start_soon(reader)
    async with await store.snapshot() as snap:
        assert snap.ts == 40
        assert len(await snap.scan(IDX, b"", None, limit=1000)) == 40


async def test_many_snapshots_at_once(store: Store) -> None:
    await store.write([put(1, "a", b"A")])
    snaps = [await store.snapshot() for _ in range(40)]
    try:
        assert {await s.get("a") for s in snaps} == {b"A"}
    finally:
        for s in snaps:
            await s.close()
    async with await store.snapshot() as snap:
        assert await snap.get("a") == b"A"


async def test_a_closed_snapshot_refuses_reads(store: Store) -> None:
    snap = await store.snapshot()
    await snap.close()
    await snap.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await snap.get("a")
    with pytest.raises(StoreError, match="closed"):
        await snap.scan(IDX, b"", None)


async def test_create_table(store: Store, make_store: StoreFactory) -> None:
    await store.create_table("users", 10001)
    await store.create_table("users", 10001)  # idempotent
    await store.create_table("posts", 10002)
    with pytest.raises(StoreError, match="users"):
        await store.create_table("users", 10003)  # the name has another number
    with pytest.raises(StoreError, match="10002"):
        await store.create_table("comments", 10002)  # the number has another name
    await store.close()
    assert (await reopen(make_store)).tables == {"users": 10001, "posts": 10002}


async def test_indexes_metadata(store: Store, make_store: StoreFactory) -> None:
    a = IndexMeta("users.by_name", "users", ("name",), "backfilling")
    b = IndexMeta("users.by_age_name", "users", ("age", "name"), "ready")
    await store.put_index(a)
    await store.put_index(b)
    await store.put_index(IndexMeta(a.name, a.table, a.fields, "ready"))
    await store.drop_index("users.nope")  # dropping what does not exist is fine
    await store.close()
    meta = await reopen(make_store)
    assert meta.indexes == {
        a.name: IndexMeta(a.name, "users", ("name",), "ready"),
        b.name: b,
    }


async def test_drop_index_deletes_its_entries(store: Store, make_store: StoreFactory) -> None:
    await store.put_index(IndexMeta(IDX, "t", ("k",), "ready"))
    await store.put_index(IndexMeta("t.other", "t", ("k",), "ready"))
    await store.write(
        [
            Commit(
                ts=1,
                documents=(DocumentWrite("t", "a", b"A"),),
                index_writes=(
                    *(IndexWrite(IDX, b"k%d" % i, "a") for i in range(50)),
                    IndexWrite("t.other", b"k", "a"),
                ),
            )
        ]
    )
    await store.drop_index(IDX)
    async with await store.snapshot() as snap:
        assert await snap.scan(IDX, b"", None) == []
        assert await snap.scan("t.other", b"", None) == [IndexEntry(b"k", "a", b"A")]
        assert await snap.get("a") == b"A"  # documents are not the index's
    await store.close()
    assert set((await reopen(make_store)).indexes) == {"t.other"}


async def test_reserve_ts(store: Store, make_store: StoreFactory) -> None:
    await store.reserve_ts(100)
    await store.reserve_ts(50)  # never moves max_ts back
    async with await store.snapshot() as snap:
        assert snap.ts == 100
    await store.write([put(101, "a", b"A")])
    await store.reserve_ts(500)
    await store.close()
    assert (await reopen(make_store)).max_ts == 500


async def test_everything_survives_a_restart(make_store: StoreFactory) -> None:
    store = make_store()
    assert await store.open() == StoreMetadata(tables={}, indexes={}, max_ts=0)
    index = IndexMeta(IDX, "t", ("k",), "ready")
    try:
        await store.create_table("t", 10001)
        await store.put_index(index)
        await store.write([put(41, "a", b"A", b"ka"), put(42, "b", b"B", b"kb")])
        await store.write([put(43, "a", None, b"ka")])
    finally:
        await store.close()

    store = make_store()
    try:
        meta = await store.open()
        assert meta == StoreMetadata(tables={"t": 10001}, indexes={IDX: index}, max_ts=43)
        async with await store.snapshot() as snap:
            assert snap.ts == 43
            assert await snap.get("a") is None
            assert await snap.get("b") == b"B"
            assert await snap.scan(IDX, b"", None) == [IndexEntry(b"kb", "b", b"B")]
        await store.write([put(44, "c", b"C", b"kc")])  # and it keeps working
    finally:
        await store.close()


async def test_close(store: Store) -> None:
    await store.write([put(1, "a", b"A")])
    open_snapshot = await store.snapshot()
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await open_snapshot.get("a")
    await open_snapshot.close()  # still safe after the store closed it
    with pytest.raises(StoreError, match="closed"):
        await store.snapshot()
    with pytest.raises(StoreError, match="closed"):
        await store.write([put(2, "b", b"B")])
    with pytest.raises(StoreError, match="closed"):
        await store.create_table("t", 1)


async def reopen(make_store: StoreFactory) -> StoreMetadata:
    """Open the same location again (the old store must be closed) and return its metadata."""
    store = make_store()
    try:
        return await store.open()
    finally:
        await store.close()
