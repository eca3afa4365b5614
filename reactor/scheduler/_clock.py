"""The time the scheduler reads: the system clock, or a clock tests move by hand.

The worker asks ``now_ms()`` whether a job is due and waits with
``sleep_until``. Moving a clock (``advance``/``set``) wakes every sleeper so
it re-checks, which lets tests step a cron second by second without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock:
    """Milliseconds since the epoch, and a sleep that a move of the clock cuts short."""

    def __init__(self) -> None:
        self._moved: asyncio.Event | None = None

    def now_ms(self) -> float:
        raise NotImplementedError

    def _real_seconds(self, remaining_ms: float) -> float | None:
        """How long to really wait for ``remaining_ms`` of this clock (None: until moved)."""
        raise NotImplementedError

    async def sleep_until(self, deadline_ms: float) -> None:
        while (remaining := deadline_ms - self.now_ms()) > 0:
            if self._moved is None:
                self._moved = asyncio.Event()
            moved = self._moved
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(moved.wait(), self._real_seconds(remaining))

    def _notify(self) -> None:
        # A fresh event per move: sleepers of the old one wake and re-check the time.
        moved, self._moved = self._moved, None
        if moved is not None:
            moved.set()


class SystemClock(Clock):
    """The wall clock, plus an offset that ``advance`` moves forward (tests only)."""

    def __init__(self) -> None:
        super().__init__()
        self.offset_ms = 0.0

    def now_ms(self) -> float:
        return time.time() * 1000 + self.offset_ms

    def _real_seconds(self, remaining_ms: float) -> float | None:
        return remaining_ms / 1000

    def advance(self, ms: float) -> None:
        if ms < 0:
            raise ValueError("a clock only moves forward")
        self.offset_ms += ms
        self._notify()


class ManualClock(Clock):
    """A clock that stands still until a test moves it."""

    def __init__(self, start_ms: float) -> None:
        super().__init__()
        self._now = float(start_ms)

    def now_ms(self) -> float:
        return self._now

    def _real_seconds(self, remaining_ms: float) -> float | None:
        return None

    def advance(self, ms: float) -> None:
        self.set(self._now + ms)

    def set(self, now_ms: float) -> None:
        if now_ms < self._now:
            raise ValueError("a clock only moves forward")
        self._now = float(now_ms)
        self._notify()
