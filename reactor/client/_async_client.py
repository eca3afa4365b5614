"""``AsyncReactorClient``: the sync protocol over one WebSocket, for asyncio code."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any

from reactor.client._core import ClientCore
from reactor.client._errors import ClientClosedError, ReactorClientError
from reactor.client._queries import Listener
from reactor.client._transport import TransportOptions, run, sync_url

__all__ = ["AsyncReactorClient", "AsyncSubscription"]


def _args(args: Mapping[str, Any] | None) -> dict[str, Any]:
    if args is None:
        return {}
    if not isinstance(args, Mapping):
        raise TypeError(f"function args must be a dict, got {type(args).__name__}")
    return dict(args)


class AsyncSubscription(AsyncIterator[Any]):
    """An async iterator over a query's results: the current one first, then one
    per change. A reader that falls behind gets the newest result, never a
    backlog. A failed run of the query raises from ``__anext__``; iterating
    again waits for the next result. ``close()`` (or leaving ``async with``, or
    dropping the iterator, as breaking out of ``async for`` does) unsubscribes.
    """

    def __init__(self, core: ClientCore, listener: Listener) -> None:
        self._core = core
        self._listener = listener
        self._loop = asyncio.get_running_loop()
        self._closed = False

    def __aiter__(self) -> AsyncSubscription:
        return self

    async def __anext__(self) -> Any:
        return await self._listener.next()

    def close(self) -> None:
        """Unsubscribe; iteration then stops. Call it on the client's event loop."""
        if not self._closed:
            self._closed = True
            self._core.unlisten(self._listener)

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> AsyncSubscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Dropped without close() (e.g. `break` out of `async for`): unsubscribe on
        # the loop, which may not be this thread's. The callback must not hold self.
        if not self._closed:
            with contextlib.suppress(Exception):  # the loop may be closed by now
                self._loop.call_soon_threadsafe(self._core.unlisten, self._listener)


class AsyncReactorClient:
    """A client of one deployment (``http[s]://host:port``), on one WebSocket.

    Use it from one event loop. It connects on first use, reconnects by itself
    and is closed by ``close()`` or ``async with``. Calls made while the
    connection is down wait for the next one (mutations and subscriptions
    carry over; an action in flight when it drops fails with
    ``ConnectionLostError``).
    """

    def __init__(
        self,
        url: str,
        *,
        inactivity_timeout: float = 60.0,
        initial_backoff: float = 0.1,
        max_backoff: float = 10.0,
    ) -> None:
        self.url = url
        self.sync_url = sync_url(url)
        self._options = TransportOptions(
            inactivity_timeout=inactivity_timeout,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
        )
        self._core = ClientCore()
        self._task: asyncio.Task[None] | None = None

    @property
    def session_id(self) -> str:
        """Sent in every Connect; the server de-duplicates re-sent mutations by it."""
        return self._core.session_id

    def _started(self) -> ClientCore:
        core = self._core
        core.check_open()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                run(core, self.sync_url, self._options), name="reactor-client"
            )
            self._task.add_done_callback(self._transport_done)
        elif self._task.get_loop() is not asyncio.get_running_loop():
            raise RuntimeError("an AsyncReactorClient is used from one event loop only")
        return core

    def _transport_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            # A bug: fail everything loudly rather than leave callers waiting.
            text = f"the client's connection task failed: {error!r}"
            self._core.end(lambda: ReactorClientError(text))

    async def query(self, path: str, args: Mapping[str, Any] | None = None) -> Any:
        """Run a query once: subscribe, take its first result, unsubscribe."""
        core = self._started()
        listener = core.listen(path, _args(args))
        try:
            return await listener.next()
        finally:
            core.unlisten(listener)

    async def mutation(self, path: str, args: Mapping[str, Any] | None = None) -> Any:
        """Run a mutation; returns once subscriptions already show its writes."""
        return await self._started().request("mutation", path, _args(args))

    async def action(self, path: str, args: Mapping[str, Any] | None = None) -> Any:
        return await self._started().request("action", path, _args(args))

    def subscribe(self, path: str, args: Mapping[str, Any] | None = None) -> AsyncSubscription:
        """``async for value in client.subscribe(path, args)``: see AsyncSubscription."""
        core = self._started()
        return AsyncSubscription(core, core.listen(path, _args(args)))

    async def set_auth(self, token: str | None) -> None:
        """Authenticate as the user of ``token`` (a JWT), or clear it with None.
        Returns once the server accepted it; subscriptions re-run as that user.
        A refused token raises ``AuthenticationError`` and leaves the client
        anonymous. The token is sent again on every reconnect."""
        await self._started().set_auth(token)

    async def close(self) -> None:
        """Close the connection; pending calls fail with ClientClosedError."""
        self._core.end(lambda: ClientClosedError("the client is closed"))
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def __aenter__(self) -> AsyncReactorClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
