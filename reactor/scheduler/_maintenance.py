"""Housekeeping of ``_scheduled_functions``: recovery after a crash (of the runs whose
lease expired, see ``_leases``), stale leases, and retention."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Final

from reactor.engine._database import SystemWriter
from reactor.scheduler._cron_state import CRONS
from reactor.scheduler._jobs import (
    BY_COMPLETED,
    BY_STATE,
    INTERRUPTED,
    SCHEDULED,
    in_transaction,
    transition,
)
from reactor.scheduler._leases import (
    BY_EXPIRY,
    LEASES,
    Recovery,
    drop_leases,
    find_lease,
)

if TYPE_CHECKING:
    from reactor.engine import Engine

__all__ = ["delete_finished", "drop_stale_leases", "fail_interrupted"]

_BATCH: Final = 256  # rows per transaction: well inside the write limits
_SCAN: Final = 4096  # in-progress jobs looked at per recovery: far more than ever run at once


async def fail_interrupted(engine: Engine, recovery: Recovery) -> int:
    """Mark the jobs left in progress by a stopped worker as failed. Only an action is
    ever in progress, and one whose lease expired was cut off (its worker died):
    at most once means it is never run again. Returns how many were failed."""
    failed = {"kind": "failed", "error": INTERRUPTED}

    async def abandoned(writer: SystemWriter) -> list[str]:
        query = writer.system.query(SCHEDULED).with_index(
            BY_STATE, lambda r: r.eq("state.kind", "inProgress")
        )
        rows = await query.take(_SCAN)
        return [
            row["_id"] for row in rows if recovery.abandoned(await find_lease(writer, row["_id"]))
        ]

    async def fail(writer: SystemWriter, ids: list[str]) -> int:
        count = 0
        for job_id in ids:  # checked again: the job or its lease may have moved since
            row = await writer.get(job_id)
            if row is None or row["state"]["kind"] != "inProgress":
                continue
            if not recovery.abandoned(await find_lease(writer, job_id)):
                continue
            await transition(
                writer, job_id, failed, from_kinds=("inProgress",), completed_ms=recovery.now_ms
            )
            await drop_leases(writer, job_id)
            count += 1
        return count

    ids = await in_transaction(engine, abandoned)
    count = 0
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        count += await in_transaction(engine, functools.partial(fail, ids=chunk))
    return count


async def drop_stale_leases(engine: Engine, recovery: Recovery) -> int:
    """Delete the expired leases of runs that are over (a job canceled while its action
    ran, then its worker died; a cron removed meanwhile). Run after the recovery of
    jobs and crons: a lease whose run is still in progress is left to that."""

    async def batch(writer: SystemWriter) -> tuple[int, bool]:
        bound = float("inf") if recovery.everything else recovery.now_ms
        query = writer.system.query(LEASES).with_index(
            BY_EXPIRY, lambda r: r.gte("expiresAt", float("-inf")).lte("expiresAt", bound)
        )
        rows = await query.take(_BATCH)
        count = 0
        for row in rows:
            if recovery.abandoned(row) and not await _in_progress(writer, row["key"]):
                await writer.delete(row["_id"])
                count += 1
        return count, len(rows) == _BATCH

    total = 0
    while True:
        count, full = await in_transaction(engine, batch)
        total += count
        if not (count and full):
            return total


async def _in_progress(writer: SystemWriter, key: str) -> bool:
    """Whether the run a lease is keyed by is still in progress."""
    row: dict[str, Any] | None
    if key.startswith("cron:"):
        name = key.removeprefix("cron:")
        query = writer.system.query(CRONS).with_index("by_name", lambda r: r.eq("name", name))
        row = await query.first()
    else:
        if writer.system.normalize_id(SCHEDULED, key) is None:
            return False
        row = await writer.get(key)
    return row is not None and row["state"]["kind"] == "inProgress"


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
