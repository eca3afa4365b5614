"""Leases: which worker is running an action, and until when its claim holds.

Several processes may share one store, each with its own ``SchedulerWorker``.
An action's claim commits before the action starts (at most once: see
``_runner``), so a process that dies mid-action leaves its claim behind, and
recovery marks such a run failed instead of running it again. A lease tells a
claim left by a dead worker from one a live worker is still running. A row of
``_scheduled_job_leases`` (internal to reactor, so that the rows of
``_scheduled_functions`` keep only the fields Convex documents)::

    {key: <job id> | "cron:<name>" | "worker:<worker id>", owner: <worker id>,
     expiresAt: ms}

* the claim of an action inserts its lease, in the claim's own transaction;
* the worker renews it every ``ttl / 6`` while the action runs;
* the transaction that records the outcome deletes it;
* recovery (when a worker starts, then periodically) fails only the runs whose
  lease has expired: their worker died, or could not reach the store for a
  whole lease. A worker whose renewal finds its lease gone (its run was
  recovered meanwhile) stops renewing; the run's outcome is then not recorded.

On a store no other process shares (``Store.shared`` is False), a worker that
starts is the only one there is: every claim left in progress was cut off by
a stop or a crash, whatever its lease says (``Recovery.everything``).

On a shared store each running worker also holds a lease on ``worker:<id>``:
its heartbeat. The live ones tell the workers who else is there, so that
they split the due jobs between them (``home``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from reactor.engine._database import SystemWriter
from reactor.scheduler._clock import Clock
from reactor.scheduler._jobs import in_transaction

if TYPE_CHECKING:
    from reactor.engine import Engine

__all__ = [
    "BY_EXPIRY",
    "BY_KEY",
    "LEASES",
    "LEASE_MS",
    "Leases",
    "Recovery",
    "cron_key",
    "drop_leases",
    "find_lease",
    "home",
    "live_workers",
    "read_leases",
    "worker_key",
]

log = logging.getLogger("reactor.scheduler")

LEASES: Final = "_scheduled_job_leases"
BY_KEY: Final = "by_key"
BY_EXPIRY: Final = "by_expires_at"
LEASE_MS: Final = 30_000.0
"""How long a claim holds without a renewal: well over any store hiccup."""


_WORKER: Final = "worker:"


def cron_key(name: str) -> str:
    """The lease key of a cron's run (a job's key is its id)."""
    return f"cron:{name}"


def worker_key(owner: str) -> str:
    """The lease key of a worker's heartbeat."""
    return f"{_WORKER}{owner}"


async def live_workers(writer: SystemWriter, now_ms: float) -> list[str]:
    """The ids of the workers whose heartbeat is live, in order."""
    end = _WORKER[:-1] + chr(ord(_WORKER[-1]) + 1)  # just past every "worker:..." key
    query = writer.system.query(LEASES).with_index(
        BY_KEY, lambda r: r.gte("key", _WORKER).lt("key", end)
    )
    return sorted({row["owner"] async for row in query if row["expiresAt"] > now_ms})


def home(workers: Sequence[str], key: str) -> str:
    """Which of ``workers`` a job belongs to: rendezvous hashing, so that every worker
    that knows the same set agrees, and a worker that joins or leaves moves only
    its own share of the jobs."""

    def score(owner: str) -> bytes:
        return hashlib.blake2b(f"{owner}\0{key}".encode(), digest_size=8).digest()

    return max(workers, key=score)


async def read_leases(writer: SystemWriter, key: str) -> list[dict[str, Any]]:
    """The lease rows of ``key``: one at most, but never trust that blindly."""
    query = writer.system.query(LEASES).with_index(BY_KEY, lambda r: r.eq("key", key))
    return await query.collect()


async def find_lease(writer: SystemWriter, key: str) -> dict[str, Any] | None:
    rows = await read_leases(writer, key)
    return max(rows, key=lambda row: row["expiresAt"]) if rows else None


async def drop_leases(writer: SystemWriter, key: str) -> None:
    """Delete every lease of ``key``, whoever holds it (its run was recovered)."""
    for row in await read_leases(writer, key):
        await writer.delete(row["_id"])


