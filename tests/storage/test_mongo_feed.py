"""The MongoDB store's commit feed: every process's commits, dense, in seq order."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os

import pytest
from mongo_helpers import IDX, checked, reads, snapshot_ts, stores

from reactor.storage import FeedEntry, FeedGapError, MongoStore, StoreError

pytestmark = pytest.mark.anyio

Database = tuple[str, str]


async def take(
    store: MongoStore, after_seq: int, count: int, within: float = 10
) -> list[FeedEntry]:
    entries: list[FeedEntry] = []
    async with asyncio.timeout(within), contextlib.aclosing(store.feed(after_seq)) as feed:
        async for entry in feed:
            entries.append(entry)
            if len(entries) == count:
                break
    return entries


async def test_the_feed_delivers_both_processes_commits_in_order(mongo_database: Database) -> None:
    async with stores(mongo_database) as [a, b]:
        reader = asyncio.create_task(take(a, 0, 40))
        await asyncio.sleep(0.05)  # the reader is waiting while the commits come in

        async def commit(store: MongoStore, prefix: bytes) -> None:
            for i in range(10):
                s = await snapshot_ts(store)
                # Two requests per call: several reactor commits per MongoDB transaction.
                await store.write_checked(
                    [checked(s, reads(), [prefix + b"%02d" % i]), checked(s, reads(), [b"z"])]
                )

        await asyncio.gather(commit(a, b"a"), commit(b, b"b"))
        entries = await reader
        assert [e.seq for e in entries] == list(range(1, 41))
        assert all(x.ts < y.ts for x, y in itertools.pairwise(entries))
        written = [e.written[IDX][0] for e in entries if e.written[IDX] != [b"z"]]
        assert sorted(written) == sorted(
            [b"a%02d" % i for i in range(10)] + [b"b%02d" % i for i in range(10)]
        )
        # A second reader from anywhere in the middle sees the same tail.
        assert await take(b, 37, 3) == entries[37:]


async def test_a_snapshot_tells_where_to_follow_the_feed_from(mongo_database: Database) -> None:
    async with stores(mongo_database) as [a, b]:
        await b.write_checked([checked(0, reads(), [b"old"])])
        async with await a.snapshot() as snap:
            position, seen_ts = snap.seq, snap.ts
        [ts] = await b.write_checked([checked(seen_ts, reads(), [b"new"])])
        [entry] = await take(a, position, 1)
        assert (entry.seq, entry.ts, entry.written) == (position + 1, ts, {IDX: [b"new"]})


async def test_plain_writes_appear_in_the_feed(mongo_database: Database) -> None:
    async with stores(mongo_database, 1) as [store]:
        await store.write([checked(0, reads(), [b"b", b"a"]).build(7)])
        [entry] = await take(store, 0, 1)
        assert entry == FeedEntry(1, 7, {IDX: [b"a", b"b"]})


async def test_a_reader_behind_the_pruned_records_gets_a_gap_error(
    mongo_database: Database,
) -> None:
    async with stores(mongo_database) as [a, b]:
        for key in (b"a", b"b", b"c", b"d"):
            await a.write_checked([checked(0, reads(), [key])])
        head = await snapshot_ts(a)
        assert await b.prune_commits(head) == 3
        with pytest.raises(FeedGapError, match="pruned"):
            await take(a, 0, 1)
        with pytest.raises(FeedGapError):
            await take(a, 2, 1)
        assert [e.seq for e in await take(a, 3, 1)] == [4]  # not behind: unaffected
        # A reader at the head keeps following.
        waiting = asyncio.create_task(take(b, 4, 2))
        await asyncio.sleep(0.05)
        for key in (b"e", b"f"):
            assert isinstance((await a.write_checked([checked(head, reads(), [key])]))[0], int)
        assert [e.seq for e in await waiting] == [5, 6]


async def test_prune_expired_keeps_the_retention_window(mongo_database: Database) -> None:
    now = [1_000_000_000_000]
    async with stores(mongo_database, 1, clock=lambda: now[0], retention=60.0) as [store]:
        for step in range(4):  # commits 30 s apart
            now[0] += 30_000_000_000
            await store.write_checked([checked(0, reads(), [b"%d" % step])])
        assert await store.prune_expired() == 1  # only the first is over 60 s old
        assert [e.seq for e in await take(store, 1, 3)] == [2, 3, 4]


async def test_the_feed_refuses_a_position_ahead_of_the_store(mongo_database: Database) -> None:
    async with stores(mongo_database, 1) as [store]:
        with pytest.raises(StoreError, match="reset"):
            await take(store, 5, 1)


async def test_closing_the_store_ends_its_feeds(mongo_database: Database) -> None:
    async with stores(mongo_database, 1) as [store]:
        reader = asyncio.create_task(take(store, 0, 1))
        await asyncio.sleep(0.05)
        await store.close()
        with pytest.raises(StoreError, match="closed"):
            await reader


REAL_URI = os.environ.get("MONGODB_URI", "")


if REAL_URI:  # only a real replica set has change streams

    @pytest.mark.parametrize("mongo_lane", ["uri"], indirect=True)
    async def test_a_change_stream_wakes_the_feed(mongo_database: Database) -> None:
        """Only against a real replica set (MONGODB_URI): polling is made so slow that
        only the change stream can deliver the commit in time."""
        async with stores(mongo_database) as [a, b]:
            assert a._feed is not None
            a._feed.poll_interval = a._feed.stream_poll_interval = 30.0
            reader = asyncio.create_task(take(a, 0, 1, within=10))
            await asyncio.sleep(1.0)  # the stream is open and the first poll is done
            loop = asyncio.get_running_loop()
            started = loop.time()
            [ts] = await b.write_checked([checked(0, reads(), [b"k"])])
            [entry] = await reader
            assert entry.ts == ts
            assert loop.time() - started < 5.0
