"""The committer: validates read sets, assigns timestamps, writes batches.

One committer per process (the store's lock guarantees one process per
SQLite file). Each commit request carries a transaction's snapshot ``ts``
and read set; the committer checks the read set against every key written
after that ``ts`` (the in-memory write log, which also holds commits that
are validated but still being written), assigns a strictly increasing
timestamp and appends to the write log. Whatever queues up while a batch is
being written goes into the next batch: group commit, so one fsync serves
many mutations under load, and after each batch the mutations it released
get to commit again first (see ``_run``).

``exclusive()`` lets a mutation that keeps conflicting run with no other
commit in between, so contention alone never fails a mutation.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from reactor.engine._intervals import ReadSet
from reactor.errors import OccConflictError
from reactor.storage import (
    SNAPSHOT_TOO_OLD,
    CheckedCommit,
    Commit,
    FeedGapError,
    Store,
    StoreError,
)

__all__ = ["CommitListener", "CommitNotice", "Committer"]

log = logging.getLogger("reactor.committer")

WrittenKeys = Mapping[str, Sequence[bytes]]

CommitListener = Callable[[Sequence["CommitNotice"]], Awaitable[None] | None]
"""Called after each durable batch, in commit order, before the batch's mutations
get their answer (so what a listener wakes runs first). An async listener is
awaited before the next batch is written, so while it runs the store holds
exactly the commits notified so far (live queries take their snapshot then):
keep it short."""


@dataclass(frozen=True, slots=True)
class CommitNotice:
    """A durable commit, as live queries need to see it.

    ``resync`` marks a notice that stands for commits this process could not
    see one by one (it fell behind a shared store's commit-record retention):
    anything may have changed up to ``ts``, so every live query must re-run.
    """

    ts: int
    written: WrittenKeys
    resync: bool = False
    seq: int = 0
    """With a shared store, the commit's place in the store's commit sequence."""


@dataclass(slots=True)
class _Request:
    snapshot_ts: int
    read_set: ReadSet
    written: WrittenKeys
    build: Callable[[int], Commit]
    future: asyncio.Future[int]
    exclusive: bool


class Committer:
    def __init__(
        self,
        store: Store,
        last_ts: int,
        *,
        max_batch: int = 256,
        clock_ns: Callable[[], int] = time.time_ns,
        prune_interval_s: float = 60.0,
    ) -> None:
        self._store = store
        self._last_ts = last_ts
        self._max_batch = max_batch
        self._clock_ns = clock_ns
        """Nanoseconds since the epoch, the floor of each new timestamp (virtual in simulations)."""
        self._queue: list[_Request] = []
        self._wakeup = asyncio.Event()
        self._log: list[tuple[int, WrittenKeys]] = []
        self._last_write: dict[str, int] = {}
        """Per index, the ts of the latest commit in the log that wrote it (kept when
        the log is trimmed: an older answer only means walking the log)."""
        self._snapshots: Counter[int] = Counter()
        self._listeners: list[CommitListener] = []
        self._exclusive_lock = asyncio.Lock()
        self._open = asyncio.Event()
        self._open.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._feed_task: asyncio.Task[None] | None = None
        self._prune_task: asyncio.Task[None] | None = None
        self.prune_interval_s = prune_interval_s
        self.commit_retention_s = float(getattr(store, "retention", 600.0))
        """Shared stores: commit records older than this are pruned (every process
        prunes; a process that falls further behind resyncs, see ``_follow_feed``)."""
        self._closed = False
        self.resyncs = 0
        self.conflicts = 0
        self.commits = 0
        self.batches = 0

    @property
    def last_ts(self) -> int:
        return self._last_ts

    def start(self, *, feed_after_seq: int | None = None) -> None:
        """Start committing. With a shared store, also follow its commit feed from
        ``feed_after_seq``: in that mode every notice, this process's own commits
        included, comes from the feed, in the store's commit order."""
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name="reactor-committer")
        if self._store.shared:
            self._feed_task = loop.create_task(
                self._follow_feed(feed_after_seq or 0), name="reactor-commit-feed"
            )
            self._prune_task = loop.create_task(self._prune_loop(), name="reactor-commit-prune")

    async def stop(self) -> None:
        self._closed = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        for task in (self._feed_task, self._prune_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._feed_task = self._prune_task = None

    def add_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: CommitListener) -> None:
        self._listeners.remove(listener)

    # -- snapshots pin the write log ------------------------------------------

    def pin(self, ts: int) -> None:
        self._snapshots[ts] += 1

    def unpin(self, ts: int) -> None:
        self._snapshots[ts] -= 1
        if self._snapshots[ts] <= 0:
            del self._snapshots[ts]

    def _trim_log(self) -> None:
        oldest = min(self._snapshots, default=self._last_ts)
        drop = 0
        while drop < len(self._log) and self._log[drop][0] <= oldest:
            drop += 1
        if drop:
            del self._log[:drop]

    # -- commits ---------------------------------------------------------------

    async def commit(
        self,
        snapshot_ts: int,
        read_set: ReadSet,
        written: WrittenKeys,
        build: Callable[[int], Commit],
        *,
        exclusive: bool = False,
    ) -> int:
        """Validate and durably apply a commit; return its timestamp.

        Raises ``OccConflictError`` if something the transaction read was
        written after its snapshot.
        """
        if self._closed:
            raise StoreError("the committer is stopped: the store is closing")
        while not exclusive and not self._open.is_set():
            await self._open.wait()
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append(_Request(snapshot_ts, read_set, written, build, future, exclusive))
        self._idle.clear()
        self._wakeup.set()
        return await future

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold off every other commit; wait until what is in flight is durable."""
        async with self._exclusive_lock:
            self._open.clear()
            try:
                await self._idle.wait()
                yield
            finally:
                self._open.set()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                await self._write_batch(batch)
                # Before the next batch is taken, let the mutations this one released
                # run up to their next commit, so that it joins that batch: one write
                # (one fsync) for all of them. Writing what queued up meanwhile at once
                # would overlap the writer with the event loop instead, but the two
                # contend for the GIL: measured, that costs more CPU per commit and
                # gives fewer commits per second, with a slow fsync or none at all.
                await asyncio.sleep(0)
            self._idle.set()
            if self._closed and not self._queue:
                return

    def _log_commit(self, ts: int, written: WrittenKeys) -> None:
        self._log.append((ts, written))
        last_write = self._last_write
        for index in written:
            last_write[index] = ts

    def _conflict(self, request: _Request) -> str | None:
        # Most read sets hold no index written after their snapshot: then no
        # commit in the log can conflict, and walking it is not needed.
        last_write, snapshot_ts = self._last_write, request.snapshot_ts
        if all(last_write.get(index, 0) <= snapshot_ts for index in request.read_set):
            return None
        for ts, written in reversed(self._log):
            if ts <= request.snapshot_ts:
                break
            index = request.read_set.conflicts_with(written)
            if index is not None:
                return index
        return None

    def allocate_ts(self) -> int:
        """A fresh timestamp for a write made outside ``commit`` (under ``exclusive``)."""
        return self._next_ts()

    def _next_ts(self) -> int:
        self._last_ts = max(self._last_ts + 1, self._clock_ns())
        return self._last_ts

    def _admit(self, request: _Request) -> bool:
        """Whether ``request`` goes on into the batch: still awaited, and no commit
        since its snapshot wrote what it read (else it fails with a conflict)."""
        if request.future.done():
            return False
        conflict = self._conflict(request)
        if conflict is None:
            return True
        self.conflicts += 1
        request.future.set_exception(OccConflictError(conflict.partition(".")[0]))
        return False

    def _write_failed(self, requests: Sequence[_Request], exc: BaseException) -> None:
        log.error("writing a batch of %d commits failed", len(requests), exc_info=exc)
        for request in requests:
            if not request.future.done():
                request.future.set_exception(
                    StoreError(f"the store failed to write the commit: {exc}")
                )

    async def _write_batch(self, batch: list[_Request]) -> None:
        if self._store.shared:
            await self._write_batch_shared(batch)
            return
        accepted: list[tuple[_Request, int]] = []
        commits: list[Commit] = []
        for request in batch:
            if not self._admit(request):
                continue
            try:
                ts = self._next_ts()
                commit = request.build(ts)
            except Exception as exc:  # a bug building the commit fails only that request
                request.future.set_exception(exc)
                continue
            self._log_commit(ts, request.written)
            accepted.append((request, ts))
            commits.append(commit)
        if not commits:
            return
        try:
            await self._store.write(commits)
        except BaseException as exc:
            # Nothing of the batch was applied: its keys must not fail the re-runs
            # as conflicts with commits that never happened.
            failed = {ts for _, ts in accepted}
            self._log = [entry for entry in self._log if entry[0] not in failed]
            self._write_failed([request for request, _ in accepted], exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.commits += len(commits)
        self.batches += 1
        self._trim_log()
        # Listeners first: live queries queue their refresh ahead of the mutations
        # resumed below, so subscribers do not wait behind the mutations' own
        # responses (whose clients wait for that refresh's Transition anyway).
        await self._notify([CommitNotice(ts, request.written) for request, ts in accepted])
        for request, ts in accepted:
            if not request.future.done():
                request.future.set_result(ts)

    async def _notify(self, notices: Sequence[CommitNotice]) -> None:
        for listener in list(self._listeners):
            try:
                pending = listener(notices)
                if inspect.isawaitable(pending):
                    await pending
            except Exception:
                log.exception("a commit listener failed")

    # -- shared stores (several processes commit to one database) ----------------

    async def _write_batch_shared(self, batch: list[_Request]) -> None:
        """Pre-check against what the feed has shown us, then let the store validate
        against every process's commits inside its own transaction."""
        pending = [request for request in batch if self._admit(request)]
        if not pending:
            return
        checked = [CheckedCommit(r.snapshot_ts, r.read_set, r.written, r.build) for r in pending]
        try:
            results = await self._store.write_checked(checked)
        except Exception as exc:
            self._write_failed(pending, exc)
            return
        self.batches += 1
        for request, outcome in zip(pending, results, strict=True):
            if request.future.done():
                continue
            if isinstance(outcome, int):
                self.commits += 1
                self._last_ts = max(self._last_ts, outcome)
                request.future.set_result(outcome)
            else:
                self.conflicts += 1
                table = None if outcome == SNAPSHOT_TOO_OLD else outcome.partition(".")[0]
                request.future.set_exception(OccConflictError(table))

    async def _prune_loop(self) -> None:
        while True:
            await asyncio.sleep(self.prune_interval_s)  # a period, not a synchronization
            try:
                cutoff = time.time_ns() - int(self.commit_retention_s * 1e9)
                pruned = await self._store.prune_commits(cutoff)
            except Exception:
                log.exception("pruning old commit records failed")
            else:
                if pruned:
                    log.debug("pruned %d commit records", pruned)

    async def _follow_feed(self, after_seq: int) -> None:
        """Learn every commit, ours and other processes', in the store's order."""
        while True:
            try:
                feed = self._store.feed(after_seq)
                try:
                    async for entry in feed:
                        after_seq = entry.seq
                        self._last_ts = max(self._last_ts, entry.ts)
                        self._log_commit(entry.ts, entry.written)
                        self._trim_log()
                        await self._notify([CommitNotice(entry.ts, entry.written, seq=entry.seq)])
                finally:
                    close = getattr(feed, "aclose", None)
                    if close is not None:
                        await close()
            except FeedGapError as exc:
                # Commits we never saw were pruned: say so loudly and re-run everything.
                log.warning("commit feed fell behind the retention window (%s); resyncing", exc)
                try:
                    after_seq = await self._resync()
                except asyncio.CancelledError:
                    raise
                except Exception:  # the feed must live on: the next gap tries again
                    log.exception("resyncing failed; trying again in 1 s")
                    await asyncio.sleep(1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the commit feed failed; following it again in 1 s")
                await asyncio.sleep(1.0)

    async def _resync(self) -> int:
        """Tell listeners that anything may have changed up to a fresh snapshot; return
        the seq to follow the feed from."""
        snapshot = await self._store.snapshot()
        try:
            after_seq, ts = snapshot.seq, snapshot.ts
        finally:
            await snapshot.close()
        self.resyncs += 1
        self._last_ts = max(self._last_ts, ts)
        self._log.clear()
        await self._notify([CommitNotice(ts, {}, resync=True, seq=after_seq)])
        return after_seq
