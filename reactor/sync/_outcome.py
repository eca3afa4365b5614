"""What a client is told about one function run: a value, or an error it may see.

Error surfaces (PROTOCOL.md §12, API.md "Functions"):

* ``ConvexError`` -> ``"Uncaught ConvexError: <data as JSON>"`` plus ``errorData``;
* reactor's own developer errors (bad args, unknown function, limits, ...) ->
  their message, which is written for the developer;
* anything else is an internal error: ``"Uncaught Error: <message>"`` when
  ``dev_errors`` is on, else ``"[Request ID: <id>] Server Error"``, so internals
  never leak to clients of a production server. The full traceback is logged
  under the same request id.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from reactor.engine import FunctionResult
from reactor.errors import ConvexError, OccConflictError, ReactorError
from reactor.sync._messages import NO_ERROR_DATA, NoErrorData

__all__ = ["Outcome", "describe_error", "new_request_id", "outcome_of"]

log = logging.getLogger("reactor.server")


def new_request_id() -> str:
    return secrets.token_hex(8)


def describe_error(
    exc: BaseException, *, dev_errors: bool, request_id: str | None = None
) -> tuple[str, Any | NoErrorData]:
    """The message and ``errorData`` a client gets for ``exc``."""
    if isinstance(exc, ConvexError):
        return f"Uncaught ConvexError: {exc}", exc.data
    if isinstance(exc, ReactorError) and not isinstance(exc, OccConflictError):
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


def outcome_of(result: FunctionResult, *, dev_errors: bool) -> Outcome:
    lines = tuple(result.log_lines)
    if result.error is None:
        return Outcome(True, result.value, lines, ts=result.ts, journal=result.journal)
    message, data = describe_error(result.error, dev_errors=dev_errors)
    return Outcome(False, message, lines, data, journal=result.journal)
