"""Running client-called functions: each one admitted against the server-wide cap
(``Overloaded`` past it) and logged with one structured record."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from reactor.engine import Engine, FunctionResult
from reactor.engine._engine import MutationHook
from reactor.server._overload import Admission

__all__ = ["FunctionRunner", "log_run", "loggable"]

log = logging.getLogger("reactor.server")


_MAX_LOGGED_PATH = 200


def loggable(text: str, limit: int = _MAX_LOGGED_PATH) -> str:
    """``text`` cut to ``limit`` characters. A client may name any function path,
    megabytes long, and some log handlers (rich) take quadratic time to wrap a
    long word: a record that long would stall the event loop for minutes."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def log_run(result: FunctionResult, transport: str) -> None:
    """One record per function run: path, kind, duration and outcome (also as ``extra``)."""
    outcome = "success" if result.error is None else f"error:{type(result.error).__name__}"
    duration_ms = result.duration_s * 1000
    path = loggable(result.path)
    log.info(
        "%s %s %s in %.1f ms (%s)",
        result.kind,
        path,
        outcome,
        duration_ms,
        transport,
        extra={
            "function_path": path,
            "function_kind": result.kind,
            "duration_ms": duration_ms,
            "outcome": outcome,
            "transport": transport,
        },
    )


class FunctionRunner:
    """What clients may call: public functions only (internal ones too for an
    admin-key caller), each run admitted and logged. Every method raises
    ``Overloaded`` without running anything when ``admission`` has no slot."""

    def __init__(self, engine: Engine, admission: Admission) -> None:
        self.engine = engine
        self.admission = admission

    async def query(
        self,
        path: str,
        args: dict[str, Any],
        identity: Mapping[str, Any] | None,
        transport: str,
        *,
        admin: bool = False,
    ) -> FunctionResult:
        with self.admission.function():
            result = await self.engine.run_query(
                path, args, identity=identity, allow_internal=admin
            )
        log_run(result, transport)
        return result

    async def mutation(
        self,
        path: str,
        args: dict[str, Any],
        identity: Mapping[str, Any] | None,
        transport: str,
        hook: MutationHook | None = None,
        *,
        admin: bool = False,
    ) -> FunctionResult:
        with self.admission.function():
            result = await self.engine.run_mutation(
                path, args, identity=identity, hook=hook, allow_internal=admin
            )
        log_run(result, transport)
        return result

    async def action(
        self,
        path: str,
        args: dict[str, Any],
        identity: Mapping[str, Any] | None,
        transport: str,
        *,
        admin: bool = False,
    ) -> FunctionResult:
        with self.admission.function():
            result = await self.engine.run_action(
                path, args, identity=identity, allow_internal=admin
            )
        log_run(result, transport)
        return result
