"""Crons at run time: their rows in ``_cron_jobs``, deploys, and each run.

A row per cron (internal to reactor; readable with ``ctx.db.system``)::

    {name, schedule: {kind: "interval", ms} | {kind: "cron", cronExpr},
     function: "mod.js:fn", args: [argsObject],
     nextRun: ms,                       # the next scheduled time
     state: {kind: "idle"} | {kind: "inProgress", scheduledTime, startTime},
     history: [{scheduledTime, completedTime?, state: {kind: "success" | "failed"
                (+ error) | "skipped" (+ count)}}]}      # the newest last

A cron action's run holds a lease keyed ``cron:<name>`` in
``_scheduled_job_leases`` while it runs (see ``_leases``).

``nextRun`` only ever moves from one scheduled time to a later one, so a
restart neither loses a run nor repeats one. A run's claim checks that
``nextRun`` still names the run; a due time that arrives while the previous
run is still going is skipped and logged, never queued (SCH-11).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from reactor.engine._database import SystemWriter
from reactor.engine._results import FunctionResult
from reactor.functions import App
from reactor.scheduler._clock import Clock
from reactor.scheduler._crons import CronJob, Crons, CronSchedule
from reactor.scheduler._errors import InvalidCronError, InvalidScheduledFunctionError
from reactor.scheduler._jobs import (
    INTERRUPTED,
    describe_error,
    in_transaction,
    outcome_state,
    resolve_target,
)
from reactor.scheduler._leases import Leases, Recovery, cron_key, drop_leases, find_lease
from reactor.scheduler._runner import run_action_at_most_once, run_mutation_exactly_once

if TYPE_CHECKING:
    from reactor.engine import Engine

__all__ = ["CRONS", "app_crons", "recover_crons", "run_cron", "skip_busy_cron", "sync_crons"]

log = logging.getLogger("reactor.scheduler")

CRONS: Final = "_cron_jobs"
HISTORY: Final = 20


def app_crons(app: App) -> dict[str, CronJob]:
    """The crons ``functions/crons.py`` declares (``crons = Crons()``), if any."""
    module = app.modules.get("crons")
    if module is None:
        return {}
    crons = getattr(module, "crons", None)
    if crons is None:
        log.warning("functions/crons.py defines no `crons = Crons()`: no crons")
        return {}
    if not isinstance(crons, Crons):
        raise InvalidCronError(
            f"functions/crons.py: `crons` is a {type(crons).__name__}, not Crons"
        )
    return crons.jobs


async def read_crons(writer: SystemWriter) -> list[dict[str, Any]]:
    return await writer.system.query(CRONS).with_index("by_name").collect()


async def sync_crons(engine: Engine, app: App, now_ms: float) -> None:
    """Make ``_cron_jobs`` match the app's crons: add new ones (an interval runs at
    once), re-time changed schedules, update targets, drop removed crons."""
    wanted: dict[str, dict[str, Any]] = {}
    for job in app_crons(app).values():
        try:
            name, _ = resolve_target(app, job.path)
        except InvalidScheduledFunctionError as exc:
            raise InvalidCronError(f"cron {job.name!r}: {exc}") from None
        wanted[job.name] = {
            "schedule": job.schedule.to_value(),
            "function": name,
            "args": [job.args],
        }

    async def body(writer: SystemWriter) -> None:
        existing = {row["name"]: row for row in await read_crons(writer)}
        for name, old in existing.items():
            if name not in wanted:
                await writer.delete(old["_id"])
        for name, spec in wanted.items():
            row = existing.get(name)
            schedule = CronSchedule.from_value(spec["schedule"])
            if row is None:
                await writer.insert(
                    CRONS,
                    {
                        "name": name,
                        **spec,
                        "nextRun": schedule.first(now_ms),
                        "state": {"kind": "idle"},
                        "history": [],
                    },
                )
            elif row["schedule"] != spec["schedule"]:
                await writer.patch(row["_id"], {**spec, "nextRun": schedule.first(now_ms)})
            elif row["function"] != spec["function"] or row["args"] != spec["args"]:
                await writer.patch(row["_id"], spec)

    await in_transaction(engine, body)


async def recover_crons(engine: Engine, recovery: Recovery) -> int:
    """After a crash: a cron action left running (its lease expired) is recorded
    failed, not re-run."""

    async def body(writer: SystemWriter) -> int:
        count = 0
        for row in await read_crons(writer):
            state = row["state"]
            key = cron_key(row["name"])
            if state["kind"] == "inProgress" and recovery.abandoned(await find_lease(writer, key)):
                failed = {"kind": "failed", "error": INTERRUPTED}
                entry = _entry(state["scheduledTime"], recovery.now_ms, failed)
                history = _log(row["history"], entry)
                await writer.patch(row["_id"], {"state": {"kind": "idle"}, "history": history})
                await drop_leases(writer, key)
                count += 1
        return count

    return await in_transaction(engine, body)


async def skip_busy_cron(engine: Engine, name: str, due_ms: float, now_ms: float) -> int:
    """The run due at ``due_ms`` found the previous one still going: skip every due
    time up to now. Returns how many were skipped (0 if the row moved on)."""

    async def body(writer: SystemWriter) -> int:
        row = await _row(writer, name)
        if row is None or row["nextRun"] != due_ms:
            return 0
        schedule = CronSchedule.from_value(row["schedule"])
        following, missed = schedule.catch_up(due_ms, now_ms)
        if following <= now_ms:  # due now too: still busy, skip it as well
            following, missed = schedule.next_after(following), missed + 1
        count = missed + 1
        entry = {"scheduledTime": due_ms, "state": {"kind": "skipped", "count": count}}
        await writer.patch(
            row["_id"], {"nextRun": following, "history": _log(row["history"], entry)}
        )
        return count

    count = await in_transaction(engine, body)
    if count:
        log.warning(
            "cron %r: skipped %d run(s) from %.0f: the previous run is still in progress",
            name,
            count,
            due_ms,
        )
    return count


async def run_cron(
    engine: Engine, row: Mapping[str, Any], clock: Clock, leases: Leases
) -> FunctionResult | None:
    """Run the cron whose row is ``row`` for its due time ``row["nextRun"]``.

    Returns None if the run was no longer owed (another run took it, or a
    deploy changed the cron).
    """
    name, due, path = row["name"], row["nextRun"], row["function"]
    args = row["args"][0] if row["args"] else {}

    async def owed(writer: SystemWriter) -> dict[str, Any] | None:
        current = await _row(writer, name)
        if current is None or current["nextRun"] != due or current["function"] != path:
            return None
        return current if current["state"]["kind"] == "idle" else None

    async def advance(
        writer: SystemWriter, current: dict[str, Any], fields: dict[str, Any]
    ) -> None:
        # The next run follows the scheduled time, not the clock: no drift. Due
        # times this run overran are skipped, not queued.
        now = clock.now_ms()
        schedule = CronSchedule.from_value(current["schedule"])
        following, missed = schedule.catch_up(due, now)
        history = current.get("history", [])
        if "outcome" in fields:
            history = _log(history, _entry(due, now, fields.pop("outcome")))
        if missed:
            first = schedule.next_after(due)
            skipped = {"scheduledTime": first, "state": {"kind": "skipped", "count": missed}}
            history = _log(history, skipped)
            log.warning(
                "cron %r: skipped %d run(s) from %.0f: late or overran", name, missed, first
            )
        await writer.patch(current["_id"], {"nextRun": following, "history": history, **fields})

    error: BaseException
    try:
        kind: str | None = engine.app.lookup(path, allow_internal=True).kind
    except Exception as exc:
        kind, error = None, exc
    if kind == "mutation":

        async def claim(writer: SystemWriter) -> bool:
            return await owed(writer) is not None

        async def succeed(writer: SystemWriter, _: FunctionResult) -> None:
            current = await owed(writer)
            assert current is not None  # claim read it in this same transaction
            await advance(writer, current, {"outcome": {"kind": "success"}})

        result = await run_mutation_exactly_once(engine, path, args, claim=claim, succeed=succeed)
        if result is None or result.error is None:
            return result
        error = result.error
    elif kind == "action":

        async def start(writer: SystemWriter) -> bool:
            current = await owed(writer)
            if current is not None:
                state = {"kind": "inProgress", "scheduledTime": due, "startTime": clock.now_ms()}
                await advance(writer, current, {"state": state})
            return current is not None

        async def finish(writer: SystemWriter, result: FunctionResult) -> None:
            current = await _row(writer, name)
            state = None if current is None else current["state"]
            if current is None or state is None or state.get("scheduledTime") != due:
                return  # removed or re-deployed meanwhile
            history = _log(
                current.get("history", []), _entry(due, clock.now_ms(), outcome_state(result))
            )
            await writer.patch(current["_id"], {"state": {"kind": "idle"}, "history": history})

        return await run_action_at_most_once(
            engine, path, args, claim=start, finish=finish, leases=leases, key=cron_key(name)
        )
    elif kind is not None:
        error = TypeError(f"{path} is a {kind}: a cron runs a mutation or an action")

    async def record_failure(writer: SystemWriter) -> None:
        current = await owed(writer)
        if current is not None:
            outcome = {"kind": "failed", "error": describe_error(error)}
            await advance(writer, current, {"outcome": outcome})

    await in_transaction(engine, record_failure)
    return FunctionResult(path=path, kind=kind or "mutation", error=error)


async def _row(writer: SystemWriter, name: str) -> dict[str, Any] | None:
    query = writer.system.query(CRONS).with_index("by_name", lambda r: r.eq("name", name))
    row: dict[str, Any] | None = await query.unique()
    return row


def _entry(due: float, now: float, state: dict[str, Any]) -> dict[str, Any]:
    return {"scheduledTime": due, "completedTime": now, "state": state}


def _log(history: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [*history, entry][-HISTORY:]
