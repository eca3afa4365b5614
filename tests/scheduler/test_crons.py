"""Crons: definitions, schedule arithmetic, deploys, runs, skips, restarts."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from scheduler_helpers import call, copy_app, open_engine, wait_until, write_crons

from reactor import Crons
from reactor.engine import Engine
from reactor.functions import load_app
from reactor.scheduler import (
    INTERRUPTED,
    CronSchedule,
    InvalidCronError,
    ManualClock,
    SchedulerWorker,
)

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000_000.0  # a whole minute, in ms


# -- definitions ---------------------------------------------------------------


def test_names_are_unique() -> None:
    crons = Crons()
    crons.interval("a", seconds=5, ref="cron_fns:tick")
    with pytest.raises(InvalidCronError, match="registered twice: a"):
        crons.cron("a", "* * * * *", "cron_fns:tick")


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"seconds": 1, "minutes": 1}, {"seconds": 0}, {"minutes": -1}, {"hours": 1.5}],
)
def test_an_interval_takes_one_positive_integer(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidCronError):
        Crons().interval("x", ref="cron_fns:tick", **kwargs)


@pytest.mark.parametrize("spec", ["* * * *", "* * * * * *", "61 * * * *", "0 0 31 2 *", ""])
def test_bad_cron_strings(spec: str) -> None:
    with pytest.raises(InvalidCronError):
        Crons().cron("x", spec, "cron_fns:tick")


def test_helpers_make_cron_strings() -> None:
    crons = Crons()
    crons.hourly("h", minute_utc=17, ref="cron_fns:tick")
    crons.daily("d", hour_utc=9, minute_utc=30, ref="cron_fns:tick")
    crons.weekly("w", day_of_week="tuesday", hour_utc=8, ref="cron_fns:tick")
    crons.monthly("m", day=30, hour_utc=0, ref="cron_fns:tick", args={"k": 1})
    assert {n: j.schedule.expr for n, j in crons.jobs.items()} == {
        "h": "17 * * * *",
        "d": "30 9 * * *",
        "w": "0 8 * * 2",
        "m": "0 0 30 * *",
    }
    assert crons.jobs["m"].args == {"k": 1.0}
    assert crons.jobs["h"].path == "cron_fns:tick"
    with pytest.raises(InvalidCronError, match="hour_utc"):
        crons.daily("bad", hour_utc=24, ref="cron_fns:tick")
    with pytest.raises(InvalidCronError, match="day_of_week"):
        crons.weekly("bad", day_of_week="funday", hour_utc=1, ref="cron_fns:tick")
    with pytest.raises(InvalidCronError, match="printable ASCII"):
        crons.hourly("caf\u00e9", minute_utc=1, ref="cron_fns:tick")
    with pytest.raises(InvalidCronError, match="args"):
        crons.hourly("a", minute_utc=1, ref="cron_fns:tick", args={"s": {1}})


def test_schedule_arithmetic() -> None:
    every = CronSchedule("interval", interval_ms=1000)
    assert every.first(T0) == T0
    assert every.next_after(T0) == T0 + 1000
    assert every.catch_up(T0, T0 + 500) == (T0 + 1000, 0)
    assert every.catch_up(T0, T0 + 2000) == (T0 + 2000, 1)  # T0+1000 was missed
    assert every.catch_up(T0, T0 + 2500) == (T0 + 3000, 2)
    monthly = CronSchedule("cron", expr="0 0 30 * *")
    jan31 = dt.datetime(2026, 1, 31, tzinfo=dt.UTC).timestamp() * 1000
    march30 = dt.datetime(2026, 3, 30, tzinfo=dt.UTC).timestamp() * 1000
    assert monthly.next_after(jan31) == march30  # February has no 30th
    minutely = CronSchedule("cron", expr="* * * * *")
    assert minutely.first(T0 + 30_000) == T0 + 60_000
    assert minutely.catch_up(T0, T0 + 150_000) == (T0 + 180_000, 2)


# -- running them ----------------------------------------------------------------


class Harness:
    """An app copy with a crons.py, an engine without its own worker, and a worker
    on a hand-moved clock."""

    def __init__(self, app: Path, data: Path, start: float = T0) -> None:
        self.app, self.data = app, data
        self.clock = ManualClock(start)
        self.engine: Engine | None = None
        self.worker: SchedulerWorker | None = None

    async def __aenter__(self) -> Harness:
        self.engine = open_engine(self.app, self.data, run_scheduler=False)
        await self.engine.start()
        self.worker = SchedulerWorker(self.engine, clock=self.clock)
        await self.worker.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.engine is not None and self.worker is not None
        await self.worker.stop()
        await self.engine.stop()

    async def step(self, ms: float = 0) -> None:
        """Move the clock, let the worker see it, and wait for what it started."""
        assert self.worker is not None
        self.clock.advance(ms)
        await self.worker.kick()
        await self.worker.wait_idle()

    async def row(self, name: str) -> dict[str, Any]:
        rows = await self.rows()
        [row] = [r for r in rows if r["name"] == name]
        return row

    async def rows(self) -> list[dict[str, Any]]:
        assert self.engine is not None

        rows: list[dict[str, Any]] = (await self.engine.run_in_transaction(_read_crons)).unwrap()
        return rows

    async def tick_count(self) -> int:
        assert self.engine is not None
        return len(
            [e for e in await call(self.engine, "query", "jobs:events") if e["tag"] == "tick"]
        )


async def test_an_interval_cron_runs_on_schedule_without_drift(
    app_dir: Path, tmp_path: Path
) -> None:
    app = copy_app(
        app_dir, tmp_path / "app", 'crons.interval("tick", seconds=1, ref="cron_fns:tick")\n'
    )
    async with Harness(app, tmp_path) as h:
        await h.step()  # an interval cron first runs when deployed
        for _ in range(10):
            await h.step(1000 + 0.25)  # the clock wanders a little; the schedule does not
            await h.step(0)
        row = await h.row("tick")
        runs = [e for e in row["history"] if e["state"]["kind"] == "success"]
        assert [e["scheduledTime"] for e in runs] == [T0 + 1000 * k for k in range(11)]
        assert await h.tick_count() == 11
        assert row["nextRun"] == T0 + 11_000
        assert h.worker is not None and h.worker.metrics["cron_runs"] == 11


async def test_a_slow_run_causes_skips_not_stacking(app_dir: Path, tmp_path: Path) -> None:
    app = copy_app(
        app_dir, tmp_path / "app", 'crons.interval("slow", seconds=1, ref="cron_fns:slow")\n'
    )
    async with Harness(app, tmp_path) as h:
        assert h.engine is not None and h.worker is not None
        fns = h.engine.app.modules["cron_fns"]
        fns.gate = asyncio.Event()
        h.clock.advance(0)
        await h.worker.kick()  # the first run starts and blocks on the gate

        async def started() -> bool:
            return len(fns.starts) == 1

        await wait_until(started)
        assert (await h.row("slow"))["state"]["kind"] == "inProgress"
        for _ in range(2):
            h.clock.advance(1000)
            await h.worker.kick()  # due while the first run goes on: skipped
        assert fns.running == 1
        fns.gate.set()
        await h.worker.wait_idle()
        await h.step(1000)  # T0 + 3000: runs again
        row = await h.row("slow")
        history = [(e["scheduledTime"] - T0, e["state"]["kind"]) for e in row["history"]]
        assert history == [(1000, "skipped"), (2000, "skipped"), (0, "success"), (3000, "success")]
        assert fns.max_running == 1
        assert len(fns.starts) == 2
        assert h.worker.metrics["cron_skips"] == 2
        assert row["state"] == {"kind": "idle"}


async def test_a_cron_string_runs_on_its_minutes(app_dir: Path, tmp_path: Path) -> None:
    app = copy_app(
        app_dir,
        tmp_path / "app",
        'crons.cron("minutely", "* * * * *", "cron_fns:tick", {"x": 1})\n',
    )
    async with Harness(app, tmp_path, start=T0 + 30_000) as h:
        await h.step()
        assert await h.tick_count() == 0  # not at deploy: at the next whole minute
        await h.step(30_000)
        await h.step(60_000)
        row = await h.row("minutely")
        assert [e["scheduledTime"] for e in row["history"]] == [T0 + 60_000, T0 + 120_000]
        assert row["args"] == [{"x": 1.0}]


async def test_failures_are_logged_and_the_schedule_goes_on(app_dir: Path, tmp_path: Path) -> None:
    app = copy_app(
        app_dir, tmp_path / "app", 'crons.interval("boom", hours=1, ref="cron_fns:boom")\n'
    )
    async with Harness(app, tmp_path) as h:
        await h.step()
        row = await h.row("boom")
        assert row["history"][-1]["state"] == {
            "kind": "failed",
            "error": "ValueError: cron failure",
        }
        assert row["nextRun"] == T0 + 3_600_000
        assert h.worker is not None and h.worker.metrics["cron_failures"] == 1


async def test_a_restart_neither_repeats_nor_loses_a_run(app_dir: Path, tmp_path: Path) -> None:
    app = copy_app(
        app_dir, tmp_path / "app", 'crons.interval("tick", seconds=10, ref="cron_fns:tick")\n'
    )
    async with Harness(app, tmp_path) as h:
        await h.step()
        await h.step(10_000)
        assert await h.tick_count() == 2
    async with Harness(app, tmp_path, start=T0 + 15_000) as h:
        await h.step()
        assert await h.tick_count() == 2  # the run at T0+10s is not repeated
        await h.step(5_000)
        assert await h.tick_count() == 3
        assert (await h.row("tick"))["history"][-1]["scheduledTime"] == T0 + 20_000
    # Down for a while: the missed run happens once at start, the rest are skipped.
    async with Harness(app, tmp_path, start=T0 + 65_000) as h:
        await h.step()
        row = await h.row("tick")
        assert await h.tick_count() == 4
        assert row["history"][-2:] == [
            {
                "scheduledTime": T0 + 30_000,
                "completedTime": T0 + 65_000,
                "state": {"kind": "success"},
            },
            {"scheduledTime": T0 + 40_000, "state": {"kind": "skipped", "count": 3}},
        ]
        assert row["nextRun"] == T0 + 70_000


async def test_a_cron_action_interrupted_by_a_stop_is_not_rerun(
    app_dir: Path, tmp_path: Path
) -> None:
    app = copy_app(
        app_dir, tmp_path / "app", 'crons.interval("slow", minutes=1, ref="cron_fns:slow")\n'
    )
    h = Harness(app, tmp_path)
    async with h:
        assert h.engine is not None and h.worker is not None
        fns = h.engine.app.modules["cron_fns"]
        fns.gate = asyncio.Event()  # never set: the run is cut off by the stop
        h.worker.stop_grace_s = 0.01
        await h.worker.kick()

        async def started() -> bool:
            return len(fns.starts) == 1

        await wait_until(started)
    async with Harness(app, tmp_path, start=T0 + 1000) as h2:
        await h2.step()
        row = await h2.row("slow")
        assert row["state"] == {"kind": "idle"}
        assert row["history"][-1]["state"] == {"kind": "failed", "error": INTERRUPTED}
        assert row["nextRun"] == T0 + 60_000


async def test_recovery_after_a_crash_mid_cron_action(app_dir: Path, tmp_path: Path) -> None:
    app = copy_app(
        app_dir, tmp_path / "app", 'crons.interval("slow", minutes=1, ref="cron_fns:slow")\n'
    )
    async with open_engine(app, tmp_path, run_scheduler=False) as engine:
        worker = SchedulerWorker(engine, clock=ManualClock(T0))
        await worker.sync_crons()

        async def crashed(ctx: Any) -> None:
            # What a crash leaves behind: the claim committed, the outcome never did.
            from reactor.scheduler._jobs import system_writer

            writer = system_writer(ctx)
            [row] = await writer.system.query("_cron_jobs").collect()
            state = {"kind": "inProgress", "scheduledTime": T0, "startTime": T0}
            await writer.patch(row["_id"], {"state": state, "nextRun": T0 + 60_000})

        (await engine.run_in_transaction(crashed)).unwrap()
        assert await worker.recover() == 1
        assert await worker.run_due(crons=True) == 0  # not re-run
        [row] = (await engine.run_in_transaction(_read_crons)).unwrap()
        assert row["state"] == {"kind": "idle"}
        assert row["history"][-1]["state"]["error"] == INTERRUPTED


async def _read_crons(ctx: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await ctx.db.system.query("_cron_jobs").collect()
    return rows


async def test_racing_workers_run_a_cron_mutation_once(app_dir: Path, tmp_path: Path) -> None:
    app = copy_app(
        app_dir, tmp_path / "app", 'crons.interval("tick", seconds=1, ref="cron_fns:tick")\n'
    )
    async with open_engine(app, tmp_path, run_scheduler=False) as engine:
        clock = ManualClock(T0)
        workers = [SchedulerWorker(engine, clock=clock) for _ in range(3)]
        await workers[0].sync_crons()
        for _ in range(5):
            await asyncio.gather(*(w.run_due(crons=True) for w in workers))
            clock.advance(1000)
        ticks = [e for e in await call(engine, "query", "jobs:events") if e["tag"] == "tick"]
        assert len(ticks) == 5
        assert sum(w.metrics["cron_runs"] for w in workers) == 5


async def test_a_reload_deploys_changed_crons(app_dir: Path, tmp_path: Path) -> None:
    app = copy_app(
        app_dir,
        tmp_path / "app",
        'crons.interval("tick", seconds=10, ref="cron_fns:tick")\n'
        'crons.interval("gone", seconds=10, ref="cron_fns:tick")\n'
        'crons.interval("same", seconds=10, ref="cron_fns:tick")\n',
    )
    async with Harness(app, tmp_path) as h:
        await h.step()
        assert h.worker is not None
        write_crons(
            app,
            'crons.interval("tick", seconds=30, ref="cron_fns:tick")\n'
            'crons.interval("same", seconds=10, ref="cron_fns:tick", args={"v": 2})\n'
            'crons.daily("new", hour_utc=3, ref="cron_fns:tick")\n',
        )
        h.clock.advance(1000)
        await h.worker.sync_crons(load_app(app))
        rows = {row["name"]: row for row in await h.rows()}
        assert set(rows) == {"tick", "same", "new"}
        assert rows["tick"]["schedule"] == {"kind": "interval", "ms": 30_000.0}
        assert rows["tick"]["nextRun"] == T0 + 1000  # a new interval runs at once
        assert rows["same"]["nextRun"] == T0 + 10_000  # its schedule did not change
        assert rows["same"]["args"] == [{"v": 2.0}]
        assert rows["new"]["schedule"] == {"kind": "cron", "cronExpr": "0 3 * * *"}


async def test_bad_targets_are_refused_at_deploy(app_dir: Path, tmp_path: Path) -> None:
    app = copy_app(
        app_dir, tmp_path / "app", 'crons.interval("q", seconds=1, ref="jobs:a_query")\n'
    )
    engine = open_engine(app, tmp_path, run_scheduler=True)
    with pytest.raises(InvalidCronError, match="only mutations and actions"):
        await engine.start()
    app2 = copy_app(app_dir, tmp_path / "app2", 'crons.interval("m", seconds=1, ref="nope:fn")\n')
    engine2 = open_engine(app2, tmp_path, run_scheduler=True)
    with pytest.raises(InvalidCronError, match="does not name"):
        await engine2.start()


async def test_engine_reload_syncs_crons(app_dir: Path, tmp_path: Path) -> None:
    app = copy_app(app_dir, tmp_path / "app", 'crons.interval("a", hours=1, ref="cron_fns:tick")\n')
    async with open_engine(app, tmp_path, run_scheduler=True) as engine:
        write_crons(app, 'crons.interval("b", hours=1, ref="cron_fns:tick")\n')
        await engine.reload(load_app(app))
        rows = (await engine.run_in_transaction(_read_crons)).unwrap()
        assert [row["name"] for row in rows] == ["b"]


@pytest.mark.slow
async def test_real_time_every_second(app_dir: Path, tmp_path: Path) -> None:
    """A few seconds on the wall clock: runs land on schedule, 1 s apart exactly."""
    app = copy_app(
        app_dir, tmp_path / "app", 'crons.interval("tick", seconds=1, ref="cron_fns:tick")\n'
    )
    async with open_engine(app, tmp_path, run_scheduler=True) as engine:
        await asyncio.sleep(3.5)
        [row] = (await engine.run_in_transaction(_read_crons)).unwrap()
    runs = [e for e in row["history"] if e["state"]["kind"] == "success"]
    assert len(runs) >= 3
    first = runs[0]["scheduledTime"]
    assert [e["scheduledTime"] for e in runs] == [first + 1000 * k for k in range(len(runs))]
    for entry in runs:
        assert 0 <= entry["completedTime"] - entry["scheduledTime"] < 500
    assert first <= time.time() * 1000
