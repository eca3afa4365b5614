"""Two ``reactor serve`` processes run one deployment's scheduled jobs and crons.

What each test proves:

* a process that starts while another runs a scheduled action leaves that run
  alone (its lease is live, and renewed while the action runs): the job ends
  ``success``, not failed as interrupted; and 40 due jobs are split between
  the two processes (each runs some), each run exactly once;
* with both processes running crons, a cron runs once per scheduled time: its
  history lists each time once, with one run of the function for each.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import cluster_helpers
import pytest
from cluster_helpers import Cluster, clients

from reactor.client import AsyncReactorClient

pytestmark = pytest.mark.anyio

APP = Path(__file__).parent / "scheduler_app"
LONG_S = 6.0  # over the 5 s after which a running action's lease is first renewed


async def poll(
    client: AsyncReactorClient, check: Any, within: float, every: float = 0.1
) -> dict[str, Any]:
    """The first ``work:report`` that satisfies ``check``."""
    async with asyncio.timeout(within):
        while True:
            report: dict[str, Any] = await client.query("work:report", {})
            if check(report):
                return report
            await asyncio.sleep(every)


def whats(report: dict[str, Any]) -> Counter[str]:
    return Counter(what for what, _ in report["runs"])


async def test_a_starting_process_spares_a_running_action_and_shares_the_jobs(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster_helpers, "APP", APP)
    jobs = 40
    [a] = cluster.start(1)
    async with clients([a.url]) as [on_a]:
        long_job = await on_a.mutation("work:start_long", {"seconds": LONG_S})
        await poll(on_a, lambda r: whats(r)["long started"] == 1, within=20)
        [b] = cluster.start(1)  # its scheduler's start-up recovery has run
        async with clients([b.url]) as [on_b]:
            report = await on_b.query("work:report", {})
            assert dict(report["jobs"])[long_job] == {"kind": "inProgress"}
            await asyncio.gather(
                on_a.mutation("work:schedule_many", {"first": 0, "count": jobs // 2}),
                on_b.mutation("work:schedule_many", {"first": jobs // 2, "count": jobs // 2}),
            )
            report = await poll(
                on_b,
                lambda r: sum(w.startswith("job ") for w in whats(r)) == jobs,
                within=60,
            )
            # The long action, which started before B did, still runs; then ends well.
            assert dict(report["jobs"])[long_job] == {"kind": "inProgress"}, "not long enough"
            report = await poll(
                on_a, lambda r: dict(r["jobs"])[long_job]["kind"] != "inProgress", within=30
            )
    assert dict(report["jobs"])[long_job] == {"kind": "success"}
    runs = whats(report)
    assert runs["long started"] == runs["long finished"] == 1
    assert runs == {"long started": 1, "long finished": 1, **{f"job {n}": 1 for n in range(jobs)}}
    by_process = Counter(pid for what, pid in report["runs"] if what.startswith("job "))
    print(f"jobs run by A: {by_process[a.pid]}, by B: {by_process[b.pid]}")
    assert set(by_process) == {a.pid, b.pid}, "one process ran every job"
    assert Counter(state["kind"] for _, state in report["jobs"]) == {"success": jobs + 1}
    assert "interrupted" not in a.log_text() + b.log_text()


CRONS = """from reactor import Crons, internal

crons = Crons()
crons.interval("tick", seconds=1, ref=internal.work.record, args={"what": "tick"})
crons.interval("act", seconds=1, ref=internal.work.cron_action)
"""


async def test_crons_run_once_per_scheduled_time_on_two_processes(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Path(shutil.copytree(APP, tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__")))
    (app / "functions" / "crons.py").write_text(CRONS)
    monkeypatch.setattr(cluster_helpers, "APP", app)
    a, b = cluster.start(2)
    async with clients([a.url]) as [on_a]:
        # Wait (bounded) until each cron has run a few times: under load a 1 s cron
        # may fall behind, which is allowed; running a scheduled time twice is not.
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            await asyncio.sleep(0.5)
            report = await on_a.query("work:report", {})
            done = [
                sum(e["state"]["kind"] == "success" for e in report["crons"][n]["history"])
                for n in ("tick", "act")
            ]
            if min(done) >= 3 or asyncio.get_running_loop().time() > deadline:
                break
    runs = whats(report)
    for name, what in (("tick", "tick"), ("act", "cron action")):
        cron = report["crons"][name]
        history = cron["history"]
        # The history is in the order outcomes were recorded (a skip can be
        # recorded before the run it overlapped finishes), not by scheduled time.
        times = sorted(entry["scheduledTime"] for entry in history)
        assert len(times) == len(set(times)), f"{name}: a scheduled time ran twice: {history}"
        assert all((t - times[0]) % 1000 == 0 for t in times), f"{name}: {times}"
        kinds = Counter(entry["state"]["kind"] for entry in history)
        assert set(kinds) <= {"success", "skipped"}, f"{name}: {history}"
        assert kinds["success"] >= 3, f"{name}: {history}"
        # A mutation's run and its history entry commit together; an action records
        # its run before the entry is written: one may be in flight.
        in_flight = cron["state"]["kind"] == "inProgress"
        assert kinds["success"] <= runs[what] <= kinds["success"] + in_flight, (
            f"{name}: {runs[what]} runs for {kinds['success']} successes"
        )
    ticks = Counter(pid for what, pid in report["runs"] if what == "tick")
    print(f"ticks run by A: {ticks[a.pid]}, by B: {ticks[b.pid]}")
