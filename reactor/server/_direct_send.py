"""Send a WebSocket text frame at once, without a task switch, when the socket can take it.

A commit that changes a query shared by a thousand clients must reach a
thousand sockets. Waking a sender task per connection costs a task step, an
event and a pass of the event loop each, more than the write itself. So when
the socket's transport has room, the frame is written from the caller's own
stack, as ``websockets.broadcast`` does; when it has none (a slow client),
the connection's sender task takes over and waits.

The contract is ``DirectSend``, found in the WebSocket's ASGI scope under
``SCOPE_KEY``. ``KeepServerSend`` (the outermost middleware) puts one there
for uvicorn's ``websockets-sansio`` protocol, its default when ``websockets``
is installed: its ``send`` only awaits its ``writable`` event, which the
transport clears while its buffer is above the high-water mark, so when the
event is set the ``send`` coroutine completes on its first step. Under any
other ASGI server the scope has none, and the sender task does all the sending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

__all__ = ["SCOPE_KEY", "DirectSend", "KeepServerSend"]

Send = Callable[[Any], Awaitable[None]]
AsgiApp = Callable[[Any, Any, Send], Awaitable[None]]

SCOPE_KEY = "reactor.direct_send"


class DirectSend(Protocol):
    """Text frames to one socket, written synchronously when it can take them now."""

    @property
    def ready(self) -> bool:
        """The socket has room: ``send`` would write at once."""

    def send(self, text: str) -> bool | None:
        """Write ``text`` now (call only when ``ready``): True once written, False if
        the socket is gone, None if it was not written after all (send it the slow way)."""


class KeepServerSend:
    """ASGI middleware (the outermost): gives every WebSocket scope served by
    uvicorn's sans-I/O protocol a ``DirectSend``, from the server's own ``send``
    callable, before Starlette wraps that in closures of its own."""

    def __init__(self, app: AsgiApp) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Send) -> None:
        if scope["type"] == "websocket":
            direct = _UvicornDirectSend.of(send)
            if direct is not None:
                scope[SCOPE_KEY] = direct
        await self.app(scope, receive, send)


class _UvicornDirectSend:
    __slots__ = ("_protocol", "_send", "_writable")

    def __init__(self, send: Send, protocol: Any, writable: asyncio.Event) -> None:
        self._send = send
        self._protocol = protocol
        self._writable = writable

    @classmethod
    def of(cls, send: Send) -> _UvicornDirectSend | None:
        try:
            from uvicorn.protocols.websockets.websockets_sansio_impl import (
                WebSocketsSansIOProtocol,
            )
        except ImportError:  # pragma: no cover - uvicorn is a dependency
            return None
        protocol = getattr(send, "__self__", None)
        if type(protocol) is not WebSocketsSansIOProtocol:
            return None
        if getattr(send, "__func__", None) is not WebSocketsSansIOProtocol.send:
            return None
        writable = getattr(protocol, "writable", None)
        if not isinstance(writable, asyncio.Event):
            return None
        return cls(send, protocol, writable)

    @property
    def ready(self) -> bool:
        protocol = self._protocol
        return (
            self._writable.is_set()
            and not protocol.close_sent
            and not protocol.disconnected
            and not protocol.transport.is_closing()
        )

    def send(self, text: str) -> bool | None:
        step: Coroutine[Any, Any, None] = self._send({"type": "websocket.send", "text": text})  # type: ignore[assignment]
        try:
            step.send(None)
        except StopIteration:
            return True
        except Exception:
            return False  # the client is gone: the receiver sees the disconnect
        # It waited after all, before writing anything (its one await comes first).
        step.close()
        return None
