"""Capture a function's own log lines (``print`` and ``logging``) per run.

The lines go back to the client as ``logLines``. Capture is per asyncio task
(a context variable), so concurrent functions never see each other's lines.
"""

from __future__ import annotations

import contextvars
import io
import logging
import sys
from typing import Any, TextIO

__all__ = ["capture_logs", "install_log_capture"]

MAX_LINES = 256
MAX_LINE_LENGTH = 4096

_current: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "reactor_log_lines", default=None
)


def _append(line: str) -> None:
    lines = _current.get()
    if lines is None:
        return
    if len(lines) < MAX_LINES:
        lines.append(line[:MAX_LINE_LENGTH])
    elif len(lines) == MAX_LINES:
        lines.append("[WARN] log lines truncated: a function may log 256 lines per run")


class _CapturingStream(io.TextIOBase):
    """Stands in for ``sys.stdout``: lines printed inside a function are captured."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self._partial: dict[int, str] = {}

    def write(self, text: str) -> int:
        lines = _current.get()
        if lines is None:
            return self._inner.write(text)
        key = id(lines)
        buffered = self._partial.pop(key, "") + text
        *complete, rest = buffered.split("\n")
        for line in complete:
            _append(f"[LOG] {line}")
        if rest:
            self._partial[key] = rest
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


# The level names the official clients parse (PROTOCOL.md §12): Python's
# WARNING and CRITICAL have no Convex spelling of their own.
_LEVELS = {"WARNING": "WARN", "CRITICAL": "ERROR"}


class _CapturingHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if _current.get() is not None:
            level = _LEVELS.get(record.levelname, record.levelname)
            _append(f"[{level}] {record.getMessage()}")


_installed = False


def install_log_capture() -> None:
    """Route ``print`` and ``logging`` inside functions to their run's log lines."""
    global _installed
    # Checked on every call: something (a test runner's capture) may have put
    # its own stdout in place since the last one.
    if not isinstance(sys.stdout, _CapturingStream):
        sys.stdout = _CapturingStream(sys.stdout)
    if _installed:
        return
    _installed = True
    logging.getLogger().addHandler(_CapturingHandler(level=logging.INFO))


class capture_logs:  # lower case: used like the function it was
    """``with capture_logs(lines):`` routes this task's log lines to ``lines``.

    A plain class, not ``contextlib.contextmanager``: it wraps every function
    run, and a generator-based manager costs several times as much.
    """

    __slots__ = ("_lines", "_token")

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines

    def __enter__(self) -> list[str]:
        self._token = _current.set(self._lines)
        return self._lines

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)
