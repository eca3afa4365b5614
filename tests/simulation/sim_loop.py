"""An asyncio event loop on a virtual clock, for deterministic simulation.

It is asyncio's own ``BaseEventLoop`` (the same ready queue, timers and task
machinery the server runs on) with the I/O poll replaced: there is no I/O, so
where the real loop would block in ``select`` until the next timer, this one
jumps its clock straight to that timer. Virtual time only moves when every
task is blocked, so a run takes as long as its CPU work, whatever the delays
it simulates, and the order of everything is a function of the program and
its inputs alone.

No threads: ``call_soon_threadsafe`` has no one to wake, and
``run_in_executor`` runs the function inline. Code under simulation must not
start threads of its own (``SqliteStore(writer_thread=False)``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["SimulationDeadlock", "VirtualEventLoop", "run_virtual"]

_T = TypeVar("_T")


class SimulationDeadlock(RuntimeError):
    """Nothing is ready and no timer is set, yet the main coroutine is not done."""


class _NoIO:
    """Stands in for the selector: 'waiting for I/O' is moving the clock."""

    def __init__(self, loop: VirtualEventLoop) -> None:
        self._loop = loop

    def select(self, timeout: float | None) -> list[Any]:
        if timeout is None:
            raise SimulationDeadlock("every task is waiting and no timer is set")
        if timeout > 0:
            self._loop.advance(timeout)
        return []

    def close(self) -> None:
        pass


class VirtualEventLoop(asyncio.BaseEventLoop):
    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._now = start
        self._selector = _NoIO(self)
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        # Land exactly on the next timer rather than on now + (when - now), which
        # floating point may put a hair before it.
        target = self._now + seconds
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        if scheduled and scheduled[0].when() <= target + 1e-9:
            target = max(target, scheduled[0].when())
        self._now = target

    def _process_events(self, event_list: list[Any]) -> None:
        pass

    def _write_to_self(self) -> None:
        pass

    def run_in_executor(  # type: ignore[override]
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[..., _T],
        *args: Any,
    ) -> asyncio.Future[_T]:
        future: asyncio.Future[_T] = self.create_future()
        try:
            future.set_result(func(*args))
        except BaseException as exc:  # delivered to the awaiting task, as an executor would
            future.set_exception(exc)
        return future


def run_virtual(main: Coroutine[Any, Any, _T], *, start: float = 0.0) -> _T:
    """Run ``main`` to completion on a fresh virtual-time loop, then close the loop."""
    loop = VirtualEventLoop(start)
    try:
        task = loop.create_task(main, context=contextvars.copy_context())
        return loop.run_until_complete(task)
    finally:
        try:
            _cancel_all(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
