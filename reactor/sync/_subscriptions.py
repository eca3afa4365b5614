"""Live queries shared by every client, kept valid at one timestamp: ``processed_ts``.

A live query is keyed by (path, canonical args, pagination journal, identity)
and shared by every subscriber asking for it; once a run shows the query did
not read ``ctx.auth``, the identity drops out of its key and one result serves
every user. Its read set is registered in a ``SubscriptionIndex``.

How consistency across queries is guaranteed (ARCHITECTURE.md decision 5):

* The committer awaits ``_on_commit`` after each durable batch, before it writes
  the next one, so the snapshot taken there holds exactly the commits notified
  so far. Stores read the latest state only, so this is the one moment a
  snapshot at a batch boundary can be had.
* The refresher stabs the index with every key written in
  ``(processed_ts, target.ts]``, re-runs each hit query once on that one
  snapshot, then swaps all new results in at once and sets ``processed_ts =
  target.ts``. A query not hit is unchanged through ``target.ts``. So at any
  moment every result held is valid at ``processed_ts``, and a Transition built
  from them at ``processed_ts`` shows one consistent snapshot.
* A new live query runs on the current snapshot (at ``processed_ts`` when it
  starts). Before its result is published it is checked against every commit
  logged after that snapshot; if one touched its read set it runs again. Once
  published it is in the index, so later commits find it.
* Updates for batches that arrive while a refresh runs collapse: only the
  newest snapshot is kept, and the next refresh covers all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

import orjson

from reactor.engine import CommitNotice, Engine, FunctionResult, ReadSet, SubscriptionIndex
from reactor.errors import ReactorError
from reactor.functions import function_path
from reactor.sync._query_result import QueryResult, query_result
from reactor.sync._snapshots import NoticeLog, SharedSnapshot
from reactor.values import convex_to_json

__all__ = ["LiveQueries", "QueryAtTsError", "Subscription"]

log = logging.getLogger("reactor.sync")

QueryKey = tuple[str, bytes, str | None, bytes]
"""(path, canonical args JSON, journal asked for, identity JSON or ``ANY_IDENTITY``)."""
ANY_IDENTITY = b"*"
RunHook = Callable[[FunctionResult], None]


class QueryAtTsError(ReactorError):
    """A query at a timestamp cannot be answered from the latest snapshot."""


def _identity_key(identity: Mapping[str, Any] | None) -> bytes:
    return orjson.dumps(
        dict(identity) if identity is not None else None, option=orjson.OPT_SORT_KEYS
    )


class _Live:
    """One shared live query."""

    __slots__ = ("args", "dead", "identity", "journal", "key", "path", "result", "subscriptions")

    def __init__(
        self, key: QueryKey, args: dict[str, Any], identity: Mapping[str, Any] | None
    ) -> None:
        self.key = key
        self.path = key[0]
        self.args = args
        self.identity = identity
        self.journal = key[2]
        """Passed to every run: after the first, the page end it pinned."""
        self.result: QueryResult | None = None
        self.subscriptions: set[Subscription] = set()
        self.dead = False


class Subscription:
    """One client's hold on a live query (what ``LiveQueries.subscribe`` returns)."""

    __slots__ = ("_live", "identity", "identity_key", "on_change")

    def __init__(
        self, live: _Live, identity: Mapping[str, Any] | None, on_change: Callable[[], None]
    ) -> None:
        self._live = live
        self.identity = identity
        self.identity_key = _identity_key(identity)
        self.on_change = on_change

    @property
    def result(self) -> QueryResult | None:
        """The latest result, valid at ``LiveQueries.processed_ts``; None until the first."""
        return self._live.result


