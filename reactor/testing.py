"""``ReactorTest``: run an app's functions in tests, on a real SQLite file.

    t = ReactorTest("path/to/app")
    await t.mutation("messages:send", {"channel": "c", "body": "hi"})
    assert await t.query("messages:list", {"channel": "c"})
    await t.close()

Calls go through the same engine the server uses: concurrent calls
(``asyncio.gather``) really interleave at their awaits and conflict, retry
and commit as they would on the server.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reactor.engine import Engine, MutationCtx, RetryPolicy, TransactionLimits
from reactor.files import FileStore
from reactor.functions import load_app
from reactor.scheduler import SchedulerWorker, SystemClock
from reactor.storage import SqliteStore, Store

__all__ = ["ReactorTest"]

TEST_ISSUER = "https://reactor.test"


class _Shared:
    def __init__(
        self,
        app_dir: str | Path,
        data_dir: str | Path | None,
        limits: TransactionLimits | None,
        retry: RetryPolicy | None,
        store: Callable[[], Store] | None = None,
    ) -> None:
        self.app_dir = Path(app_dir)
        self.make_store = store
        self.owns_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="reactor-"))
        self.limits = limits
        self.retry = retry
        self.engine: Engine | None = None
        self._starting: asyncio.Lock | None = None
        # Scheduled functions run only when a test asks (finish_*, advance_time), on a
        # clock that the test can move ahead of the wall clock.
        self.clock = SystemClock()
        self.scheduler: SchedulerWorker | None = None

    async def get(self) -> Engine:
        if self.engine is not None:
            return self.engine
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self.engine is not None:
                return self.engine
            app = load_app(self.app_dir)
            store = self.make_store() if self.make_store else SqliteStore(self.data_dir / "data.db")
            # Files go in the test's folder whatever the store (a MongoDB store would
            # otherwise put them in the app's .reactor folder).
            files = FileStore(self.data_dir / "files")
            engine = Engine(
                app,
                store,
                limits=self.limits,
                retry=self.retry,
                run_scheduler=False,
                files=files,
            )
            await engine.start()
            self.scheduler = SchedulerWorker(engine, clock=self.clock)
            self.engine = engine
            return engine

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.stop()
            self.engine = None
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class ReactorTest:
    """An app, its engine and a fresh store in a temporary folder."""

    def __init__(
        self,
        app_dir: str | Path,
        *,
        data_dir: str | Path | None = None,
        limits: TransactionLimits | None = None,
        retry: RetryPolicy | None = None,
        store: Callable[[], Store] | None = None,
        _shared: _Shared | None = None,
        _identity: Mapping[str, Any] | None = None,
    ) -> None:
        self._shared = _shared or _Shared(app_dir, data_dir, limits, retry, store)
        self._identity = dict(_identity) if _identity is not None else None

    @property
    def data_dir(self) -> Path:
        return self._shared.data_dir

    async def engine(self) -> Engine:
        """The engine, started on first use."""
        return await self._shared.get()

    def with_identity(self, identity: Mapping[str, Any]) -> ReactorTest:
        """The same app and store, calling as a signed-in user."""
        full = dict(identity)
        full.setdefault("issuer", TEST_ISSUER)
        full.setdefault("subject", "test-user")
        full.setdefault("tokenIdentifier", f"{full['issuer']}|{full['subject']}")
        return ReactorTest(self._shared.app_dir, _shared=self._shared, _identity=full)

    async def query(self, path: Any, args: Mapping[str, Any] | None = None) -> Any:
        engine = await self.engine()
        result = await engine.run_query(
            path, args or {}, identity=self._identity, allow_internal=True
        )
        return result.unwrap()

    async def mutation(self, path: Any, args: Mapping[str, Any] | None = None) -> Any:
        engine = await self.engine()
        result = await engine.run_mutation(
            path, args or {}, identity=self._identity, allow_internal=True
        )
        return result.unwrap()

    async def action(self, path: Any, args: Mapping[str, Any] | None = None) -> Any:
        engine = await self.engine()
        result = await engine.run_action(
            path, args or {}, identity=self._identity, allow_internal=True
        )
        return result.unwrap()

    async def run(self, body: Callable[[MutationCtx], Any]) -> Any:
        """Run ``body(ctx)`` as a mutation with a writer ``ctx.db`` (sync or async)."""
        engine = await self.engine()

        async def call(ctx: MutationCtx) -> Any:
            value = body(ctx)
            return await value if inspect.isawaitable(value) else value

        result = await engine.run_in_transaction(call, identity=self._identity)
        return result.unwrap()

    # -- scheduled functions (convex-test's finishAllScheduledFunctions & co.) ------

    async def _scheduler(self) -> SchedulerWorker:
        await self.engine()
        assert self._shared.scheduler is not None
        return self._shared.scheduler

    async def finish_in_progress_scheduled_functions(self) -> int:
        """Run the jobs due now, once (not the ones they schedule); returns how many ran."""
        return await (await self._scheduler()).run_due(repeat=False)

    async def advance_time(self, ms: float, *, max_jobs: int = 1000) -> int:
        """Move the scheduler's clock ``ms`` ahead and run every job due by then,
        including the due jobs those schedule; returns how many ran."""
        scheduler = await self._scheduler()
        self._shared.clock.advance(ms)
        ran = await scheduler.run_due(limit=max_jobs)
        if ran >= max_jobs and await scheduler.run_due(limit=1):
            raise RuntimeError(f"jobs were still due after {max_jobs} ran: a job loop?")
        return ran

    async def finish_all_scheduled_functions(self, *, max_jobs: int = 1000) -> int:
        """Run jobs until none is pending, moving the clock to each one's time, so jobs
        scheduled for later (by the test or by jobs) run too. Returns how many ran;
        raises ``RuntimeError`` once ``max_jobs`` have run with more still pending (a
        job that keeps rescheduling itself).

        The clock moves only the scheduler's time: ``ctx.now`` stays the wall clock,
        so a job that schedules another with ``run_after(d)`` schedules it ``d`` after
        the wall clock, which may already be due on the scheduler's clock.
        """
        scheduler = await self._scheduler()
        clock = self._shared.clock
        total = 0
        while (when := await scheduler.next_pending_time()) is not None:
            if total >= max_jobs:
                raise RuntimeError(
                    f"scheduled functions were still pending after {max_jobs} ran: "
                    "is a job rescheduling itself forever?"
                )
            if when > clock.now_ms():
                clock.advance(when - clock.now_ms())
            total += await scheduler.run_due(limit=max_jobs - total)
        return total

    async def close(self) -> None:
        await self._shared.close()

    async def __aenter__(self) -> ReactorTest:
        await self.engine()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
