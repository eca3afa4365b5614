"""Send a WebSocket text frame at once, without a task switch, when the socket can take it.

A commit that changes a query shared by a thousand clients must reach a
thousand sockets. Waking a sender task per connection costs a task step, an
event and a pass of the event loop each, more than the write itself. So when
the socket's transport has room, the frame is written from the caller's own
stack, as ``websockets.broadcast`` does; when it has none (a slow client),
the connection's sender task takes over and waits.

A refresh's changes are delivered under one wall clock (``Delivery``), so
that frames alike for many connections are made and framed once.

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
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, Protocol

from websockets.protocol import State

__all__ = ["SCOPE_KEY", "Delivery", "DirectSend", "KeepServerSend"]

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


class Delivery:
    """Calls the change callbacks of one refresh under one wall clock (``deliver``).

    Every frame made meanwhile carries that ``wall_ns`` as its ``serverTs``, so
    the Transitions of connections that share a query at one version come out
    alike byte for byte: made once (``encode_transition_frame`` returns the same
    frame for the same arguments) and framed once (``_text_frame``).
    """

    __slots__ = ("wall_ns",)

    def __init__(self) -> None:
        self.wall_ns: int | None = None

    def deliver(self, callbacks: Iterable[Callable[[], None]]) -> None:
        self.wall_ns = time.time_ns()
        try:
            for callback in callbacks:
                callback()
        finally:
            self.wall_ns = None
            _forget_last_frame()  # it may be megabytes: not kept past the delivery


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
        protocol = self._protocol
        if protocol.conn.extensions or protocol.conn.state is not State.OPEN:
            return self._send_by_server(text)  # compressed (per connection), or closing
        try:
            protocol.transport.write(_text_frame(text))
        except Exception:
            return False  # the client is gone: the receiver sees the disconnect
        return True

    def _send_by_server(self, text: str) -> bool | None:
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


_last_text: str | None = None
_last_frame = b""


def _text_frame(text: str) -> bytes:
    """``text`` as one unmasked WebSocket text frame (RFC 6455 5.2), as a server
    sends it without extensions. The last one is reused: a delivery writes the
    same frame to every connection that shares a query at one version."""
    global _last_text, _last_frame
    if text is _last_text:
        return _last_frame
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    _last_text, _last_frame = text, header + payload
    return _last_frame


def _forget_last_frame() -> None:
    global _last_text, _last_frame
    _last_text, _last_frame = None, b""