class LiveQueries:
    def __init__(
        self,
        engine: Engine,
        *,
        dev_errors: bool = True,
        on_run: RunHook | None = None,
        concurrency: int = 64,
        history: int = 1024,
    ) -> None:
        self._engine = engine
        self._dev_errors = dev_errors
        self._on_run = on_run
        self._concurrency = concurrency
        self._history = history
        self._live: dict[QueryKey, _Live] = {}
        self._index: SubscriptionIndex[_Live] = SubscriptionIndex()
        self._log = NoticeLog(0, history=history)
        self._current: SharedSnapshot | None = None
        self._next: SharedSnapshot | None = None
        self._refresh_everything = False
        self._wake = asyncio.Event()
        self._waiters: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()
        self._refresher: asyncio.Task[None] | None = None
        self._stopped = False
        self.refreshes = 0
        self.runs = 0

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        committer = self._engine.committer
        committer.add_listener(self._on_commit)
        # Under exclusive() every commit in flight is durable and notified, so the
        # first snapshot's ts covers everything the log will not hold.
        async with committer.exclusive():
            self._current = SharedSnapshot(await self._engine.store.snapshot())
        self._log = NoticeLog(self._current.ts, history=self._history)
        self._refresher = asyncio.create_task(self._refresh_loop(), name="reactor-live-queries")

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        # The engine may be stopped already, or start() never ran.
        with contextlib.suppress(RuntimeError, ValueError):
            self._engine.committer.remove_listener(self._on_commit)
        tasks = [*self._tasks, *([self._refresher] if self._refresher else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for snapshot in (self._next, self._current):
            if snapshot is not None:
                await snapshot.retire()
        self._wake_waiters(force=True)

    @property
    def processed_ts(self) -> int:
        """Every published result is valid at this timestamp; it never decreases."""
        return self._snapshot().ts

    @property
    def ts(self) -> int:  # the ResultView protocol's name
        return self.processed_ts

    def _snapshot(self) -> SharedSnapshot:
        if self._current is None:
            raise RuntimeError("LiveQueries is not started")
        return self._current

    def stats(self) -> dict[str, int]:
        return {
            "live_queries": len(self._live),
            "indexed": len(self._index),
            "intervals": self._index.interval_count(),
            "log": len(self._log),
            "tasks": len(self._tasks),
            "waiters": len(self._waiters),
        }

    # -- subscribing -------------------------------------------------------------

    def subscribe(
        self,
        udf_path: str,
        args: dict[str, Any],
        *,
        journal: str | None = None,
        identity: Mapping[str, Any] | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> Subscription:
        """Hold a live query; ``on_change`` is called when its result changes."""
        try:
            path = function_path(udf_path)
        except TypeError:
            path = udf_path  # the run reports the bad path as the query's error
        args_key = orjson.dumps(convex_to_json(args), option=orjson.OPT_SORT_KEYS)
        identity_key = _identity_key(identity)
        live = self._live.get((path, args_key, journal, ANY_IDENTITY)) or self._live.get(
            (path, args_key, journal, identity_key)
        )
        if live is None:
            live = _Live((path, args_key, journal, identity_key), args, identity)
            self._live[live.key] = live
            self._spawn(self._first_run(live))
        subscription = Subscription(live, identity, on_change)
        live.subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        live = subscription._live
        live.subscriptions.discard(subscription)
        if not live.subscriptions:
            self._drop(live)

    def _drop(self, live: _Live) -> None:
        live.dead = True
        if self._live.get(live.key) is live:
            del self._live[live.key]
        if live in self._index:
            self._index.remove(live)

    def wait_for_ts(self, ts: int, callback: Callable[[], None]) -> bool:
        """True if ``processed_ts >= ts`` already; else call ``callback`` once it is."""
        if ts <= self.processed_ts:
            return True
        heapq.heappush(self._waiters, (ts, next(self._seq), callback))
        return False

    def _wake_waiters(self, *, force: bool = False) -> None:
        ts = self._current.ts if self._current is not None else 0
        while self._waiters and (force or self._waiters[0][0] <= ts):
            heapq.heappop(self._waiters)[2]()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- running -----------------------------------------------------------------

    async def _run(self, live: _Live, snapshot: SharedSnapshot) -> FunctionResult:
        return await self._run_on(snapshot, live.path, live.args, live.identity, live.journal)

    async def _run_on(
        self,
        snapshot: SharedSnapshot,
        path: str,
        args: dict[str, Any],
        identity: Mapping[str, Any] | None,
        journal: str | None,
    ) -> FunctionResult:
        # acquire() runs before the first await: a snapshot is never closed under a run.
        store_snapshot = snapshot.acquire()
        try:
            result = await self._engine.run_query(
                path, args, identity=identity, journal=journal, snapshot=store_snapshot
            )
        finally:
            await snapshot.release()
        self.runs += 1
        if self._on_run is not None:
            try:
                self._on_run(result)
            except Exception:
                log.exception("the on_run hook failed")
        return result

    async def _until(self, ts: int) -> None:
        """Wait until ``processed_ts >= ts``."""
        done = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not done.done():
                done.set_result(None)

        if not self.wait_for_ts(ts, wake):
            await done

    async def _first_run(self, live: _Live) -> None:
        while not live.dead:
            snapshot = self._snapshot()
            result = await self._run(live, snapshot)
            if live.dead:
                return
            # Commits after the snapshot were stabbed against the index without
            # this query in it: check them here, up to the newest one logged. If
            # one touched it, run again once the refresher has moved past it.
            if self._log.touched(result.read_set, after=snapshot.ts):
                await self._until(self._log.latest_ts)
                continue
            self._publish(live, result)
            if not result.identity_read and live.key[3] != ANY_IDENTITY:
                live = self._rekey(live, ANY_IDENTITY)
            for subscription in list(live.subscriptions):
                subscription.on_change()
            return

    def _publish(self, live: _Live, result: FunctionResult) -> bool:
        """Swap in a result; True if what clients see changed."""
        previous = live.result
        live.result = query_result(result, previous, dev_errors=self._dev_errors)
        if result.journal is not None:
            live.journal = result.journal
        self._index.add(live, result.read_set if result.read_set is not None else ReadSet())
        return live.result is not previous

    def _rekey(self, live: _Live, identity_key: bytes) -> _Live:
        """File ``live`` under another identity key, merging into an equal live query."""
        key = (*live.key[:3], identity_key)
        other = self._live.get(key)
        if other is not None and other is not live:
            for subscription in live.subscriptions:
                subscription._live = other
                other.subscriptions.add(subscription)
            live.subscriptions.clear()
            self._drop(live)
            return other
        if self._live.get(live.key) is live:
            del self._live[live.key]
        live.key = key
        self._live[key] = live
        return live

    def _split(self, live: _Live) -> _Live | None:
        """A query shared across identities read ``ctx.auth`` after all. Every other
        identity's subscribers move to a live query of their own, computed afresh
        (their sessions hold back Transitions until it has a result). Returns the
        live query that keeps this run's result, if any."""
        own = _identity_key(live.identity)
        for subscription in [s for s in live.subscriptions if s.identity_key != own]:
            live.subscriptions.discard(subscription)
            key = (*live.key[:3], subscription.identity_key)
            target = self._live.get(key)
            if target is None:
                target = _Live(key, live.args, subscription.identity)
                self._live[key] = target
                self._spawn(self._first_run(target))
            subscription._live = target
            target.subscriptions.add(subscription)
        if not live.subscriptions:
            self._drop(live)
            return None
        kept = self._rekey(live, own)
        return kept if kept is live else None

    # -- commits -----------------------------------------------------------------

    async def _on_commit(self, notices: Sequence[CommitNotice]) -> None:
        # Awaited by the committer before its next batch: the store now holds
        # exactly the commits notified so far, so this snapshot is at a batch
        # boundary. Keep it short: take the snapshot, hand over, return.
        if self._stopped:
            return
        self._log.append(notices)
        snapshot = SharedSnapshot(await self._engine.store.snapshot())
        if self._stopped:
            await snapshot.retire()
            return
        previous, self._next = self._next, snapshot
        if previous is not None:
            await previous.retire()  # superseded: the next refresh covers both batches
        self._wake.set()

    async def refresh_all(self) -> None:
        """Re-run every live query (after ``engine.reload`` swaps the app's code)."""
        async with self._engine.committer.exclusive():
            snapshot = SharedSnapshot(await self._engine.store.snapshot())
        previous, self._next = self._next, snapshot
        if previous is not None:
            await previous.retire()
        self._refresh_everything = True
        self._wake.set()

    async def _refresh_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            target, self._next = self._next, None
            if target is not None:
                await self._refresh(target)

    async def _refresh(self, target: SharedSnapshot) -> None:
        current = self._snapshot()
        if self._refresh_everything:
            self._refresh_everything = False
            stale = set(self._live.values())
        else:
            stale = self._index.stab(self._log.written(current.ts, target.ts))
        stale = {live for live in stale if live.result is not None and not live.dead}
        semaphore = asyncio.Semaphore(self._concurrency)

        async def rerun(live: _Live) -> tuple[_Live, FunctionResult]:
            async with semaphore:
                return live, await self._run(live, target)

        results = await asyncio.gather(*(rerun(live) for live in stale))
        # Everything below up to the awaits is synchronous: results and
        # processed_ts change together, never visible half-done.
        changed: list[_Live] = []
        for live, result in results:
            kept: _Live | None = live
            if live.dead:
                continue
            if result.identity_read and live.key[3] == ANY_IDENTITY:
                kept = self._split(live)
            if kept is not None and self._publish(kept, result):
                changed.append(kept)
        self._current = target
        self.refreshes += 1
        callbacks = {s.on_change for live in changed for s in live.subscriptions}
        for callback in callbacks:
            callback()
        self._wake_waiters()
        # First runs still reading an older snapshot check the log from there;
        # if it is gone they conservatively run again.
        self._log.trim(current.ts if current.in_use else target.ts)
        await current.retire()

    # -- reads at a timestamp (HTTP consistentQuery) -----------------------------

    async def run_query_at(
        self, udf_path: str, args: dict[str, Any], ts: int, identity: Mapping[str, Any] | None
    ) -> FunctionResult:
        """Run a query as of ``ts``: on the latest processed snapshot, if nothing
        committed since ``ts`` touched what it read; else ``QueryAtTsError``."""
        snapshot = self._snapshot()
        if ts > snapshot.ts:
            raise QueryAtTsError(
                f"ts {ts} is newer than the latest timestamp {snapshot.ts}: ask /api/query_ts"
            )
        if not self._log.covers(ts):
            raise QueryAtTsError(f"ts {ts} is too old: this server keeps recent commits only")
        result = await self._run_on(snapshot, udf_path, args, identity, None)
        if self._log.touched(result.read_set, after=ts, upto=snapshot.ts):
            raise QueryAtTsError(
                f"the result of {udf_path} changed after ts {ts}: query again at a newer ts"
            )
        return result
