"""``ReactorClient``: the blocking client, an ``AsyncReactorClient`` on a private
event loop in a background thread.

Every call is handed to that loop (``run_coroutine_threadsafe``) and waited
for, so any number of threads may share one client: the protocol state is
only ever touched by the loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

from reactor.client._async_client import AsyncReactorClient, AsyncSubscription
from reactor.client._errors import ClientClosedError

__all__ = ["ReactorClient", "Subscription"]

T = TypeVar("T")


class Subscription(Iterator[Any]):
    """An iterator over a query's results: the current one first, then one per
    change (the newest, if several came while the reader was busy). A failed
    run of the query raises from ``next()``. ``close()`` (or leaving ``with``,
    or dropping the iterator, as breaking out of a ``for`` loop does)
    unsubscribes; a ``next()`` blocked in another thread then stops."""

    def __init__(self, client: ReactorClient, inner: AsyncSubscription) -> None:
        self._client = client
        self._inner = inner
        self._closed = False

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> Any:
        if self._closed:
            raise StopIteration
        more, value = self._client._call(_next(self._inner))
        if not more:
            raise StopIteration
        return value

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client._soon(self._inner.close)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # never raise from a finalizer
            self.close()


async def _next(inner: AsyncSubscription) -> tuple[bool, Any]:
    # StopAsyncIteration must not cross into a concurrent Future: return a flag.
    try:
        return True, await inner.__anext__()
    except StopAsyncIteration:
        return False, None


async def _subscribe(
    client: AsyncReactorClient, path: str, args: Mapping[str, Any] | None
) -> AsyncSubscription:
    return client.subscribe(path, args)


class ReactorClient:
    """A blocking client of one deployment (``http[s]://host:port``).

    Same methods as ``AsyncReactorClient``, as plain calls; safe to share between
    threads. Do not call it from a coroutine running on an event loop that the
    server (or anything the call waits for) also needs: the call blocks.
    """

    def __init__(
        self,
        url: str,
        *,
        inactivity_timeout: float = 60.0,
        initial_backoff: float = 0.1,
        max_backoff: float = 10.0,
    ) -> None:
        self._client = AsyncReactorClient(
            url,
            inactivity_timeout=inactivity_timeout,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
        )
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._closed = False
        # A daemon thread so a client nobody closed cannot keep the process alive.
        self._thread = threading.Thread(target=self._run_loop, name="reactor-client", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return self._client.url

    @property
    def session_id(self) -> str:
        return self._client.session_id

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a ReactorClient call would block its own event loop")
        # Scheduled under the lock: close() then either sees this call (and fails
        # it with ClientClosedError) or this call sees the client closed.
        with self._lock:
            if self._closed:
                coro.close()
                raise ClientClosedError("the client is closed")
            future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result()

    def _soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop without waiting; nothing to do once closed."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback)

    def query(self, path: str, args: Mapping[str, Any] | None = None) -> Any:
        return self._call(self._client.query(path, args))

    def mutation(self, path: str, args: Mapping[str, Any] | None = None) -> Any:
        return self._call(self._client.mutation(path, args))

    def action(self, path: str, args: Mapping[str, Any] | None = None) -> Any:
        return self._call(self._client.action(path, args))

    def subscribe(self, path: str, args: Mapping[str, Any] | None = None) -> Subscription:
        return Subscription(self, self._call(_subscribe(self._client, path, args)))

    def set_auth(self, token: str | None) -> None:
        self._call(self._client.set_auth(token))

    def close(self) -> None:
        """Close the connection and stop the background thread (idempotent)."""
        with self._lock:
            if self._closed:
                return
            if threading.current_thread() is self._thread:
                raise RuntimeError("a ReactorClient cannot be closed from its own event loop")
            asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result()
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def __enter__(self) -> ReactorClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
