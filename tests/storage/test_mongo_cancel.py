"""Cancelled MongoDB operations never leave a reusable session behind
(RELIABILITY.md, finding 2).

A task is cancelled at the moment one of its commands starts (a command
listener cancels it: deterministic, the command is cut off on its way). PyMongo
would return that session to its pool, its transaction state unknown: on the
jongodb wire server a transaction left open there failed every later
transaction that drew the session ("transaction already in progress for this
session"). The store must discard it, so that later transactions succeed and
never run on that session again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from mongo_helpers import IDX, checked, reads, snapshot_ts, stores
from pymongo import monitoring

from reactor.storage import MongoStore

pytestmark = pytest.mark.anyio

Database = tuple[str, str]


class Canceller(monitoring.CommandListener):
    """Cancels ``task`` when its ``nth`` command (from 0, counted from ``arm``) starts;
    records the session (lsid) of every command. ``cut``: the command cut off, and
    its session if it ran in a transaction (commands outside one, such as the
    commit lock's, run on implicit sessions, which may well be reused)."""

    def __init__(self) -> None:
        self.task: asyncio.Task[Any] | None = None
        self.nth = 0
        self.seen: list[str] = []
        self.cut: tuple[str, Any] | None = None
        self.sessions: list[tuple[str, Any]] = []

    def arm(self, task: asyncio.Task[Any], nth: int) -> None:
        self.task, self.nth, self.seen, self.cut = task, nth, [], None

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        lsid = event.command.get("lsid")
        session = None if lsid is None else lsid["id"]
        self.sessions.append((event.command_name, session))
        if self.task is None:
            return
        self.seen.append(event.command_name)
        if len(self.seen) - 1 == self.nth:
            # The store aborts a transaction shielded from cancellation: the task is
            # cancelled, but that abort is not cut off, and the session is clean.
            cut_off = "autocommit" in event.command and event.command_name != "abortTransaction"
            self.cut = (event.command_name, session if cut_off else None)
            self.task.cancel()
            self.task = None

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@contextlib.asynccontextmanager
async def watched_store(database: Database, canceller: Canceller) -> AsyncIterator[MongoStore]:
    """A store whose every driver command ``canceller`` sees (and may cut off)."""
    async with stores(database, 1, client_options={"event_listeners": [canceller]}) as [store]:
        yield store


async def cancelled_at(
    canceller: Canceller, nth: int, work: Callable[[], Awaitable[Any]]
) -> tuple[str, Any] | None:
    """Run ``work`` and cancel it as its ``nth`` command starts: the command cut off
    (None if it finished with fewer commands)."""
    task = asyncio.ensure_future(work())
    canceller.arm(task, nth)
    try:
        await task
    except asyncio.CancelledError:
        assert canceller.cut is not None
        return canceller.cut
    canceller.task = None
    return None


_rounds = iter(range(1_000_000))


async def keeps_working(store: MongoStore, canceller: Canceller, cut: Any, rounds: int) -> None:
    """Snapshots, reads and checked writes all succeed, and none runs on the cut session."""
    canceller.sessions.clear()
    prefix = b"z%06d." % next(_rounds)
    for i in range(rounds):
        s = await snapshot_ts(store)
        [ts] = await store.write_checked([checked(s, reads(), [prefix + b"%03d" % i])])
        assert isinstance(ts, int)
        async with await store.snapshot() as snap:
            assert len(await snap.scan(IDX, prefix, prefix + b"\xff")) == i + 1
    if cut is not None:
        reused = [n for n, lsid in canceller.sessions if lsid == cut and n != "endSessions"]
        assert not reused, f"the cancelled transaction's session was used again by {reused}"


async def test_a_write_cancelled_at_any_command_leaves_no_broken_session(
    mongo_database: Database,
) -> None:
    canceller = Canceller()
    async with watched_store(mongo_database, canceller) as store:
        commands: list[str] = []
        for nth in range(64):
            s = await snapshot_ts(store)
            key = b"w%02d" % nth

            async def write(s: int = s, key: bytes = key) -> Any:
                return await store.write_checked([checked(s, reads(), [key])])

            cut = await cancelled_at(canceller, nth, write)
            if cut is None:
                break
            commands.append(cut[0])
            await keeps_working(store, canceller, cut[1], 2)
        # The cuts covered the whole transaction, its commit included.
        assert "commitTransaction" in commands and "find" in commands


async def test_a_cancelled_commit_is_the_case_that_broke_jongodb(
    mongo_database: Database,
) -> None:
    """The cut that used to fail later transactions: ``commitTransaction`` cut off on
    its way, so the server never hears of it while the driver believes it committed."""
    canceller = Canceller()
    uri, name = mongo_database
    # Count the commands of one write, to find the commit (on a database of its own).
    async with watched_store((uri, f"{name}_probe"), canceller) as probe_store:
        probe = asyncio.ensure_future(probe_store.write_checked([checked(0, reads(), [b"k"])]))
        canceller.arm(probe, 10_000)
        await probe
        canceller.task = None
        nth = canceller.seen.index("commitTransaction")
    async with watched_store(mongo_database, canceller) as store:
        s = await snapshot_ts(store)
        cut = await cancelled_at(
            canceller, nth, lambda: store.write_checked([checked(s, reads(), [b"k"])])
        )
        assert cut is not None and cut[0] == "commitTransaction" and cut[1] is not None
        await keeps_working(store, canceller, cut[1], 10)


async def test_a_read_cancelled_at_any_command_leaves_no_broken_session(
    mongo_database: Database,
) -> None:
    canceller = Canceller()
    async with watched_store(mongo_database, canceller) as store:
        s = await snapshot_ts(store)
        await store.write_checked([checked(s, reads(), [b"a", b"b"])])

        async def read() -> None:
            async with await store.snapshot() as snap:
                await snap.get("nothing")
                await snap.scan(IDX, b"", None)

        for nth in range(16):
            cut = await cancelled_at(canceller, nth, read)
            if cut is None:
                break
            await keeps_working(store, canceller, cut[1], 1)
            async with await store.snapshot() as snap:
                assert [e.key for e in await snap.scan(IDX, b"a", b"c")] == [b"a", b"b"]
