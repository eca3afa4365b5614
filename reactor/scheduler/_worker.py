"""``SchedulerWorker``: runs due jobs and crons in the background of an engine.

One loop finds due work, starts it as tasks (at most ``concurrency`` at a
time) and sleeps until the next due time. A commit that touches
``_scheduled_functions`` or ``_cron_jobs`` wakes it early, so a job scheduled
for now (or earlier than the one it waits for) starts at once. What each run
guarantees (exactly once, at most once) is ``_runner``'s business; the loop
only keeps two runs of the same job or cron from being started side by side
in this process.

Several processes may share one store, each with a worker. On a shared
store each worker keeps a heartbeat (a lease on ``worker:<id>``), and the
live workers split the due jobs by rendezvous hashing of the job ids: each
starts the jobs that hash to it, oldest first, and leaves the others to
their worker, unless it has seen one due for ``steal_after_ms`` (its worker
may be dead, or busy): then it takes it too. Splitting costs no write per
job and only spreads the work: every run still claims its job exactly once
(a mutation in its own transaction, an action by marking it inProgress), so
two workers that disagree on who is there only race, as they would without.

Each worker has a random ``worker_id``; the actions it runs hold leases under
that id (``_leases``), and the loop periodically fails the runs whose lease
has expired: those of a worker that died after this one started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, Final

from reactor.engine._committer import CommitNotice
from reactor.engine._database import SystemWriter
from reactor.engine._results import FunctionResult
from reactor.functions import App
from reactor.scheduler._clock import Clock, SystemClock
from reactor.scheduler._cron_state import (
    CRONS,
    read_crons,
    recover_crons,
    run_cron,
    skip_busy_cron,
    sync_crons,
)
from reactor.scheduler._jobs import BY_STATE, SCHEDULED, in_transaction
from reactor.scheduler._leases import (
    LEASE_MS,
    Leases,
    Recovery,
    cron_key,
    home,
    live_workers,
    worker_key,
)
from reactor.scheduler._maintenance import delete_finished, drop_stale_leases, fail_interrupted
from reactor.scheduler._runner import run_scheduled_job

if TYPE_CHECKING:
    from reactor.engine import Engine

__all__ = ["SchedulerWorker"]

log = logging.getLogger("reactor.scheduler")

RETENTION_MS: Final = 7 * 24 * 3600 * 1000.0  # LIM-05: finished jobs are kept 7 days
SPREAD: Final = 4  # with other workers: due jobs read per free slot and worker
MAX_SCAN: Final = 1024  # ... and at most this many
_WATCHED: Final = (f"{SCHEDULED}.{BY_STATE}", f"{CRONS}.by_name")
METRICS: Final = (
    "jobs_run",  # scheduled jobs run to an outcome: succeeded + failed
    "jobs_succeeded",
    "jobs_failed",
    "jobs_interrupted",  # actions found cut off by a crash or stop (their lease expired)
    "leases_lost",  # runs of this worker that another one recovered as interrupted
    "jobs_deleted",  # finished jobs removed after the retention period
    "cron_runs",
    "cron_failures",
    "cron_skips",  # due times skipped because the previous run still ran
    "internal_errors",  # store failures; the work is retried with backoff
)


class SchedulerWorker:
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock | None = None,
        concurrency: int = 10,
        retention_ms: float = RETENTION_MS,
        cleanup_interval_ms: float = 3_600_000.0,
        stop_grace_s: float = 1.0,
        lease_ms: float = LEASE_MS,
        recover_interval_ms: float | None = None,
        share_work: bool | None = None,
        steal_after_ms: float = 2_000.0,
    ) -> None:
        """``lease_ms``: how long a running action's claim (and a heartbeat) holds
        without a renewal; it is renewed every sixth of that. ``recover_interval_ms``
        (a third of it by default): how often the loop looks for runs whose lease has
        expired. ``share_work`` (by default: on a shared store): keep a heartbeat and
        split the due jobs with the other live workers; ``steal_after_ms``: how long
        another worker's job may be seen due before this one takes it."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.engine = engine
        self.clock = clock or SystemClock()
        self.concurrency = concurrency
        self.retention_ms = retention_ms
        self.cleanup_interval_ms = cleanup_interval_ms
        self.stop_grace_s = stop_grace_s
        self.recover_interval_ms = recover_interval_ms or lease_ms / 3
        self.share_work = engine.store.shared if share_work is None else share_work
        self.steal_after_ms = steal_after_ms
        self.metrics: dict[str, int] = dict.fromkeys(METRICS, 0)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(6)}"
        """Who holds the leases of the actions this worker runs."""
        self.leases = Leases(engine, self.worker_id, self.clock, lease_ms, self.metrics)
        self._rng = random.Random()
        self._seen: dict[str, float] = {}  # other workers' due jobs -> when first seen due
        self._heartbeat: asyncio.Task[None] | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self._cron_due: dict[str, float] = {}  # cron name -> the due time its task runs
        self._retry_at: dict[str, tuple[int, float]] = {}  # key -> (failures, not before)
        self._wake = asyncio.Event()
        self._passes_started = 0
        self._passes_done = 0
        self._pass_done = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._next_cleanup = 0.0
        self._next_recovery = 0.0

    @property
    def started(self) -> bool:
        return self._task is not None

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Recover from a crash, deploy the app's crons, and run the loop."""
        if self._task is not None:
            return
        self._stopping = False
        await self.recover()
        self._next_recovery = self.clock.now_ms() + self.recover_interval_ms
        await self.sync_crons()
        if self.share_work:  # others split the jobs with this worker once they see it
            key = worker_key(self.worker_id)
            await in_transaction(self.engine, lambda w: self.leases.take(w, key))
            self._heartbeat = self.leases.keep(key, retake=True)
        self.engine.committer.add_listener(self._on_commit)
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="reactor-scheduler")

    async def stop(self) -> None:
        """Stop the loop; give running jobs ``stop_grace_s`` to finish, then cancel them:
        a canceled mutation stays pending, a canceled action is recorded failed."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        await self._task
        self._task = None
        with contextlib.suppress(ValueError):
            self.engine.committer.remove_listener(self._on_commit)
        tasks = list(self._running.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.stop_grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._heartbeat is not None:
            # Dropped, so that the others take over this worker's share of the jobs now.
            heartbeat, self._heartbeat = self._heartbeat, None
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            key = worker_key(self.worker_id)
            try:
                await in_transaction(self.engine, lambda w: self.leases.release(w, key), attempts=1)
            except Exception:
                log.warning("scheduler: could not drop the heartbeat of %s", self.worker_id)

    async def sync_crons(self, app: App | None = None) -> None:
        """Deploy ``app``'s crons (the engine's app by default); call on start and reload."""
        await sync_crons(self.engine, app or self.engine.app, self.clock.now_ms())
        self._wake.set()

    async def recover(self) -> int:
        """At start: mark the job and cron runs a crash left in progress as failed; never
        re-run them. On a store of its own this worker is the only one: every run in
        progress was cut off. On a shared store other processes may be running some
        right now: only the runs whose lease has expired (``recover_expired``)."""
        return await self._recover(everything=not self.engine.store.shared)

    async def recover_expired(self) -> int:
        """Mark the runs whose lease has expired (their worker died, or lost the store
        for a whole lease) as failed; the loop calls this every ``recover_interval_ms``."""
        return await self._recover(everything=False)

    async def _recover(self, *, everything: bool) -> int:
        recovery = Recovery(
            self.clock.now_ms(),
            everything=everything,
            owner=self.worker_id,
            running=frozenset([*self._running, worker_key(self.worker_id)]),
        )
        jobs = await fail_interrupted(self.engine, recovery)
        self.metrics["jobs_interrupted"] += jobs
        count = jobs + await recover_crons(self.engine, recovery)
        await drop_stale_leases(self.engine, recovery)
        if count:
            log.warning(
                "%d scheduled action(s) were cut off by a stop or a crash: marked failed", count
            )
        return count

    async def cleanup(self) -> int:
        """Delete jobs finished more than ``retention_ms`` ago; returns how many."""
        count = await delete_finished(self.engine, self.clock.now_ms() - self.retention_ms)
        self.metrics["jobs_deleted"] += count
        return count

    # -- driving it by hand (tests) --------------------------------------------

    async def run_due(
        self, *, repeat: bool = True, crons: bool = False, limit: int | None = None
    ) -> int:
        """Without the loop: run the jobs due at the clock's time and wait for them; with
        ``repeat``, also the due jobs those schedule, until none is due or ``limit``
        runs have started. Returns how many ran."""
        total = 0
        while limit is None or total < limit:
            started, _ = await self._poll(
                crons=crons, limit=None if limit is None else limit - total
            )
            await self.wait_idle()
            total += started
            if not started or not repeat:
                break
        return total

    async def next_pending_time(self) -> float | None:
        """When the earliest pending job is scheduled (None: no pending job)."""

        async def first(writer: SystemWriter) -> float | None:
            query = writer.system.query(SCHEDULED).with_index(
                BY_STATE, lambda r: r.eq("state.kind", "pending")
            )
            row = await query.first()
            return None if row is None else float(row["scheduledTime"])

        return await in_transaction(self.engine, first)

    async def kick(self) -> None:
        """Wake the loop and wait until it has made a full pass begun after this call."""
        async with self._pass_done:
            # A pass in flight may have read before this call: wait for the next one.
            target = self._passes_started + 1
            self._wake.set()
            await self._pass_done.wait_for(
                lambda: self._passes_done >= target or self._task is None
            )

    async def wait_idle(self) -> None:
        """Wait until no job or cron run is in progress."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    # -- the loop ----------------------------------------------------------------

    def _on_commit(self, notices: Sequence[CommitNotice]) -> None:
        if any(name in notice.written for notice in notices for name in _WATCHED):
            self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            self._passes_started += 1
            try:
                _, next_due = await self._poll(crons=True)
                now = self.clock.now_ms()
                if now >= self._next_recovery:
                    self._next_recovery = now + self.recover_interval_ms
                    await self.recover_expired()
                next_due = _earliest(next_due, self._next_recovery)
                if now >= self._next_cleanup:
                    self._next_cleanup = now + self.cleanup_interval_ms
                    await self.cleanup()
            except Exception:
                log.exception("the scheduler failed to poll for due jobs; retrying in 1 s")
                self.metrics["internal_errors"] += 1
                next_due = self.clock.now_ms() + 1000
            async with self._pass_done:
                self._passes_done = self._passes_started
                self._pass_done.notify_all()
            if not self._stopping:
                await self._sleep(next_due)
        async with self._pass_done:
            self._pass_done.notify_all()

    async def _sleep(self, deadline: float | None) -> None:
        waits: list[asyncio.Task[Any]] = [asyncio.ensure_future(self._wake.wait())]
        if deadline is not None:
            waits.append(asyncio.ensure_future(self.clock.sleep_until(deadline)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _poll(self, *, crons: bool, limit: int | None = None) -> tuple[int, float | None]:
        """Start what is due now; return how many runs started and the next due time."""
        now = self.clock.now_ms()
        free = self.concurrency - len(self._running)
        if limit is not None:
            free = min(free, limit)

        async def read(
            writer: SystemWriter,
        ) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]], float | None]:
            workers = await live_workers(writer, now) if self.share_work else []
            workers = sorted({*workers, self.worker_id})
            # Alone, the oldest jobs; else enough to find this worker's share among them.
            scan = free if len(workers) == 1 else min(free * SPREAD * len(workers), MAX_SCAN)
            due: list[dict[str, Any]] = []
            upcoming: float | None = None
            query = writer.system.query(SCHEDULED).with_index(
                BY_STATE, lambda r: r.eq("state.kind", "pending")
            )
            async for job in query:
                if job["scheduledTime"] > now:
                    upcoming = _earliest(upcoming, job["scheduledTime"])
                    break
                if job["_id"] in self._running:
                    continue  # a mutation stays pending until it commits
                if len(due) >= scan:
                    break  # no free slot, or enough to choose from: a finishing run wakes us
                not_before = self._retry_at.get(job["_id"], (0, now))[1]
                if not_before > now:
                    upcoming = _earliest(upcoming, not_before)
                    continue
                due.append(job)
            return workers, due, await read_crons(writer) if crons else [], upcoming

        workers, due, cron_rows, upcoming = await in_transaction(self.engine, read)
        due, wait = self._pick(due, workers, free, now)
        if wait is not None:
            upcoming = _earliest(upcoming, wait)
        for job in due:
            self._spawn(job["_id"], self._run_job(job))
        started = len(due)
        for row in cron_rows:
            name, at = row["name"], row["nextRun"]
            key = cron_key(name)
            if at > now:
                upcoming = _earliest(upcoming, at)
            elif key in self._running or row["state"]["kind"] == "inProgress":
                if self._cron_due.get(key) != at:  # a later due time came while it runs
                    self.metrics["cron_skips"] += await skip_busy_cron(self.engine, name, at, now)
            elif len(self._running) < self.concurrency:  # else a finishing run wakes us
                self._cron_due[key] = at
                self._spawn(key, self._run_cron(row))
                started += 1
        return started, upcoming

    def _pick(
        self, due: list[dict[str, Any]], workers: list[str], free: int, now: float
    ) -> tuple[list[dict[str, Any]], float | None]:
        """Which of the ``due`` jobs (oldest first) to start, and when to look again for
        the ones left to other workers. With other live workers: the jobs that hash to
        this one, then those of the others seen due for ``steal_after_ms``, at random
        (other idle workers may take them too)."""
        if len(workers) == 1:
            self._seen.clear()
            return due[:free], None
        if not free:
            return [], None  # keep the times seen: nothing was looked at
        own: list[dict[str, Any]] = []
        stolen: list[dict[str, Any]] = []
        seen: dict[str, float] = {}
        wait: float | None = None
        for job in due:
            if home(workers, job["_id"]) == self.worker_id:
                own.append(job)
                continue
            first = seen[job["_id"]] = self._seen.get(job["_id"], now)
            if now - first >= self.steal_after_ms:
                stolen.append(job)
            else:
                wait = _earliest(wait, first + self.steal_after_ms)
        self._seen = seen
        self._rng.shuffle(stolen)
        return (own + stolen)[:free], wait

    def _spawn(self, key: str, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(self._guard(key, work))
        self._running[key] = task

    async def _guard(self, key: str, work: Awaitable[None]) -> None:
        try:
            await work
            self._retry_at.pop(key, None)
        except Exception:
            # Internal (the store failing a write): the job is still owed; back off.
            failures = self._retry_at.get(key, (0, 0.0))[0] + 1
            delay = min(60_000.0, 500.0 * 2 ** (failures - 1))
            self._retry_at[key] = (failures, self.clock.now_ms() + delay)
            self.metrics["internal_errors"] += 1
            log.exception("scheduler: %s failed internally; retrying in %.1f s", key, delay / 1000)
        finally:
            self._running.pop(key, None)
            self._cron_due.pop(key, None)
            self._wake.set()

    async def _run_job(self, job: dict[str, Any]) -> None:
        result = await run_scheduled_job(self.engine, job["_id"], job, self.clock, self.leases)
        self._count(result, "jobs")

    async def _run_cron(self, row: dict[str, Any]) -> None:
        result = await run_cron(self.engine, row, self.clock, self.leases)
        self._count(result, "cron")

    def _count(self, result: FunctionResult | None, prefix: str) -> None:
        if result is None:
            return
        self.metrics[f"{prefix}_run" if prefix == "jobs" else "cron_runs"] += 1
        if result.error is not None:
            self.metrics["jobs_failed" if prefix == "jobs" else "cron_failures"] += 1
            log.info("%s %s failed: %s", prefix, result.path, result.error)
        elif prefix == "jobs":
            self.metrics["jobs_succeeded"] += 1
        for line in result.log_lines:
            log.debug("%s: %s", result.path, line)


def _earliest(current: float | None, candidate: float) -> float:
    return candidate if current is None else min(current, candidate)
