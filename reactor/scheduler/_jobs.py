"""Jobs as rows of ``_scheduled_functions``, and the checks made when one is scheduled.

A job row holds only the fields Convex documents (SEMANTICS.md ID-05)::

    {name: "mod.js:fn", args: [argsObject], scheduledTime: ms,
     completedTime?: ms, state: {kind: "pending" | "inProgress" | "success"
                                      | "failed" (+ error: str) | "canceled"}}

The worker needs no field of its own: it finds due jobs through the index
``by_state`` on ``[state.kind, scheduledTime]`` (the pending range, oldest
first) and finished ones to delete through ``by_completed_time``.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from reactor.engine._database import SystemWriter
from reactor.engine._query import PaginationState
from reactor.engine._results import FunctionResult
from reactor.errors import FunctionNotFoundError, InvalidValueError
from reactor.functions import App, FunctionDefinition, canonical_path
from reactor.scheduler._errors import (
    InvalidScheduledFunctionDelayError,
    InvalidScheduledFunctionError,
)
from reactor.values import check_value, normalize, value_size

if TYPE_CHECKING:
    from reactor.engine import Engine, MutationCtx

__all__ = [
    "BY_COMPLETED",
    "BY_STATE",
    "INTERRUPTED",
    "SCHEDULED",
    "ActionInterrupted",
    "check_args",
    "check_delay",
    "current_job",
    "describe_error",
    "in_transaction",
    "new_job",
    "outcome_state",
    "resolve_target",
    "system_writer",
    "timestamp_ms",
    "transition",
]

T = TypeVar("T")

SCHEDULED: Final = "_scheduled_functions"
BY_STATE: Final = "by_state"
BY_COMPLETED: Final = "by_completed_time"
MAX_JOB_ARGS_SIZE: Final = 4 << 20  # LIM-05: 4 MiB of args per job
WINDOW_MS: Final = 5 * 366 * 24 * 3600 * 1000.0  # SCH-01: ±5 years of 366 days
INTERRUPTED: Final = "interrupted: the server stopped while the action ran"

current_job: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "reactor_scheduled_job", default=None
)
"""The id of the scheduled job whose function is running (and its nested calls):
a job scheduled while its parent job is canceled is created canceled (SCH-06)."""

TxBody = Callable[[SystemWriter], Awaitable[T]]


def system_writer(ctx: MutationCtx) -> SystemWriter:
    """A writer of system tables inside the transaction of ``ctx``."""
    # ctx keeps its transaction private; the scheduler is part of reactor, not user code.
    return SystemWriter(ctx._tx, PaginationState(), ctx._engine)


class ActionInterrupted(Exception):
    """The worker stopped (or the process died) while a scheduled action ran."""

    def __init__(self) -> None:
        super().__init__(INTERRUPTED)


def describe_error(exc: BaseException) -> str:
    """The ``error`` string of a failed job: the exception's type and message."""
    if isinstance(exc, ActionInterrupted):
        return INTERRUPTED
    name = type(exc).__name__
    text = str(exc)
    return text if text.startswith(name) else f"{name}: {text}" if text else name


def outcome_state(result: FunctionResult) -> dict[str, Any]:
    """The ``state`` a finished run leaves: success, or failed with its error."""
    if result.error is None:
        return {"kind": "success"}
    return {"kind": "failed", "error": describe_error(result.error)}


def resolve_target(app: App, ref: Any) -> tuple[str, FunctionDefinition]:
    """The canonical name and definition of a schedulable function of ``app``, or raise."""
    try:
        fn = app.lookup(ref, allow_internal=True)
    except (FunctionNotFoundError, TypeError, ValueError) as exc:
        raise InvalidScheduledFunctionError(f"{ref!r} does not name a function ({exc})") from None
    if fn.kind not in ("mutation", "action"):
        raise InvalidScheduledFunctionError(
            f"{fn.path} is a {fn.kind}: only mutations and actions can be scheduled"
        )
    assert fn.path is not None  # set when the app was loaded
    return canonical_path(fn.path), fn


