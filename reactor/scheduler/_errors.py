"""The errors the scheduler reports to function code and to whoever loads crons."""

from __future__ import annotations

from reactor.errors import ReactorError

__all__ = [
    "InvalidCronError",
    "InvalidScheduledFunctionDelayError",
    "InvalidScheduledFunctionError",
]


class InvalidScheduledFunctionError(ReactorError):
    """The target of ``run_after``/``run_at``/``cancel`` is not something that can be
    scheduled: a missing function, a query, bad arguments or a foreign id."""

    def __init__(self, message: str) -> None:
        super().__init__(f"InvalidScheduledFunction: {message}")


class InvalidScheduledFunctionDelayError(ReactorError):
    """A delay or time that is not finite, negative, or beyond the five-year window."""

    def __init__(self, message: str) -> None:
        super().__init__(f"InvalidScheduledFunctionDelay: {message}")


class InvalidCronError(ReactorError):
    """A cron definition that cannot run: bad name, schedule or target."""
