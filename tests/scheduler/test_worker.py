"""The background worker: waking, restarts, crashes, concurrency, races, retention."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from scheduler_helpers import call, open_engine, wait_until

from reactor.engine import Engine
from reactor.scheduler import INTERRUPTED, ManualClock, SchedulerWorker

pytestmark = pytest.mark.anyio


async def job_state(engine: Engine, job_id: str) -> dict[str, Any]:
    row = await call(engine, "query", "jobs:get_job", {"id": job_id})
    state: dict[str, Any] = row["state"]
    return state


async def tags(engine: Engine) -> list[str]:
    return [e["tag"] for e in await call(engine, "query", "jobs:events")]


async def schedule(engine: Engine, ref: str, args: Any, delay: float = 0) -> str:
    job: str = await call(
        engine, "mutation", "jobs:schedule", {"delay": delay, "ref": ref, "args": args}
    )
    return job


async def test_a_commit_wakes_the_worker(app_dir: Path, tmp_path: Path) -> None:
    async with open_engine(app_dir, tmp_path, run_scheduler=True) as engine:
        far = await schedule(engine, "jobs:record", {"tag": "far"}, delay=60_000)
        await asyncio.sleep(0.1)  # the worker now sleeps until the far job
        started = time.monotonic()
        near = await schedule(engine, "jobs:record", {"tag": "near"}, delay=200)

        async def near_done() -> bool:
            return (await job_state(engine, near))["kind"] == "success"

        await wait_until(near_done, within=5)
        assert 0.15 < time.monotonic() - started < 2.0
        assert (await job_state(engine, far))["kind"] == "pending"
        assert engine.scheduler.metrics["jobs_succeeded"] == 1


async def test_a_mutation_scheduled_before_a_restart_runs_once_after(
    app_dir: Path, tmp_path: Path
) -> None:
    async with open_engine(app_dir, tmp_path, run_scheduler=True) as first:
        job = await schedule(first, "jobs:record", {"tag": "once"}, delay=1500)
    # The first engine stopped before the job was due; a new one on the same data runs it.
    async with open_engine(app_dir, tmp_path, run_scheduler=True) as second:
        assert (await job_state(second, job))["kind"] == "pending"

        async def done() -> bool:
            return (await job_state(second, job))["kind"] == "success"

        await wait_until(done, within=5)
        await asyncio.sleep(0.3)
        assert await tags(second) == ["once"]
    async with open_engine(app_dir, tmp_path, run_scheduler=True) as third:
        await asyncio.sleep(0.3)
        assert await tags(third) == ["once"]


async def test_stopping_interrupts_a_running_action(app_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    engine = open_engine(app_dir, tmp_path, run_scheduler=True)
    engine.scheduler.stop_grace_s = 0.05
    async with engine:
        job = await schedule(engine, "jobs:slow_action", {"marker": str(marker), "seconds": 30})
        await wait_until(lambda: _exists(marker))
        assert (await job_state(engine, job))["kind"] == "inProgress"
    async with open_engine(app_dir, tmp_path, run_scheduler=True) as again:
        assert await job_state(again, job) == {"kind": "failed", "error": INTERRUPTED}
        await asyncio.sleep(0.3)
    assert marker.read_text() == "started\n"


async def _exists(path: Path) -> bool:
    return await asyncio.to_thread(path.exists)


async def test_an_action_killed_mid_run_is_failed_not_rerun(app_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("crash_child.py")),
        str(app_dir),
        str(tmp_path),
        str(marker),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        job = (await asyncio.wait_for(child.stdout.readline(), 60)).decode().strip()
        await wait_until(lambda: _exists(marker), within=30)  # the action is running
    finally:
        child.kill()  # SIGKILL: no cleanup of any kind
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    async with open_engine(app_dir, tmp_path, run_scheduler=True) as engine:
        assert await job_state(engine, job) == {"kind": "failed", "error": INTERRUPTED}
        assert engine.scheduler.metrics["jobs_interrupted"] == 1
        await asyncio.sleep(0.5)
        assert engine.scheduler.metrics["jobs_run"] == 0
    assert marker.read_text() == "started\n"  # started once, never again


async def test_concurrency_is_bounded(app_dir: Path, tmp_path: Path) -> None:
    engine = open_engine(app_dir, tmp_path, run_scheduler=False)
    async with engine:
        fns = engine.app.modules["cron_fns"]
        fns.gate = asyncio.Event()
        worker = SchedulerWorker(engine, concurrency=2)
        for _ in range(5):
            await schedule(engine, "cron_fns:slow", {})
        await worker.start()
        try:

            async def two_running() -> bool:
                return bool(fns.running == 2)

            await wait_until(two_running)
            await asyncio.sleep(0.2)
            assert fns.max_running == 2
            fns.gate.set()

            async def all_done() -> bool:
                return worker.metrics["jobs_succeeded"] == 5

            await wait_until(all_done)
            assert fns.max_running == 2
        finally:
            await worker.stop()


async def test_racing_workers_run_each_mutation_once(app_dir: Path, tmp_path: Path) -> None:
    """Two workers over one store: the claim inside the job's own transaction makes
    the loser of every race conflict, re-check, and find the job done."""
    async with open_engine(app_dir, tmp_path, run_scheduler=False) as engine:
        ids = [await schedule(engine, "jobs:record", {"tag": f"j{i}"}) for i in range(20)]
        clock = ManualClock(time.time() * 1000 + 1000)
        workers = [SchedulerWorker(engine, clock=clock, concurrency=20) for _ in range(2)]
        ran = await asyncio.gather(*(w.run_due() for w in workers))
        assert sum(ran) >= 20  # both started some of the same jobs ...
        assert sorted(await tags(engine)) == sorted(f"j{i}" for i in range(20))  # ... once
        assert sum(w.metrics["jobs_succeeded"] for w in workers) == 20
        for job in ids:
            assert (await job_state(engine, job))["kind"] == "success"


async def test_finished_jobs_are_deleted_after_retention(app_dir: Path, tmp_path: Path) -> None:
    async with open_engine(app_dir, tmp_path, run_scheduler=False) as engine:
        done = await schedule(engine, "jobs:record", {"tag": "done"})
        canceled = await schedule(engine, "jobs:record", {"tag": "x"}, delay=1000)
        pending = await schedule(engine, "jobs:record", {"tag": "y"}, delay=30 * 86_400_000)
        now = time.time() * 1000
        worker = SchedulerWorker(engine, clock=ManualClock(now + 10))
        assert await worker.run_due() == 1
        await call(engine, "mutation", "jobs:cancel", {"id": canceled})
        assert await worker.cleanup() == 0  # younger than 7 days
        later = SchedulerWorker(engine, clock=ManualClock(now + 7 * 86_400_000 + 60_000))
        assert await later.cleanup() == 2
        remaining = [j["_id"] for j in await call(engine, "query", "jobs:all_jobs")]
        assert remaining == [pending]
        assert done not in remaining