def check_args(args: Any, name: str) -> dict[str, Any]:
    """Scheduled args: one object of Convex values, at most 4 MiB."""
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise InvalidScheduledFunctionError(
            f"the arguments of {name} must be an object, got {type(args).__name__}"
        )
    try:
        value: dict[str, Any] = normalize(args)
        check_value(value)
    except InvalidValueError as exc:
        raise InvalidScheduledFunctionError(f"the arguments of {name}: {exc}") from None
    if value_size(value) > MAX_JOB_ARGS_SIZE:
        raise InvalidScheduledFunctionError(
            f"the arguments of {name} are over {MAX_JOB_ARGS_SIZE} bytes"
        )
    return value


def check_delay(delay_ms: Any) -> float:
    if isinstance(delay_ms, bool) or not isinstance(delay_ms, int | float):
        raise InvalidScheduledFunctionDelayError(f"delay_ms must be a number, got {delay_ms!r}")
    if not math.isfinite(delay_ms):
        raise InvalidScheduledFunctionDelayError("delay_ms must be a finite number")
    if delay_ms < 0:
        raise InvalidScheduledFunctionDelayError("delay_ms must be non-negative")
    return float(delay_ms)


def timestamp_ms(when: Any) -> float:
    """``run_at``'s time: ms since the epoch, or an aware ``datetime``."""
    if isinstance(when, dt.datetime):
        # A naive datetime would silently mean the server's local time zone.
        if when.tzinfo is None or when.utcoffset() is None:
            raise InvalidScheduledFunctionDelayError(
                "run_at takes an aware datetime (with tzinfo), or ms since the epoch"
            )
        return when.timestamp() * 1000
    if isinstance(when, bool) or not isinstance(when, int | float):
        raise InvalidScheduledFunctionDelayError(
            f"run_at takes ms since the epoch or a datetime, got {when!r}"
        )
    if not math.isfinite(when):
        raise InvalidScheduledFunctionDelayError("the time given to run_at must be finite")
    return float(when)


def check_window(scheduled_ms: float, now_ms: float) -> None:
    if abs(scheduled_ms - now_ms) > WINDOW_MS:
        raise InvalidScheduledFunctionDelayError(
            "a function can be scheduled at most 5 years in the past or future"
        )


def new_job(
    name: str, args: dict[str, Any], scheduled_ms: float, *, canceled_at: float | None
) -> dict[str, Any]:
    """A job row; ``canceled_at`` creates it canceled (its parent job was canceled)."""
    job: dict[str, Any] = {
        "name": name,
        "args": [args],
        "scheduledTime": scheduled_ms,
        "state": {"kind": "pending" if canceled_at is None else "canceled"},
    }
    if canceled_at is not None:
        job["completedTime"] = canceled_at
    return job


async def parent_canceled(writer: SystemWriter) -> bool:
    """Whether the job running this code (if any) was canceled meanwhile (SCH-06)."""
    parent = current_job.get()
    if parent is None:
        return False
    row = await writer.get(parent)
    return row is not None and row["state"]["kind"] == "canceled"


async def in_transaction(engine: Engine, body: TxBody[T], *, attempts: int = 3) -> T:
    """Run ``body`` on a system writer in a transaction of its own, and commit.

    Conflicts are re-run by the engine; any other failure (the store failing a
    write) is tried again a few times: each body re-reads what it checks.
    """

    async def run(ctx: MutationCtx) -> T:
        return await body(system_writer(ctx))

    for attempt in range(attempts):
        result = await engine.run_in_transaction(run)
        if result.error is None:
            value: T = result.value
            return value
        if attempt == attempts - 1:
            raise result.error
        await asyncio.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


async def transition(
    writer: SystemWriter,
    job_id: str,
    state: dict[str, Any],
    *,
    from_kinds: tuple[str, ...],
    completed_ms: float | None,
) -> bool:
    """Move a job to ``state`` if it is in one of ``from_kinds``; say whether it moved."""
    row = await writer.get(job_id)
    if row is None or row["state"]["kind"] not in from_kinds:
        return False
    fields: dict[str, Any] = {"state": state}
    if completed_ms is not None:
        fields["completedTime"] = completed_ms
    await writer.patch(job_id, fields)
    return True
