"""Leases and shared work: several workers on one store, on hand-moved clocks.

A running action holds a lease in ``_scheduled_job_leases`` that its worker
renews; recovery fails only the runs whose lease has expired. On a shared
store, workers keep heartbeats and split the due jobs between them. Each
worker here has a clock of its own: a worker whose clock stands still renews
nothing, as if its process had frozen or died.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from scheduler_helpers import call, copy_app, open_engine, wait_until
from store_kinds import MONGO_LANES, fresh_database

from reactor.engine import Engine
from reactor.functions import load_app
from reactor.scheduler import INTERRUPTED, ManualClock, SchedulerWorker
from reactor.scheduler._jobs import in_transaction
from reactor.scheduler._leases import Leases, home, worker_key
from reactor.storage import MongoStore

pytestmark = pytest.mark.anyio

LEASE = 60_000.0  # renewed every 10 s of a worker's clock
RENEW = LEASE / 6


def now_ms() -> float:
    return time.time() * 1000 + 1000  # a little ahead: what was just scheduled is due


async def leases(engine: Engine) -> list[dict[str, Any]]:
    async def read(ctx: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await ctx.db.system.query("_scheduled_job_leases").collect()
        return rows

    rows: list[dict[str, Any]] = (await engine.run_in_transaction(read)).unwrap()
    return rows


async def job_state(engine: Engine, job_id: str) -> dict[str, Any]:
    row = await call(engine, "query", "jobs:get_job", {"id": job_id})
    state: dict[str, Any] = row["state"]
    return state


async def schedule(engine: Engine, ref: str, args: Any = None) -> str:
    job: str = await call(
        engine, "mutation", "jobs:schedule", {"delay": 0, "ref": ref, "args": args or {}}
    )
    return job


async def start_slow_action(engine: Engine, worker: SchedulerWorker) -> tuple[str, Any]:
    """Start ``worker`` and a job running ``cron_fns:slow``, held until the gate opens."""
    fns = engine.app.modules["cron_fns"]
    fns.gate = asyncio.Event()
    await worker.start()
    job = await schedule(engine, "cron_fns:slow")

    async def running() -> bool:
        return bool(fns.running == 1)

    await wait_until(running)
    return job, fns


async def lease_expiry(engine: Engine, key: str) -> float:
    [row] = [row for row in await leases(engine) if row["key"] == key]
    return float(row["expiresAt"])


async def test_a_running_action_renews_its_lease_and_releases_it(
    app_dir: Path, tmp_path: Path
) -> None:
    async with open_engine(app_dir, tmp_path, run_scheduler=False) as engine:
        t0 = now_ms()
        clock = ManualClock(t0)
        worker = SchedulerWorker(engine, clock=clock, lease_ms=LEASE)
        try:
            job, fns = await start_slow_action(engine, worker)
            [lease] = await leases(engine)
            assert lease["key"] == job and lease["owner"] == worker.worker_id
            assert lease["expiresAt"] == t0 + LEASE
            for step in range(1, 4):
                clock.advance(RENEW)

                async def renewed(step: int = step) -> bool:
                    return await lease_expiry(engine, job) == t0 + step * RENEW + LEASE

                await wait_until(renewed)
            # Well past the first lease: the worker's own recovery leaves its run alone.
            assert await worker.recover_expired() == 0
            fns.gate.set()

            async def done() -> bool:
                return (await job_state(engine, job))["kind"] == "success"

            await wait_until(done)
            assert await leases(engine) == []  # released with the outcome
        finally:
            await worker.stop()


async def test_recovery_fails_only_runs_whose_lease_expired(app_dir: Path, tmp_path: Path) -> None:
    async with open_engine(app_dir, tmp_path, run_scheduler=False) as engine:
        t0 = now_ms()
        clock_a, clock_b = ManualClock(t0), ManualClock(t0)
        a = SchedulerWorker(engine, clock=clock_a, lease_ms=LEASE)
        b = SchedulerWorker(engine, clock=clock_b, lease_ms=LEASE)
        try:
            job, fns = await start_slow_action(engine, a)
            # Both clocks move on together for three leases: A keeps renewing.
            for _ in range(18):
                clock_a.advance(RENEW)
                clock_b.advance(RENEW)
                expected = clock_a.now_ms() + LEASE

                async def renewed(expected: float = expected) -> bool:
                    return await lease_expiry(engine, job) == expected

                await wait_until(renewed)
                assert await b.recover_expired() == 0
            assert (await job_state(engine, job))["kind"] == "inProgress"
            # A freezes (its clock stands still: no renewal); the lease runs out on B's.
            clock_b.advance(LEASE - 1)
            assert await b.recover_expired() == 0
            clock_b.advance(1)
            assert await b.recover_expired() == 1
            assert await job_state(engine, job) == {"kind": "failed", "error": INTERRUPTED}
            assert b.metrics["jobs_interrupted"] == 1
            assert await leases(engine) == []
            # A wakes up: its renewal finds the lease gone, and its outcome is dropped.
            clock_a.advance(RENEW)

            async def lost() -> bool:
                return a.metrics["leases_lost"] == 1

            await wait_until(lost)
            fns.gate.set()
            await a.wait_idle()
            assert await job_state(engine, job) == {"kind": "failed", "error": INTERRUPTED}
            assert len(fns.starts) == 1  # never run again
        finally:
            await a.stop()


async def test_a_cron_action_is_recovered_only_once_its_lease_expired(
    app_dir: Path, tmp_path: Path
) -> None:
    app = copy_app(
        app_dir, tmp_path / "app", 'crons.interval("slow", minutes=1, ref="cron_fns:slow")\n'
    )
    async with open_engine(app, tmp_path, run_scheduler=False) as engine:
        t0 = now_ms()
        clock_a, clock_b = ManualClock(t0), ManualClock(t0)
        fns = engine.app.modules["cron_fns"]
        fns.gate = asyncio.Event()
        a = SchedulerWorker(engine, clock=clock_a, lease_ms=LEASE)
        b = SchedulerWorker(engine, clock=clock_b, lease_ms=LEASE)
        try:
            await a.start()  # deploys the cron, whose first run starts at once

            async def running() -> bool:
                return bool(fns.running == 1)

            await wait_until(running)
            [lease] = await leases(engine)
            assert (lease["key"], lease["owner"]) == ("cron:slow", a.worker_id)
            clock_b.advance(LEASE - 1)
            assert await b.recover_expired() == 0
            clock_b.advance(1)
            assert await b.recover_expired() == 1
            crons = await _crons(engine)
            assert crons[0]["state"] == {"kind": "idle"}
            assert crons[0]["history"][-1]["state"] == {"kind": "failed", "error": INTERRUPTED}
            assert await leases(engine) == []
        finally:
            fns.gate.set()
            await a.stop()


async def _crons(engine: Engine) -> list[dict[str, Any]]:
    async def read(ctx: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await ctx.db.system.query("_cron_jobs").collect()
        return rows

    rows: list[dict[str, Any]] = (await engine.run_in_transaction(read)).unwrap()
    return rows


async def test_a_stale_lease_of_a_finished_run_is_swept(app_dir: Path, tmp_path: Path) -> None:
    """A job canceled while its action ran, whose worker then died: its lease stays
    behind until it expires, then recovery deletes it (and leaves the job canceled)."""
    async with open_engine(app_dir, tmp_path, run_scheduler=False) as engine:
        t0 = now_ms()
        clock_a, clock_b = ManualClock(t0), ManualClock(t0)
        a = SchedulerWorker(engine, clock=clock_a, lease_ms=LEASE)
        b = SchedulerWorker(engine, clock=clock_b, lease_ms=LEASE)
        try:
            job, fns = await start_slow_action(engine, a)
            await call(engine, "mutation", "jobs:cancel", {"id": job})
            clock_b.advance(LEASE - 1)
            await b.recover_expired()
            assert len(await leases(engine)) == 1  # not expired yet
            clock_b.advance(1)
            assert await b.recover_expired() == 0  # nothing to fail ...
            assert await leases(engine) == []  # ... but the lease is gone
            assert (await job_state(engine, job))["kind"] == "canceled"
        finally:
            fns.gate.set()
            await a.stop()


# -- on a shared store -------------------------------------------------------------


@pytest.fixture(params=MONGO_LANES)
def mongo_lane(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def shared_store(request: pytest.FixtureRequest, mongo_lane: str) -> Iterator[MongoStore]:
    for uri, name in fresh_database(request, mongo_lane):
        yield MongoStore(uri, database=name, poll_interval=0.01)


@pytest.fixture
async def shared_engine(app_dir: Path, shared_store: MongoStore) -> AsyncIterator[Engine]:
    async with Engine(load_app(app_dir), shared_store, run_scheduler=False) as engine:
        yield engine


async def test_a_worker_starting_on_a_shared_store_spares_live_runs(
    shared_engine: Engine,
) -> None:
    """On a shared store, a worker's start fails only the runs whose lease expired:
    another process may be running the others right now."""
    engine = shared_engine
    t0 = now_ms()
    clock_a, clock_b = ManualClock(t0), ManualClock(t0)
    a = SchedulerWorker(engine, clock=clock_a, lease_ms=LEASE)
    assert a.share_work  # by default on a shared store
    try:
        job, fns = await start_slow_action(engine, a)
        keys = {row["key"] for row in await leases(engine)}
        assert keys == {job, worker_key(a.worker_id)}  # the run's lease, A's heartbeat
        b = SchedulerWorker(engine, clock=clock_b, lease_ms=LEASE)
        assert await b.recover() == 0  # another process's live run: left alone
        assert (await job_state(engine, job))["kind"] == "inProgress"
        # A froze (its clock stands still): once its leases expire, a worker that
        # starts fails its run, and sweeps its heartbeat.
        clock_b.advance(LEASE)
        assert await b.recover() == 1
        assert await job_state(engine, job) == {"kind": "failed", "error": INTERRUPTED}
        assert await leases(engine) == []
        fns.gate.set()
        await a.wait_idle()
        assert await job_state(engine, job) == {"kind": "failed", "error": INTERRUPTED}
    finally:
        fns.gate.set()
        await a.stop()


# -- sharing the work ----------------------------------------------------------------


async def test_workers_split_due_jobs_by_their_heartbeats(app_dir: Path, tmp_path: Path) -> None:
    async with open_engine(app_dir, tmp_path, run_scheduler=False) as engine:
        clock = ManualClock(now_ms())
        workers = [
            SchedulerWorker(engine, clock=clock, share_work=True, steal_after_ms=LEASE)
            for _ in range(2)
        ]
        for worker in workers:  # heartbeats only: the loops are not needed here
            await beat(engine, worker.leases)
        ids = [await schedule(engine, "jobs:record", {"tag": f"j{i}"}) for i in range(20)]
        ran = await asyncio.gather(*(w.run_due() for w in workers))
        owners = sorted(w.worker_id for w in workers)
        for worker, count in zip(workers, ran, strict=True):
            share = [job for job in ids if home(owners, job) == worker.worker_id]
            assert count == len(share) == worker.metrics["jobs_succeeded"]
        assert sum(ran) == 20 and all(ran)  # each ran its own share, and only that
        assert engine.metrics["occ_retries"] == 0  # never raced
        assert sorted(e["tag"] for e in await call(engine, "query", "jobs:events")) == sorted(
            f"j{i}" for i in range(20)
        )


async def beat(engine: Engine, leases: Leases) -> None:
    """A heartbeat of the worker of ``leases``, as ``start()`` takes it."""
    key = worker_key(leases.owner)
    await in_transaction(engine, lambda w: leases.take(w, key))


async def test_a_silent_workers_jobs_are_taken_after_a_while(app_dir: Path, tmp_path: Path) -> None:
    async with open_engine(app_dir, tmp_path, run_scheduler=False) as engine:
        clock = ManualClock(now_ms())
        await beat(engine, Leases(engine, "ghost", clock, LEASE))  # no worker behind it
        worker = SchedulerWorker(engine, clock=clock, share_work=True, steal_after_ms=2000)
        ids = [await schedule(engine, "jobs:record", {"tag": f"j{i}"}) for i in range(20)]
        owners = sorted(["ghost", worker.worker_id])
        mine = [job for job in ids if home(owners, job) == worker.worker_id]
        assert 0 < len(mine) < 20
        assert await worker.run_due() == len(mine)
        clock.advance(1999)
        assert await worker.run_due() == 0
        clock.advance(1)
        assert await worker.run_due() == 20 - len(mine)
        states = [(await job_state(engine, job))["kind"] for job in ids]
        assert states == ["success"] * 20


async def test_a_stopped_worker_drops_its_heartbeat(app_dir: Path, tmp_path: Path) -> None:
    async with open_engine(app_dir, tmp_path, run_scheduler=False) as engine:
        clock = ManualClock(now_ms())
        worker = SchedulerWorker(engine, clock=clock, share_work=True, lease_ms=LEASE)
        await worker.start()
        try:
            [heartbeat] = await leases(engine)
            assert heartbeat["key"] == worker_key(worker.worker_id)
            clock.advance(RENEW)

            async def renewed() -> bool:
                return await lease_expiry(engine, heartbeat["key"]) == clock.now_ms() + LEASE

            await wait_until(renewed)
        finally:
            await worker.stop()
        assert await leases(engine) == []


async def test_racing_workers_run_a_cron_action_once_per_due_time(
    app_dir: Path, tmp_path: Path
) -> None:
    app = copy_app(
        app_dir, tmp_path / "app", 'crons.interval("slow", seconds=1, ref="cron_fns:slow")\n'
    )
    async with open_engine(app, tmp_path, run_scheduler=False) as engine:
        fns = engine.app.modules["cron_fns"]
        t0 = now_ms()
        clock = ManualClock(t0)
        workers = [SchedulerWorker(engine, clock=clock) for _ in range(3)]
        await workers[0].sync_crons()
        for _ in range(5):
            await asyncio.gather(*(w.run_due(crons=True) for w in workers))
            clock.advance(1000)
        assert len(fns.starts) == 5
        [row] = await _crons(engine)
        times = [entry["scheduledTime"] for entry in row["history"]]
        assert times == [t0 + 1000 * k for k in range(5)]
        assert {entry["state"]["kind"] for entry in row["history"]} == {"success"}
        assert sum(w.metrics["cron_runs"] for w in workers) == 5
        assert await leases(engine) == []
