"""ctx.scheduler through ReactorTest: T09, T28-T32, validation and limits."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from scheduler_helpers import wait_until

from reactor.engine import CommitNotice, TransactionLimits
from reactor.errors import LimitExceededError
from reactor.scheduler import (
    InvalidScheduledFunctionDelayError,
    InvalidScheduledFunctionError,
)
from reactor.testing import ReactorTest

pytestmark = pytest.mark.anyio


async def jobs(t: ReactorTest) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await t.query("jobs:all_jobs")
    return rows


async def events(t: ReactorTest, tag: str | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await t.query("jobs:events")
    return [row for row in rows if tag is None or row["tag"] == tag]


async def schedule(t: ReactorTest, ref: str, args: Any = None, delay: float = 0) -> str:
    job: str = await t.mutation("jobs:schedule", {"delay": delay, "ref": ref, "args": args})
    return job


async def test_t09_a_failed_mutation_schedules_nothing(sched: ReactorTest) -> None:
    with pytest.raises(ValueError, match="fails after scheduling"):
        await sched.mutation("jobs:schedule_then_fail")
    assert await jobs(sched) == []
    assert await sched.finish_all_scheduled_functions() == 0
    assert await events(sched) == []


async def test_a_failed_nested_mutation_takes_its_schedules_with_it(sched: ReactorTest) -> None:
    await sched.mutation("jobs:parent_catches_child")
    assert [job["args"] for job in await jobs(sched)] == [[{"tag": "parent"}]]
    await sched.finish_all_scheduled_functions()
    assert [e["tag"] for e in await events(sched)] == ["parent"]


async def test_t28_a_scheduled_mutation_runs_once_as_nobody(sched: ReactorTest) -> None:
    engine = await sched.engine()
    seen: list[str] = []

    async def watch(notices: Sequence[CommitNotice]) -> None:
        # After every commit: the state every job is in (the store holds exactly
        # the commits notified so far).
        for job in (await engine.run_query("jobs:all_jobs", {})).unwrap():
            seen.append(job["state"]["kind"])

    engine.committer.add_listener(watch)
    job_id = await sched.with_identity({"subject": "u1"}).mutation(
        "jobs:schedule", {"delay": 0, "ref": "jobs:record_value", "args": None}
    )
    before = await sched.query("jobs:get_job", {"id": job_id})
    assert before["state"] == {"kind": "pending"}
    assert before["name"] == "jobs.js:record_value"
    assert before["args"] == [{}]
    assert "completedTime" not in before
    assert set(before) == {"_id", "_creationTime", "name", "args", "scheduledTime", "state"}

    # record_value requires args: use a target without validators for identity.
    await sched.finish_all_scheduled_functions()
    failed = await sched.query("jobs:get_job", {"id": job_id})
    assert failed["state"]["kind"] == "failed"  # {} lacks "tag": validated when it ran

    probe = await sched.with_identity({"subject": "u1"}).mutation(
        "jobs:schedule", {"delay": 0, "ref": "jobs:record", "args": {"tag": "probe"}}
    )
    assert await sched.finish_all_scheduled_functions() == 1
    after = await sched.query("jobs:get_job", {"id": probe})
    assert after["state"] == {"kind": "success"}
    assert after["completedTime"] >= after["scheduledTime"]
    assert after["name"] == "jobs.js:record"
    [event] = await events(sched, "probe")
    assert event["identity"] is None  # SCH-07: no identity, whoever scheduled it

    async def saw_success() -> bool:
        return "success" in seen  # a store with a commit feed notifies a moment later

    await wait_until(saw_success)
    engine.committer.remove_listener(watch)
    assert "inProgress" not in seen
    assert {"pending", "success", "failed"} <= set(seen)


async def test_t29_failures_are_recorded_and_never_retried(sched: ReactorTest) -> None:
    mutation_job = await schedule(sched, "jobs:fail")
    action_job = await schedule(sched, "jobs:fail_action")
    assert await sched.finish_all_scheduled_functions() == 2
    failed_mutation = await sched.query("jobs:get_job", {"id": mutation_job})
    assert failed_mutation["state"] == {"kind": "failed", "error": "ValueError: x"}
    assert "completedTime" in failed_mutation
    assert await events(sched, "fail-wrote") == []  # its writes rolled back
    failed_action = await sched.query("jobs:get_job", {"id": action_job})
    assert failed_action["state"] == {"kind": "failed", "error": "RuntimeError: the action fails"}
    [seen] = await events(sched, "fail_action")
    assert seen["value"] == ["inProgress"]  # the action saw itself in progress
    # Neither is retried.
    assert await sched.finish_all_scheduled_functions() == 0
    assert await sched.advance_time(60_000) == 0
    assert len(await events(sched, "fail_action")) == 1


async def test_t30_cancel(sched: ReactorTest) -> None:
    later = await schedule(sched, "jobs:record", {"tag": "later"}, delay=10_000)
    now = await schedule(sched, "jobs:record", {"tag": "now"})
    assert await sched.finish_in_progress_scheduled_functions() == 1
    await sched.mutation("jobs:cancel", {"id": later})
    canceled = await sched.query("jobs:get_job", {"id": later})
    assert canceled["state"] == {"kind": "canceled"}
    assert "completedTime" in canceled
    assert await sched.advance_time(20_000) == 0
    assert await sched.finish_all_scheduled_functions() == 0
    assert [e["tag"] for e in await events(sched)] == ["now"]
    # Cancelling a finished job is a no-op, from a mutation or an action.
    await sched.mutation("jobs:cancel", {"id": now})
    await sched.action("jobs:cancel_from_action", {"id": now})
    assert (await sched.query("jobs:get_job", {"id": now}))["state"] == {"kind": "success"}


async def test_cancel_from_an_action_commits_at_once(sched: ReactorTest) -> None:
    job = await schedule(sched, "jobs:record", {"tag": "x"}, delay=1000)
    await sched.action("jobs:cancel_from_action", {"id": job})
    assert (await sched.query("jobs:get_job", {"id": job}))["state"]["kind"] == "canceled"
    assert await sched.finish_all_scheduled_functions() == 0


async def test_cancel_takes_a_job_id(sched: ReactorTest) -> None:
    with pytest.raises(InvalidScheduledFunctionError, match="id of a scheduled function"):
        await sched.mutation("jobs:cancel", {"id": "not-an-id"})


async def test_t31_an_action_schedules_even_if_it_then_fails(sched: ReactorTest) -> None:
    with pytest.raises(RuntimeError, match="fails after scheduling"):
        await sched.action("jobs:schedule_then_throw")
    assert [job["state"]["kind"] for job in await jobs(sched)] == ["pending"]
    await sched.finish_all_scheduled_functions()
    assert [e["tag"] for e in await events(sched)] == ["from-action"]


async def test_t32_a_scheduled_mutation_runs_after_the_parent_commit(sched: ReactorTest) -> None:
    await sched.mutation("jobs:schedule_then_insert")
    await sched.finish_all_scheduled_functions()
    [a] = await events(sched, "A")
    assert a["sawB"] is True
    assert a["bCreation"] < a["_creationTime"]


async def test_args_are_validated_when_the_job_runs(sched: ReactorTest) -> None:
    """SCH-09: scheduling does not check the target's validator; running does."""
    job = await schedule(sched, "jobs:typed", {"n": "not a number"})
    assert (await sched.query("jobs:get_job", {"id": job}))["state"]["kind"] == "pending"
    await sched.finish_all_scheduled_functions()
    state = (await sched.query("jobs:get_job", {"id": job}))["state"]
    assert state["kind"] == "failed"
    assert state["error"].startswith("ArgumentValidationError")
    assert await events(sched, "typed") == []


