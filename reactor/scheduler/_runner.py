"""Running one job: scheduled mutations exactly once, scheduled actions at most once.

A mutation's claim ("is this run still owed?") and its completion are made
inside the mutation's own transaction, through the engine's ``MutationHook``:
the claim's read is in the transaction's read set, so if two workers race,
one commits and the other conflicts, re-runs and finds the run already done.
The writes and the state change commit together or not at all, so a crash
at any point leaves either both or neither: the run happens exactly once.

An action cannot be rolled back, so its claim commits first, in a
transaction of its own, before the action starts; the outcome is recorded
after. A crash in between leaves the claim behind, and recovery marks it
failed instead of running it again: at most once. The claim takes a lease
(``_leases``) that the worker renews while the action runs and the outcome
releases, so that recovery in another process leaves a live run alone.

Both take their claim and completion as callbacks, so crons use the same
machinery on their ``_cron_jobs`` row as scheduled jobs do on theirs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from reactor.engine._database import SystemWriter
from reactor.engine._results import FunctionResult
from reactor.scheduler._clock import Clock
from reactor.scheduler._jobs import (
    ActionInterrupted,
    current_job,
    in_transaction,
    outcome_state,
    system_writer,
    transition,
)
from reactor.scheduler._leases import Leases

if TYPE_CHECKING:
    from reactor.engine import Engine, MutationCtx

__all__ = ["run_action_at_most_once", "run_mutation_exactly_once", "run_scheduled_job"]

log = logging.getLogger("reactor.scheduler")

Claim = Callable[[SystemWriter], Awaitable[bool]]
Record = Callable[[SystemWriter, FunctionResult], Awaitable[None]]


async def run_mutation_exactly_once(
    engine: Engine, path: str, args: Mapping[str, Any], *, claim: Claim, succeed: Record
) -> FunctionResult | None:
    """Run the mutation if ``claim`` says the run is owed, and ``succeed`` in the same
    transaction.

    Returns None if the run was not owed, else the result; a result with an
    ``error`` is a developer error (nothing it wrote was committed). A failure
    after the handler returned (the store failing the commit) is internal: it
    is raised, and the run is still owed.
    """
    owed = True
    handled = False

    async def hook(ctx: MutationCtx) -> Any:
        nonlocal owed, handled
        writer = system_writer(ctx)
        owed = await claim(writer)  # each attempt (after a conflict) asks again
        handled = False
        if not owed:
            return FunctionResult(path=path, kind="mutation")

        async def after(value: Any) -> None:
            nonlocal handled
            handled = True
            await succeed(writer, FunctionResult(path=path, kind="mutation", value=value))

        return after

    # No identity: scheduled functions and crons run as nobody (SCH-07).
    result = await engine.run_mutation(path, args, identity=None, allow_internal=True, hook=hook)
    if result.error is not None and handled:
        raise result.error
    return result if owed else None


async def run_action_at_most_once(
    engine: Engine,
    path: str,
    args: Mapping[str, Any],
    *,
    claim: Claim,
    finish: Record,
    leases: Leases,
    key: str,
) -> FunctionResult | None:
    """Commit ``claim`` with a lease of ``key``; if it holds, run the action (renewing
    the lease) and record it with ``finish``, which releases the lease.

    If the action is interrupted (the worker stops), ``finish`` gets a failed
    result saying so, and the cancellation goes on.
    """

    async def claim_and_lease(writer: SystemWriter) -> bool:
        if not await claim(writer):
            return False
        await leases.take(writer, key)
        return True

    async def finish_and_release(writer: SystemWriter, result: FunctionResult) -> None:
        await finish(writer, result)
        await leases.release(writer, key)

    if not await in_transaction(engine, claim_and_lease):
        return None
    try:
        async with leases.held(key):
            result = await engine.run_action(path, args, identity=None, allow_internal=True)
    except asyncio.CancelledError:
        interrupted = FunctionResult(path=path, kind="action", error=ActionInterrupted())
        try:
            await in_transaction(engine, lambda w: finish_and_release(w, interrupted), attempts=1)
        except Exception:
            log.exception("could not record that %s was interrupted", path)
        raise
    await in_transaction(engine, lambda w: finish_and_release(w, result))
    return result


async def run_scheduled_job(
    engine: Engine, job_id: str, job: Mapping[str, Any], clock: Clock, leases: Leases
) -> FunctionResult | None:
    """Run one pending job of ``_scheduled_functions``; None if it was no longer pending.
    An action's lease is keyed by the job's id."""
    path = job["name"]
    args = job["args"][0] if job["args"] else {}
    token = current_job.set(job_id)
    try:
        try:
            kind = engine.app.lookup(path, allow_internal=True).kind
        except Exception as exc:
            kind = None
            error: BaseException = exc
        if kind == "mutation":
            return await _run_mutation_job(engine, job_id, path, args, clock)
        if kind == "action":
            return await _run_action_job(engine, job_id, path, args, clock, leases)
        if kind is not None:
            error = TypeError(f"{path} is a {kind}: only mutations and actions can be scheduled")
        # SCH-09: a target that is gone, or not runnable, fails the job.
        failed = FunctionResult(path=path, kind=kind or "mutation", error=error)
        await _fail(engine, job_id, failed, clock, from_kinds=("pending",))
        return failed
    finally:
        current_job.reset(token)


async def _run_mutation_job(
    engine: Engine, job_id: str, path: str, args: Mapping[str, Any], clock: Clock
) -> FunctionResult | None:
    async def claim(writer: SystemWriter) -> bool:
        row = await writer.get(job_id)
        return row is not None and row["state"]["kind"] == "pending"

    async def succeed(writer: SystemWriter, _: FunctionResult) -> None:
        await writer.patch(job_id, {"state": {"kind": "success"}, "completedTime": clock.now_ms()})

    result = await run_mutation_exactly_once(engine, path, args, claim=claim, succeed=succeed)
    if result is not None and result.error is not None:
        # A developer error: its writes rolled back, and it is not retried (SCH-04).
        await _fail(engine, job_id, result, clock, from_kinds=("pending",))
    return result


async def _run_action_job(
    engine: Engine,
    job_id: str,
    path: str,
    args: Mapping[str, Any],
    clock: Clock,
    leases: Leases,
) -> FunctionResult | None:
    async def claim(writer: SystemWriter) -> bool:
        return await transition(
            writer, job_id, {"kind": "inProgress"}, from_kinds=("pending",), completed_ms=None
        )

    async def finish(writer: SystemWriter, result: FunctionResult) -> None:
        # A job canceled while its action ran stays canceled.
        await transition(
            writer,
            job_id,
            outcome_state(result),
            from_kinds=("inProgress",),
            completed_ms=clock.now_ms(),
        )

    return await run_action_at_most_once(
        engine, path, args, claim=claim, finish=finish, leases=leases, key=job_id
    )


async def _fail(
    engine: Engine,
    job_id: str,
    result: FunctionResult,
    clock: Clock,
    *,
    from_kinds: tuple[str, ...],
) -> None:
    state = outcome_state(result)
    await in_transaction(
        engine,
        lambda w: transition(w, job_id, state, from_kinds=from_kinds, completed_ms=clock.now_ms()),
    )
