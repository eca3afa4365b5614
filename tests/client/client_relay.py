"""A WebSocket relay between a client and the server, for fault injection.

It forwards every frame unchanged, records the parsed messages both ways,
and on cue drops a connection the way a network failure does (both TCP
connections aborted, no closing handshake) or tampers with a frame. Nothing
in the client is stubbed: the client under test sees a real dead socket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

Message = dict[str, Any]
Rule = Callable[[Message], bool]


class FaultyRelay:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.replace("http://", "ws://")
        self.url = ""
        self.to_server: list[Message] = []  # every message a client sent
        self.to_client: list[Message] = []  # every message forwarded to a client
        self.connections = 0
        # One-shot rules: drop the connection instead of forwarding a server
        # message; forward a client message, then drop the connection.
        self.drop_before_client_gets: Rule | None = None
        self.drop_after_server_gets: Rule | None = None
        # Applied to every server message that is forwarded.
        self.rewrite: Callable[[Message], Message] | None = None
        # While set, server messages are swallowed (the server seems silent).
        self.mute = False
        self._pairs: set[tuple[ServerConnection, ClientConnection]] = set()

    def of_type(self, kind: str) -> list[Message]:
        return [m for m in self.to_server if m["type"] == kind]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        async with serve(self._handle, "127.0.0.1", 0, max_size=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            yield self.url
            self.kill_all()

    def kill_all(self) -> None:
        """Drop every relayed connection, with no close frames either way."""
        for downstream, upstream in self._pairs:
            downstream.transport.abort()
            upstream.transport.abort()

    async def _handle(self, downstream: ServerConnection) -> None:
        self.connections += 1
        path = downstream.request.path if downstream.request is not None else "/api/sync"
        async with connect(self.upstream + path, max_size=None, proxy=None) as upstream:
            pair = (downstream, upstream)
            self._pairs.add(pair)
            tasks = [
                asyncio.create_task(self._pump(downstream, upstream, from_client=True)),
                asyncio.create_task(self._pump(upstream, downstream, from_client=False)),
            ]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._pairs.discard(pair)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                downstream.transport.abort()
                upstream.transport.abort()

    async def _pump(
        self, source: ServerConnection | ClientConnection, sink: Any, *, from_client: bool
    ) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in source:
                message = orjson.loads(frame)
                if from_client:
                    self.to_server.append(message)
                    await sink.send(frame)
                    rule = self.drop_after_server_gets
                    if rule is not None and rule(message):
                        self.drop_after_server_gets = None
                        return
                    continue
                rule = self.drop_before_client_gets
                if rule is not None and rule(message):
                    self.drop_before_client_gets = None
                    return
                if self.mute:
                    continue
                if self.rewrite is not None:
                    message = self.rewrite(message)
                    frame = orjson.dumps(message).decode()
                self.to_client.append(message)
                await sink.send(frame)
