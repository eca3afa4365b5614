"""``ctx.scheduler``: ``run_after``, ``run_at`` and ``cancel`` for mutations and actions.

From a mutation the job row is written in the mutation's own transaction:
it exists only if the mutation commits, and a failed nested ``run_mutation``
takes its schedules with it (SCH-02). From an action every call commits on
its own, right away (SCH-03).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reactor.engine._database import SystemWriter
from reactor.engine._query import PaginationState
from reactor.scheduler._errors import InvalidScheduledFunctionError
from reactor.scheduler._jobs import (
    SCHEDULED,
    check_args,
    check_delay,
    check_window,
    in_transaction,
    new_job,
    parent_canceled,
    resolve_target,
    timestamp_ms,
)
from reactor.values import value_size

if TYPE_CHECKING:
    from reactor.engine import Engine
    from reactor.engine._limits import Usage
    from reactor.engine._transaction import Transaction

__all__ = ["ActionScheduler", "MutationScheduler", "Scheduler", "ctx_scheduler_factory"]


class Scheduler:
    """What ``ctx.scheduler`` offers; the two subclasses differ in where rows are written."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _now_ms(self) -> float:
        raise NotImplementedError

    async def run_after(self, delay_ms: float, ref: Any, args: dict[str, Any] | None = None) -> str:
        """Run ``ref(args)`` ``delay_ms`` from now; returns the job's id."""
        now = self._now_ms()
        return await self._schedule(now + check_delay(delay_ms), now, ref, args)

    async def run_at(self, when: Any, ref: Any, args: dict[str, Any] | None = None) -> str:
        """Run ``ref(args)`` at ``when`` (ms since the epoch or an aware datetime);
        a time in the past runs as soon as possible."""
        return await self._schedule(timestamp_ms(when), self._now_ms(), ref, args)

    async def cancel(self, job_id: str) -> None:
        """Cancel a pending job, or mark a running action canceled (it keeps running);
        a finished job is left as it is (SCH-06)."""
        self._check_id(job_id)
        await self._write(lambda writer: _cancel(writer, job_id, self._now_ms()))

    async def _schedule(self, scheduled: float, now: float, ref: Any, args: Any) -> str:
        check_window(scheduled, now)
        name, _ = resolve_target(self._engine.app, ref)
        value = check_args(args, name)
        size = value_size(value)

        async def insert(writer: SystemWriter) -> str:
            self._usage(writer).schedule(size)
            canceled_at = now if await parent_canceled(writer) else None
            return await writer.insert(
                SCHEDULED, new_job(name, value, scheduled, canceled_at=canceled_at)
            )

        job_id: str = await self._write(insert)
        return job_id

    def _check_id(self, job_id: Any) -> None:
        if self._engine.catalog.table_name_for_id(job_id) != SCHEDULED:
            raise InvalidScheduledFunctionError(
                f"cancel takes the id of a scheduled function, got {job_id!r}"
            )

    @staticmethod
    def _usage(writer: SystemWriter) -> Usage:
        return writer._tx.usage

    async def _write(self, body: Callable[[SystemWriter], Any]) -> Any:
        raise NotImplementedError


class MutationScheduler(Scheduler):
    """Writes into the mutation's transaction; ``now`` is the mutation's frozen ``ctx.now``."""

    def __init__(self, engine: Engine, tx: Transaction) -> None:
        super().__init__(engine)
        self._tx = tx

    def _now_ms(self) -> float:
        return self._tx.begin_ms

    async def _write(self, body: Callable[[SystemWriter], Any]) -> Any:
        return await body(SystemWriter(self._tx, PaginationState(), self._engine))


class ActionScheduler(Scheduler):
    """Commits each call in a transaction of its own."""

    def _now_ms(self) -> float:
        return time.time() * 1000

    async def _write(self, body: Callable[[SystemWriter], Any]) -> Any:
        # One try: a schedule must not be written twice because a retry could
        # not tell whether the first write landed.
        return await in_transaction(self._engine, body, attempts=1)


async def _cancel(writer: SystemWriter, job_id: str, now: float) -> None:
    row = await writer.get(job_id)
    if row is None or row["state"]["kind"] not in ("pending", "inProgress"):
        return  # gone after retention, or finished: a no-op, as in Convex's backend
    await writer.patch(job_id, {"state": {"kind": "canceled"}, "completedTime": now})


def ctx_scheduler_factory(engine: Engine) -> Callable[[Transaction | None, Any], Scheduler]:
    """The ``Engine.scheduler_factory`` that gives every mutation and action its scheduler."""

    def factory(tx: Transaction | None, ctx: Any) -> Scheduler:
        if tx is None:
            return ActionScheduler(engine)
        return MutationScheduler(engine, tx)

    return factory