@dataclass(frozen=True)
class Recovery:
    """What recovery counts as abandoned: a claim whose lease has expired (or that has
    none), unless this worker is running it; with ``everything``, any claim."""

    now_ms: float
    everything: bool = False
    owner: str = ""
    running: frozenset[str] = field(default_factory=frozenset)
    """The keys of the runs this worker has going (and renews) right now."""

    def abandoned(self, lease: Mapping[str, Any] | None) -> bool:
        if self.everything or lease is None:
            return True
        if lease["owner"] == self.owner and lease["key"] in self.running:
            return False  # this worker's own run, renewed late (a stalled loop): alive
        return bool(lease["expiresAt"] <= self.now_ms)


class Leases:
    """The leases one worker takes, renews and releases, under its ``owner`` id."""

    def __init__(
        self,
        engine: Engine,
        owner: str,
        clock: Clock,
        ttl_ms: float,
        metrics: dict[str, int] | None = None,
    ) -> None:
        if ttl_ms <= 0:
            raise ValueError("a lease must last a positive time")
        self.engine = engine
        self.owner = owner
        self.clock = clock
        self.ttl_ms = ttl_ms
        self.metrics = metrics if metrics is not None else {}

    @property
    def renew_ms(self) -> float:
        return self.ttl_ms / 6

    async def take(self, writer: SystemWriter, key: str) -> None:
        """Hold ``key`` (in the claim's transaction); a stale row of it is taken over."""
        fields = {"owner": self.owner, "expiresAt": self.clock.now_ms() + self.ttl_ms}
        rows = await read_leases(writer, key)
        for extra in rows[1:]:
            await writer.delete(extra["_id"])
        if rows:
            await writer.patch(rows[0]["_id"], fields)
        else:
            await writer.insert(LEASES, {"key": key, **fields})

    async def release(self, writer: SystemWriter, key: str) -> None:
        """Drop this worker's lease of ``key`` (in the outcome's transaction); a lease
        someone else took meanwhile (a later run of the same cron) stays."""
        for row in await read_leases(writer, key):
            if row["owner"] == self.owner:
                await writer.delete(row["_id"])

    async def renew(self, key: str, *, retake: bool = False) -> bool:
        """Push this worker's lease of ``key`` a full ``ttl`` ahead; False if it holds
        none any more (its run was recovered as interrupted), unless ``retake``: then
        take it again (a heartbeat)."""

        async def body(writer: SystemWriter) -> bool:
            rows = [row for row in await read_leases(writer, key) if row["owner"] == self.owner]
            for row in rows:
                await writer.patch(row["_id"], {"expiresAt": self.clock.now_ms() + self.ttl_ms})
            if not rows and retake:
                await self.take(writer, key)
            return bool(rows)

        held: bool = await in_transaction(self.engine, body)
        return held

    def keep(self, key: str, *, retake: bool = False) -> asyncio.Task[None]:
        """Renew the lease of ``key`` in the background until the task is cancelled;
        with ``retake``, take it again whenever it was lost (see ``renew``)."""
        # Timed from now, not from when the task first gets to run.
        return asyncio.ensure_future(self._keep(key, self.clock.now_ms(), retake=retake))

    @contextlib.asynccontextmanager
    async def held(self, key: str) -> AsyncIterator[None]:
        """Renew the lease of ``key`` in the background while the block runs."""
        task = self.keep(key)
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _keep(self, key: str, since: float, *, retake: bool) -> None:
        while True:
            await self.clock.sleep_until(since + self.renew_ms)
            since = self.clock.now_ms()
            try:
                held = await self.renew(key, retake=retake)
            except Exception:
                log.exception("scheduler: could not renew the lease of %s; trying again", key)
                continue
            if not held and retake:
                log.warning("scheduler: the lease of %s had lapsed; taken again", key)
            elif not held:
                self.metrics["leases_lost"] = self.metrics.get("leases_lost", 0) + 1
                log.warning(
                    "scheduler: the lease of %s was lost (its run was recovered as "
                    "interrupted meanwhile): the outcome of this run will not be recorded",
                    key,
                )
                return