async def test_a_target_gone_at_run_time_fails_the_job(sched: ReactorTest) -> None:
    job = await schedule(sched, "jobs:typed", {"n": 1})
    engine = await sched.engine()
    engine.app.functions.pop("jobs:typed")  # as if a deploy removed it
    await sched.finish_all_scheduled_functions()
    state = (await sched.query("jobs:get_job", {"id": job}))["state"]
    assert state["kind"] == "failed"
    assert "Could not find" in state["error"]


@pytest.mark.parametrize(
    ("ref", "message"),
    [("jobs:a_query", "only mutations and actions"), ("jobs:missing", "does not name")],
)
async def test_only_existing_mutations_and_actions_can_be_scheduled(
    sched: ReactorTest, ref: str, message: str
) -> None:
    with pytest.raises(InvalidScheduledFunctionError, match=message):
        await schedule(sched, ref)
    with pytest.raises(InvalidScheduledFunctionError, match=message):
        await sched.action("jobs:schedule_from_action", {"delay": 0, "ref": ref, "args": {}})
    assert await jobs(sched) == []


@pytest.mark.parametrize("delay", [-1, float("inf"), float("nan"), 6 * 366 * 24 * 3600 * 1000])
async def test_bad_delays_are_refused(sched: ReactorTest, delay: float) -> None:
    with pytest.raises(InvalidScheduledFunctionDelayError):
        await schedule(sched, "jobs:record", {"tag": "x"}, delay=delay)


