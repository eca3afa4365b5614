"""Housekeeping of ``_scheduled_functions``: recovery after a crash, and retention."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from reactor.engine._database import SystemWriter
from reactor.scheduler._jobs import (
    BY_COMPLETED,
    BY_STATE,
    INTERRUPTED,
    SCHEDULED,
    in_transaction,
    transition,
)

if TYPE_CHECKING:
    from reactor.engine import Engine

__all__ = ["delete_finished", "fail_interrupted"]

_BATCH: Final = 256  # rows per transaction: well inside the write limits


async def fail_interrupted(engine: Engine, now_ms: float) -> int:
    """Mark every job left in progress as failed. Only an action is ever in progress,
    and one found so at startup was cut off by a crash: at most once means it is
    never run again."""
    failed = {"kind": "failed", "error": INTERRUPTED}

    async def batch(writer: SystemWriter) -> int:
        query = writer.system.query(SCHEDULED).with_index(
            BY_STATE, lambda r: r.eq("state.kind", "inProgress")
        )
        rows = await query.take(_BATCH)
        for row in rows:
            await transition(
                writer, row["_id"], failed, from_kinds=("inProgress",), completed_ms=now_ms
            )
        return len(rows)

    count = 0
    while moved := await in_transaction(engine, batch):
        count += moved
    return count


async def delete_finished(engine: Engine, cutoff_ms: float) -> int:
    """Delete the jobs that finished (or were canceled) before ``cutoff_ms``."""

    async def batch(writer: SystemWriter) -> int:
        # Only finished jobs have a completedTime; the lower bound skips the rest.
        query = writer.system.query(SCHEDULED).with_index(
            BY_COMPLETED,
            lambda r: r.gte("completedTime", float("-inf")).lt("completedTime", cutoff_ms),
        )
        rows = await query.take(_BATCH)
        for row in rows:
            await writer.delete(row["_id"])
        return len(rows)

    count = 0
    while deleted := await in_transaction(engine, batch):
        count += deleted
    return count
