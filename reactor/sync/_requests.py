"""Exactly-once client mutations: (sessionId, requestId) records in ``_session_requests``.

After a reconnect the npm client re-sends every mutation it has not seen
reflected in a Transition, under the same sessionId and requestId (PROTOCOL.md
§4.3). The mutation's own transaction looks its key up first and, once the
handler is done, records the result, so the record commits exactly when the
mutation's writes do. A re-send finds the record and returns the recorded
result (with a timestamp at or after the original commit) without running the
handler again. The look-up is in the read set, so a re-send racing the
original conflicts with it and re-runs to find the record: it cannot commit
twice.

Only successful mutations are recorded: a failed one rolled back, so running
it again is harmless. Records are deleted after a retention period by
``purge_session_requests``.

The official Python client (its Rust core) opens a new sessionId on every
connection, so its re-sent mutations cannot be recognised this way and may
run twice; the npm client keeps its sessionId across reconnects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from reactor.engine import Engine, FunctionResult, MutationCtx
from reactor.engine._database import SystemWriter
from reactor.errors import ReactorError

__all__ = ["SESSION_REQUESTS", "exactly_once", "purge_session_requests"]

SESSION_REQUESTS = "_session_requests"
_INDEX = "by_session_request"


def _system_writer(ctx: MutationCtx) -> SystemWriter:
    # Built as MutationCtx builds its DatabaseWriter: on the same transaction,
    # so the record commits (or rolls back) with the mutation's own writes.
    return SystemWriter(ctx._tx, ctx._pagination, ctx._engine)


def exactly_once(session_id: str, request_id: int) -> Callable[[MutationCtx], Awaitable[Any]]:
    """A ``MutationHook`` for ``engine.run_mutation`` that makes the request run once."""
    number = float(request_id)  # a Convex number, as every JSON number is

    async def hook(ctx: MutationCtx) -> Any:
        recorded = await (
            ctx.db.system.query(SESSION_REQUESTS)
            .with_index(_INDEX, lambda r: r.eq("sessionId", session_id).eq("requestId", number))
            .first()
        )
        if recorded is not None:
            # ts stays None: the engine answers with this transaction's snapshot
            # ts, which is at or after the original commit (the record is in it).
            return FunctionResult(path="", kind="mutation", value=recorded.get("result"))
        writer = _system_writer(ctx)

        async def record(value: Any) -> None:
            await writer.insert(
                SESSION_REQUESTS, {"sessionId": session_id, "requestId": number, "result": value}
            )

        return record

    return hook


async def purge_session_requests(engine: Engine, older_than_ms: float, *, batch: int = 256) -> int:
    """Delete records created before ``older_than_ms`` (ms since the epoch); return how many."""
    total = 0
    while True:

        async def purge(ctx: MutationCtx) -> int:
            rows = await (
                ctx.db.system.query(SESSION_REQUESTS)
                .with_index("by_creation_time", lambda r: r.lt("_creationTime", older_than_ms))
                .take(batch)
            )
            writer = _system_writer(ctx)
            for row in rows:
                await writer.delete(row["_id"])
            return len(rows)

        result = await engine.run_in_transaction(purge)
        if result.error is not None:
            raise ReactorError(f"purging {SESSION_REQUESTS} failed: {result.error}")
        count = int(result.value)
        total += count
        if count < batch:
            return total
