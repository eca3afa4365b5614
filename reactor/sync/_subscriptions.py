"""Live queries shared by every client, kept valid at one timestamp: ``processed_ts``.

A live query is shared by every client asking for the same thing (see
``_live_query``); its read set is registered in a ``SubscriptionIndex``.

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
import logging
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from typing import Any

from reactor.engine import CommitNotice, Engine, FunctionResult
from reactor.errors import ReactorError
from reactor.sync._live_query import ANY_IDENTITY, LiveQuery, LiveRegistry, Subscription
from reactor.sync._snapshots import NoticeLog, SharedSnapshot, TsWaiters

__all__ = ["LiveQueries", "QueryAtTsError", "Subscription"]

log = logging.getLogger("reactor.sync")

RunHook = Callable[[FunctionResult], None]
Deliver = Callable[[Collection[Callable[[], None]]], None]
"""Calls the change callbacks of one refresh (the server gives the frames they
make one clock, so that frames alike for many clients are made once)."""


def _call_each(callbacks: Collection[Callable[[], None]]) -> None:
    for callback in callbacks:
        callback()


def _rerun_order(live: LiveQuery) -> tuple[str, bytes, str, bytes]:
    path, args, journal, identity = live.key
    return path, args, journal or "", identity


REFRESH_PAUSE_AFTER_S = 0.005
"""A refresh that took this long is followed by a pause (``REFRESH_PAUSE_RATIO``)."""
REFRESH_PAUSE_RATIO = 0.5
"""The pause after a long refresh, as a share of its duration: refreshes use at
most two thirds of the event loop while they are saturated."""


class QueryAtTsError(ReactorError):
    """A query at a timestamp cannot be answered from the latest snapshot."""


class LiveQueries:
    """The live queries of one engine. Also a ``ResultView``'s clock: ``ts``."""

    def __init__(
        self,
        engine: Engine,
        *,
        dev_errors: bool = True,
        on_run: RunHook | None = None,
        deliver: Deliver = _call_each,
        concurrency: int = 64,
        history: int = 1024,
    ) -> None:
        """``on_run`` sees every run (once its result is delivered); ``deliver`` is
        given the ``on_change`` callbacks of the subscriptions a refresh changed,
        and must call each once, synchronously."""
        self._engine = engine
        self._on_run = on_run
        self._deliver = deliver
        self._concurrency = concurrency
        self._history = history
        self._registry = LiveRegistry(
            lambda live: self._spawn(self._first_run(live)), dev_errors=dev_errors
        )
        self._log = NoticeLog(0, history=history)
        self._current: SharedSnapshot | None = None
        self._next: SharedSnapshot | None = None
        self._ahead: SharedSnapshot | None = None
        """Shared stores: a snapshot ahead of the notices, waiting for them."""
        self._covered = 0
        """Every commit notice up to here has been stabbed against the index. It is
        the snapshot's ts with a single-writer store; with a shared one a snapshot
        may hold commits notified later, which the next refresh then covers."""
        self._refresh_everything: list[asyncio.Future[None]] = []
        """``refresh_all`` callers waiting for the next refresh, which re-runs all."""
        self._wake = asyncio.Event()
        self._waiters = TsWaiters()
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
        self._covered = self._current.ts
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
        for snapshot in (self._ahead, self._next, self._current):
            if snapshot is not None:
                await snapshot.retire()
        self._waiters.wake_all()

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
        index = self._registry.index
        return {
            "live_queries": len(self._registry.by_key),
            "indexed": len(index),
            "intervals": index.interval_count(),
            "log": len(self._log),
            "tasks": len(self._tasks),
            "waiters": len(self._waiters),
        }

    async def settle(self) -> None:
        """Wait until no first run is in flight (tests use it to check for leaks)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

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
        """Hold a live query; ``on_change`` is called when its result changes (and
        when its first result arrives, unless it already had one)."""
        return self._registry.subscribe(udf_path, args, journal, identity, on_change)

    def unsubscribe(self, subscription: Subscription) -> None:
        """Let go; the live query is dropped with its last subscriber."""
        self._registry.unsubscribe(subscription)

    def wait_for_ts(self, ts: int, callback: Callable[[], None]) -> bool:
        """True if ``processed_ts >= ts`` already; else call ``callback`` once it is."""
        if ts <= self.processed_ts:
            return True
        self._waiters.add(ts, callback)
        return False

    async def wait_processed(self, ts: int) -> None:
        """Wait until ``processed_ts >= ts`` (every commit up to ``ts`` is reflected)."""
        done = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not done.done():
                done.set_result(None)

        if not self.wait_for_ts(ts, wake):
            await done

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- running -----------------------------------------------------------------

    async def _run(
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
        return result

    def _ran(self, results: Sequence[FunctionResult]) -> None:
        # After the results went out: the hook (a log line each) is not on their path.
        if self._on_run is None:
            return
        for result in results:
            try:
                self._on_run(result)
            except Exception:
                log.exception("the on_run hook failed")

    async def _run_live(self, live: LiveQuery, snapshot: SharedSnapshot) -> FunctionResult:
        return await self._run(snapshot, live.path, live.args, live.identity, live.journal)

    async def _first_run(self, live: LiveQuery) -> None:
        while not live.dead:
            snapshot = self._snapshot()
            result = await self._run_live(live, snapshot)
            self._ran((result,))
            if live.dead:
                return
            # Commits after the snapshot were stabbed against the index without
            # this query in it: check them here, up to the newest one logged. If
            # one touched it, run again once the refresher has moved past it.
            if self._log.touched(result.read_set, after=snapshot.ts):
                await self.wait_processed(self._log.latest_ts)
                continue
            self._registry.publish(live, result)
            if not result.identity_read and live.key[3] != ANY_IDENTITY:
                live = self._registry.share(live)
            for subscription in list(live.subscriptions):
                subscription.on_change()
            return

    # -- commits -----------------------------------------------------------------

    async def _on_commit(self, notices: Sequence[CommitNotice]) -> None:
        # Awaited by the committer before its next batch: the store now holds
        # exactly the commits notified so far, so this snapshot is at a batch
        # boundary. Keep it short: take the snapshot, hand over, return.
        if self._stopped:
            return
        self._log.append(notices)
        if self._ahead is not None:
            # A snapshot taken earlier holds commits the feed had not shown yet;
            # it serves once they have all been notified (so it is exact again).
            if not notices or notices[-1].seq < self._ahead.seq:
                return
            ahead, self._ahead = self._ahead, None
            if notices[-1].seq == ahead.seq and not any(n.resync for n in notices):
                await self._hand_over(ahead)
                return
            # The notices went past it (a resync jumps to a newer snapshot): a
            # refresh at its ts would leave them for a commit that may never come.
            await ahead.retire()
        # Reusable: the next transaction that starts before another write (the next
        # mutation, at a low write rate) reads this same snapshot instead of opening one.
        snapshot = SharedSnapshot(await self._engine.store.reusable_snapshot())
        if self._stopped:
            await snapshot.retire()
            return
        if notices and snapshot.seq > notices[-1].seq:
            # Shared store: other processes committed after the last notice.
            self._ahead = snapshot
            return
        await self._hand_over(snapshot)

    async def _hand_over(self, snapshot: SharedSnapshot) -> None:
        previous, self._next = self._next, snapshot
        if previous is not None:
            await previous.retire()  # superseded: the next refresh covers both
        self._wake.set()

    async def refresh_all(self) -> None:
        """Re-run every live query (after ``engine.reload`` swaps the app's code);
        return once the new results are published."""
        done = asyncio.get_running_loop().create_future()
        self._refresh_everything.append(done)
        async with self._engine.committer.exclusive():
            snapshot = SharedSnapshot(await self._engine.store.snapshot())
        await self._hand_over(snapshot)
        await done

    async def _refresh_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            target, self._next = self._next, None
            if target is not None:
                began = loop.time()
                await self._refresh(target)
                spent = loop.time() - began
                if spent >= REFRESH_PAUSE_AFTER_S:
                    # A refresh this long (a hot query, many subscribers) pushes
                    # frames without yielding. Left to run back to back, refreshes
                    # would take the whole event loop, and mutations, whose commits
                    # they publish, would queue without end. Pausing in proportion
                    # leaves the rest a share of the loop; commits meanwhile collapse
                    # into the next refresh.
                    await asyncio.sleep(spent * REFRESH_PAUSE_RATIO)

    async def _refresh(self, target: SharedSnapshot) -> None:
        current = self._snapshot()
        registry = self._registry
        forced, self._refresh_everything = self._refresh_everything, []
        upto = min(target.ts, self._log.latest_ts)
        if forced or self._log.resync_between(self._covered, upto):
            stale = set(registry.by_key.values())
        else:
            stale = registry.index.stab(self._log.written(self._covered, upto))
        semaphore = asyncio.Semaphore(self._concurrency)

        async def rerun(live: LiveQuery) -> tuple[LiveQuery, FunctionResult]:
            async with semaphore:
                return live, await self._run_live(live, target)

        # Only published queries: a first run checks the log for itself. In key
        # order, not set order, so that a seeded simulation replays exactly.
        due = [
            live
            for live in sorted(stale, key=_rerun_order)
            if live.result is not None and not live.dead
        ]
        if len(due) == 1:
            # The common case (one hot query changed): run it in this task. A task
            # of its own would start only after every callback already queued on
            # the event loop (the writer's own response among them), which its
            # subscribers would wait for.
            results = [(due[0], await self._run_live(due[0], target))]
        else:
            results = await asyncio.gather(*(rerun(live) for live in due))
        # From here to the awaits all is synchronous: results and processed_ts
        # change together, never visible half-done.
        changed: list[LiveQuery] = []
        for live, result in results:
            kept: LiveQuery | None = live
            if live.dead:
                continue
            if result.identity_read and live.key[3] == ANY_IDENTITY:
                kept = registry.split(live)
            if kept is not None and registry.publish(kept, result):
                changed.append(kept)
        self._current = target
        self._covered = max(self._covered, upto)
        self.refreshes += 1
        self._deliver({s.on_change for live in changed for s in live.subscriptions})
        self._ran([result for _, result in results])
        self._waiters.wake_until(target.ts)
        for future in forced:
            if not future.done():
                future.set_result(None)
        # First runs still reading an older snapshot check the log from there;
        # if it is gone they conservatively run again.
        self._log.trim(min(self._covered, current.ts if current.in_use else target.ts))
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
        result = await self._run(snapshot, udf_path, args, identity, None)
        self._ran((result,))
        if self._log.touched(result.read_set, after=ts, upto=snapshot.ts):
            raise QueryAtTsError(
                f"the result of {udf_path} changed after ts {ts}: query again at a newer ts"
            )
        return result
