"""A reactor server on its own event loop in a thread, for the blocking client."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from reactor.server import ReactorServer, create_server

T = TypeVar("T")


class ServerThread:
    def __init__(self, app: Path, db: Path) -> None:
        self.app = app
        self.db = db
        self.url = ""
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.server: ReactorServer | None = None
        self._thread = threading.Thread(target=self._main, name="test-server")

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None or not self.url:
            self._thread.join()
            raise RuntimeError("the server thread did not start") from self._error
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's loop and wait for it."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.server = create_server(self.app, db=str(self.db))
        async with self.server, self.server.serve() as url:
            self.url = url
            self._ready.set()
            await self._stop.wait()
