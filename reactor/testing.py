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
from reactor.functions import load_app
from reactor.storage import SqliteStore

__all__ = ["ReactorTest"]

TEST_ISSUER = "https://reactor.test"


class _Shared:
    def __init__(
        self,
        app_dir: str | Path,
        data_dir: str | Path | None,
        limits: TransactionLimits | None,
        retry: RetryPolicy | None,
    ) -> None:
        self.app_dir = Path(app_dir)
        self.owns_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="reactor-"))
        self.limits = limits
        self.retry = retry
        self.engine: Engine | None = None
        self._starting: asyncio.Lock | None = None

    async def get(self) -> Engine:
        if self.engine is not None:
            return self.engine
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self.engine is not None:
                return self.engine
            app = load_app(self.app_dir)
            store = SqliteStore(self.data_dir / "data.db")
            engine = Engine(app, store, limits=self.limits, retry=self.retry)
            await engine.start()
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
        _shared: _Shared | None = None,
        _identity: Mapping[str, Any] | None = None,
    ) -> None:
        self._shared = _shared or _Shared(app_dir, data_dir, limits, retry)
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

    async def close(self) -> None:
        await self._shared.close()

    async def __aenter__(self) -> ReactorTest:
        await self.engine()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
