"""Live queries of one engine while another engine commits to the same database.

Two engines in this process stand for two processes; their interleavings are
forced: another process commits between a commit notice and the snapshot the
live queries take for it (so that snapshot is ahead of the feed), and the
feed is held while commits are made and their records pruned (then the
resync's own snapshot may fail once). In each case the subscriber must end at
the state in the database, with no further commit to wake it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from cluster_helpers import APP, Database, check_state_invariant
from pymongo.errors import ConnectionFailure

from reactor.engine import Engine
from reactor.functions import load_app
from reactor.storage import FeedEntry, MongoStore, Snapshot
from reactor.sync import LiveQueries

pytestmark = pytest.mark.anyio


class HeldFeed:
    """Wraps a store's ``feed``: while ``held``, no further entry is taken from it."""

    def __init__(self, feed: Callable[[int], AsyncIterator[FeedEntry]]) -> None:
        self._feed = feed
        self._open = asyncio.Event()
        self._open.set()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def __call__(self, after_seq: int) -> AsyncIterator[FeedEntry]:
        feed = self._feed(after_seq)
        try:
            while True:
                await self._open.wait()
                try:
                    entry = await anext(feed)
                except StopAsyncIteration:
                    return
                yield entry
        finally:
            close = getattr(feed, "aclose", None)
            if close is not None:
                await close()


class Interleave:
    """Wraps a store's ``snapshot``: once armed, runs ``before`` ahead of the next one."""

    def __init__(self, snapshot: Callable[[], Any]) -> None:
        self._snapshot = snapshot
        self.before: Callable[[], Any] | None = None

    async def __call__(self) -> Snapshot:
        before, self.before = self.before, None
        if before is not None:
            await before()
        snapshot: Snapshot = await self._snapshot()
        return snapshot


@contextlib.asynccontextmanager
async def two_engines(database: Database) -> AsyncIterator[tuple[Engine, Engine, Any]]:
    """Engine A, engine B (its feed held-able, its snapshots interleavable), B's live
    queries watching ``ledger:state`` through one subscription."""
    b_store = database.store()
    feed, interleave = HeldFeed(b_store.feed), Interleave(b_store.snapshot)
    b_store.feed = feed  # type: ignore[method-assign]
    b_store.snapshot = interleave  # type: ignore[method-assign]
    a = Engine(load_app(APP), database.store(), run_scheduler=False)
    b = Engine(load_app(APP), b_store, run_scheduler=False)
    await a.start()
    try:
        await b.start()
        try:
            live = LiveQueries(b)
            await live.start()
            try:
                yield a, b, (live, feed, interleave)
            finally:
                await live.stop()
        finally:
            await b.stop()
    finally:
        await a.stop()


async def transfer(engine: Engine, token: str) -> int:
    result = await engine.run_mutation("ledger:transfer", {"pair": 0, "amount": 1, "token": token})
    assert result.error is None, result.error
    assert result.ts is not None
    return result.ts


async def watch_state(live: LiveQueries) -> tuple[Any, Callable[[int], Any]]:
    """Subscribe to ``ledger:state``; returns the subscription and ``until(ops)``."""
    changed = asyncio.Event()
    subscription = live.subscribe("ledger:state", {}, on_change=changed.set)

    async def until(ops: int) -> Any:
        value = None
        try:
            async with asyncio.timeout(10):
                while True:
                    result = subscription.result
                    value = None if result is None else result.outcome.value
                    if value is not None and value["ops"] == ops and len(value["accounts"]) == 2:
                        check_state_invariant(value)
                        return value
                    await changed.wait()
                    changed.clear()
        except TimeoutError:
            raise AssertionError(f"the subscriber is stuck at {value}, not {ops} ops") from None

    return subscription, until


@pytest.mark.parametrize(
    ("prune", "resync_fails"),
    [(False, False), (True, False), (True, True)],
    ids=["caught-up", "pruned", "pruned-resync-fails-once"],
)
async def test_a_snapshot_ahead_of_the_feed_serves_once_the_feed_catches_up(
    database: Database, prune: bool, resync_fails: bool
) -> None:
    async with two_engines(database) as (a, b, (live, feed, interleave)):
        assert (await a.run_mutation("ledger:setup", {"pairs": 1})).error is None
        subscription, until = await watch_state(live)
        await until(0)

        interleaved = asyncio.Event()

        async def another_process_commits() -> None:
            # Between B's commit notice and B's snapshot: the snapshot is ahead of
            # the notices. B's feed is then held before it can show this commit.
            await transfer(a, "between")
            feed.hold()
            interleaved.set()

        interleave.before = another_process_commits
        await transfer(a, "first")
        async with asyncio.timeout(10):
            await interleaved.wait()
        last = await transfer(a, "while-held")
        if prune:  # B now lies behind the retention window
            store = a.store
            assert isinstance(store, MongoStore)
            assert await store.prune_commits(last + 1) >= 2
        if resync_fails:  # the snapshot the resync takes fails once: it is tried again

            async def fail() -> None:
                raise ConnectionFailure("injected: the server is unreachable for a moment")

            interleave.before = fail
        feed.release()

        state = await until(3)  # with no further commit to wake it
        assert state["accounts"] == [[0, "L", -3, 3], [0, "R", 3, 3]]
        assert live.processed_ts >= last
        assert b.committer.resyncs == (1 if prune else 0)
        assert interleave.before is None
        live.unsubscribe(subscription)
