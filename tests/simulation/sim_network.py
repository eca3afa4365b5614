"""The simulated network: one-way links with random delays, and the server's socket.

A WebSocket is ordered, so each link delivers in the order it was given
(random delays, never a reorder within the link); two links, and so two
connections, interleave arbitrarily. A drop cuts both links of a connection
and loses whatever was in flight.

Each link draws its delays from its own random stream, so the delays it
gives do not depend on how the sends of different connections interleave.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reactor.server._direct_send import SCOPE_KEY

__all__ = ["Delays", "Link", "SimSocket", "SocketClosed"]


@dataclass(frozen=True, slots=True)
class Delays:
    """One-way latency: usually ``low``..``high`` s; with probability ``slow_p``, up to ``slow``."""

    low: float = 0.001
    high: float = 0.03
    slow_p: float = 0.05
    slow: float = 0.8

    def draw(self, rng: random.Random) -> float:
        if rng.random() < self.slow_p:
            return rng.uniform(self.high, self.slow)
        return rng.uniform(self.low, self.high)


class Link:
    """One direction of one connection: FIFO delivery after random delays."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        rng: random.Random,
        delays: Delays,
        deliver: Callable[[Any], None],
    ) -> None:
        self._loop = loop
        self.rng = rng
        self._delays = delays
        self._deliver = deliver
        self._queue: deque[tuple[float, Any]] = deque()
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.cut = False

    def __len__(self) -> int:
        return len(self._queue)

    def carrying(self, matters: Callable[[Any], bool]) -> bool:
        """Whether an item in flight ``matters``."""
        return any(matters(item) for _, item in self._queue)

    def send(self, item: Any) -> None:
        if self.cut:
            return  # into the void
        # Never before the previous item: the link is ordered.
        when = max(self._loop.time() + self._delays.draw(self.rng), self._last + 1e-6)
        self._last = when
        self._queue.append((when, item))
        if self._timer is None:
            self._timer = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self._loop.time()
        while self._queue and self._queue[0][0] <= now and not self.cut:
            _, item = self._queue.popleft()
            self._deliver(item)
        if self._queue and not self.cut:
            self._timer = self._loop.call_at(self._queue[0][0], self._fire)

    def sever(self) -> None:
        """Lose everything in flight; deliver nothing more."""
        self.cut = True
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class SocketClosed(Exception):
    """A send on a socket the server already knows is closed."""


class SimSocket:
    """The server's end of one simulated WebSocket: what ``serve_sync_socket`` talks to.

    It has what the server uses of Starlette's ``WebSocket``: ``accept``,
    ``receive``, ``send_text``, ``close``, the raw ASGI ``_send`` and a
    ``scope`` holding a ``DirectSend`` (itself: ``ready`` and ``send``), so
    that updates take the server's direct path whenever the buffer has room.
    """

    def __init__(self, down: Link, *, stall_p: float, stall: float) -> None:
        self._down = down
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._stall_p = stall_p
        self._stall = stall
        self.gone = False
        """The server has seen the disconnect: sends fail from now on."""
        self.broken = False
        """Sends fail (the peer reset the connection) before the server reads the close."""
        self.closed_by_server: tuple[int, str] | None = None
        self.stalls = 0
        self.stalled = False
        """A frame is waiting for the socket's buffer (in flight, but not on the link yet)."""
        self.scope: dict[str, Any] = {"type": "websocket", SCOPE_KEY: self}
        self.direct_sends = 0

    async def accept(self) -> None:
        pass

    async def receive(self) -> dict[str, Any]:
        message = await self._inbox.get()
        if message["type"] == "websocket.disconnect":
            self.gone = True
        return message

    def arrive(self, text: str) -> None:
        self._inbox.put_nowait({"type": "websocket.receive", "text": text})

    def disconnect(self) -> None:
        self._inbox.put_nowait({"type": "websocket.disconnect", "code": 1006})

    async def send_text(self, text: str) -> None:
        if self.gone or self.broken or self.closed_by_server:
            raise SocketClosed("the connection is closed")
        # Sometimes the socket's buffer is full: the sender waits, and updates
        # for this client pile up meanwhile (and must collapse into one frame).
        if self._stall_p and self._down.rng.random() < self._stall_p:
            self.stalls += 1
            self.stalled = True
            try:
                await asyncio.sleep(self._down.rng.uniform(0.0, self._stall))
            finally:
                self.stalled = False
        self._down.send(("frame", text))

    @property
    def ready(self) -> bool:
        """``DirectSend.ready``: as often as a send would stall, the buffer is full."""
        if self.gone or self.broken or self.closed_by_server or self.stalled:
            return False
        return not (self._stall_p and self._down.rng.random() < self._stall_p)

    def send(self, text: str) -> bool | None:
        """``DirectSend.send``: the frame goes on the link at once."""
        if self.gone or self.broken or self.closed_by_server:
            return False
        self.direct_sends += 1
        self._down.send(("frame", text))
        return True

    async def _send(self, message: dict[str, Any]) -> None:
        """The ASGI send callable (Starlette's ``WebSocket._send``), which the
        server's send loop calls directly."""
        if message["type"] == "websocket.send":
            await self.send_text(message["text"])
        elif message["type"] == "websocket.close":
            await self.close(message.get("code", 1000), message.get("reason") or "")
        else:
            raise ValueError(f"unexpected ASGI message {message['type']!r}")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed_by_server is None:
            self.closed_by_server = (code, reason)
            self._down.send(("close", code, reason))
