"""What a client is told about one function run: a value, or an error it may see.

Error surfaces (PROTOCOL.md §12, API.md "Functions"):

* ``ConvexError`` -> ``"Uncaught ConvexError: <data as JSON>"`` plus ``errorData``;
* reactor's own developer errors (bad args, unknown function, limits, ...) ->
  their message, which is written for the developer;
* anything else is an internal error: ``"Uncaught Error: <message>"`` when
  ``dev_errors`` is on, else ``"[Request ID: <id>] Server Error"``, so internals
  never leak to clients of a production server. The full traceback is logged
  under the same request id. System errors (``reactor.engine.is_system_error``:
  storage faults, conflicts past the retries, ``InternalServerError``) are
  internal errors, though some are ``ReactorError`` subclasses.

A mutation that ended with ``InternalServerError`` (a storage fault that
persisted through the engine's retries) or ``OccConflictError`` (conflicts past
every retry) may have committed in an earlier run of the same request: the
WebSocket handler does not answer it with a failure but closes the connection
(``is_unanswerable``), so that the client re-sends it.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from reactor.engine import FunctionResult, is_system_error
from reactor.errors import ConvexError, InternalServerError, OccConflictError, ReactorError
from reactor.sync._messages import NO_ERROR_DATA, NoErrorData

__all__ = ["Outcome", "describe_error", "is_unanswerable", "new_request_id", "outcome_of"]

log = logging.getLogger("reactor.server")


def new_request_id() -> str:
    return secrets.token_hex(8)


def describe_error(
    exc: BaseException, *, dev_errors: bool, request_id: str | None = None
) -> tuple[str, Any | NoErrorData]:
    """The message and ``errorData`` a client gets for ``exc``."""
    if isinstance(exc, ConvexError):
        return f"Uncaught ConvexError: {exc}", exc.data
    if isinstance(exc, ReactorError) and not is_system_error(exc):
        return str(exc), NO_ERROR_DATA
    request_id = request_id or new_request_id()
    log.error(
        "internal error in a function [Request ID: %s]",
        request_id,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    if dev_errors:
        return f"Uncaught Error: {exc}", NO_ERROR_DATA
    return f"[Request ID: {request_id}] Server Error", NO_ERROR_DATA


@dataclass(frozen=True, slots=True, eq=False)
class Outcome:
    """One run's answer, ready to go into a response message."""

    success: bool
    value: Any
    """The return value on success; the error message (str) on failure."""
    log_lines: tuple[str, ...] = ()
    error_data: Any | NoErrorData = NO_ERROR_DATA
    ts: int | None = None
    journal: str | None = None


def is_unanswerable(result: FunctionResult) -> bool:
    """A mutation the server failed to run (not the function: a storage fault that
    persisted, or conflicts past every retry): it must not be answered as failed,
    since an earlier run of the same request may have committed. A WebSocket
    client is disconnected instead (1011) and re-sends it."""
    return result.kind == "mutation" and isinstance(
        result.error, (InternalServerError, OccConflictError)
    )


def outcome_of(result: FunctionResult, *, dev_errors: bool) -> Outcome:
    lines = tuple(result.log_lines)
    if result.error is None:
        return Outcome(True, result.value, lines, ts=result.ts, journal=result.journal)
    message, data = describe_error(result.error, dev_errors=dev_errors)
    return Outcome(False, message, lines, data, journal=result.journal)