async def test_run_at(sched: ReactorTest) -> None:
    past = time.time() * 1000 - 60_000
    job = await sched.mutation(
        "jobs:schedule_at", {"when": past, "ref": "jobs:record", "args": {"tag": "past"}}
    )
    row = await sched.query("jobs:get_job", {"id": job})
    assert row["scheduledTime"] == past  # kept even though it is in the past
    assert await sched.finish_in_progress_scheduled_functions() == 1
    too_old = time.time() * 1000 - 6 * 366 * 24 * 3600 * 1000
    with pytest.raises(InvalidScheduledFunctionDelayError, match="5 years"):
        await sched.mutation(
            "jobs:schedule_at", {"when": too_old, "ref": "jobs:record", "args": {"tag": "x"}}
        )


async def test_run_at_takes_an_aware_datetime(sched: ReactorTest) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)

    async def body(ctx: Any) -> str:
        job: str = await ctx.scheduler.run_at(when, "jobs:record", {"tag": "dt"})
        return job

    job = await sched.run(body)
    row = await sched.query("jobs:get_job", {"id": job})
    assert row["scheduledTime"] == pytest.approx(when.timestamp() * 1000)

    async def naive(ctx: Any) -> None:
        await ctx.scheduler.run_at(dt.datetime.now(), "jobs:record", {"tag": "x"})

    with pytest.raises(InvalidScheduledFunctionDelayError, match="aware"):
        await sched.run(naive)


async def test_args_must_be_a_convex_object(sched: ReactorTest) -> None:
    with pytest.raises(InvalidScheduledFunctionError, match="must be an object"):
        await schedule(sched, "jobs:record", [1, 2])

    async def bad_value(ctx: Any) -> None:
        await ctx.scheduler.run_after(0, "jobs:record", {"tag": {1, 2}})

    with pytest.raises(InvalidScheduledFunctionError):
        await sched.run(bad_value)
    big = {"blob": b"x" * (4 << 20)}
    with pytest.raises(InvalidScheduledFunctionError, match="over"):
        await schedule(sched, "jobs:record", big)


async def test_per_mutation_limits(app_dir: Path, tmp_path: Path) -> None:
    t = ReactorTest(app_dir, data_dir=tmp_path, limits=TransactionLimits(functions_scheduled=2))
    try:

        async def three(ctx: Any) -> None:
            for _ in range(3):
                await ctx.scheduler.run_after(0, "jobs:record", {"tag": "x"})

        with pytest.raises(LimitExceededError, match="TooManyFunctionsScheduled"):
            await t.run(three)
        assert await jobs(t) == []
    finally:
        await t.close()


async def test_finish_all_runs_jobs_scheduled_by_jobs_in_the_future(sched: ReactorTest) -> None:
    await sched.mutation("jobs:chain", {"n": 3})
    assert await sched.finish_all_scheduled_functions() == 3
    assert [e["n"] for e in await events(sched, "chain")] == [3, 2, 1, 0]
    await sched.mutation("jobs:chain", {"n": 10})
    with pytest.raises(RuntimeError, match="still pending"):
        await sched.finish_all_scheduled_functions(max_jobs=3)


async def test_advance_time_runs_only_what_is_due(sched: ReactorTest) -> None:
    await schedule(sched, "jobs:record", {"tag": "soon"}, delay=1000)
    await schedule(sched, "jobs:record", {"tag": "late"}, delay=60_000)
    assert await sched.advance_time(5000) == 1
    assert [e["tag"] for e in await events(sched)] == ["soon"]
    assert await sched.advance_time(60_000) == 1


async def test_a_canceled_running_action_stays_canceled_and_its_schedules_too(
    sched: ReactorTest, tmp_path: Path
) -> None:
    """SCH-06: cancel marks the running action canceled; it keeps running, and what it
    schedules from then on is created canceled."""
    marker = tmp_path / "marker.txt"
    job = await schedule(sched, "jobs:slow_action", {"marker": str(marker), "seconds": 0.3})
    running = asyncio.ensure_future(sched.finish_in_progress_scheduled_functions())

    async def in_progress() -> bool:
        row = await sched.query("jobs:get_job", {"id": job})
        return bool(row["state"]["kind"] == "inProgress")

    await wait_until(in_progress)
    await sched.mutation("jobs:cancel", {"id": job})
    assert await running == 1
    assert (await sched.query("jobs:get_job", {"id": job}))["state"] == {"kind": "canceled"}
    assert marker.read_text() == "started\n"  # it ran to its end
    child = [j for j in await jobs(sched) if j["name"] == "jobs.js:record"]
    assert [j["state"]["kind"] for j in child] == ["canceled"]
    assert await sched.finish_all_scheduled_functions() == 0
