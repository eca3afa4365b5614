"""A WebSocket client speaking raw protocol JSON, for tests: it checks what the
official clients check (every Transition chains from the last endVersion, ts
never goes back) and keeps each query's latest result."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from reactor.values import b64_to_u64, convex_to_json, json_to_convex

INITIAL = {"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="}


def ws_url(base: str, path: str = "/api/1.48.0/sync") -> str:
    return base.replace("http://", "ws://") + path


class RawClient:
    def __init__(self, ws: ClientConnection, session_id: str) -> None:
        self.ws = ws
        self.session_id = session_id
        self.version: dict[str, Any] = dict(INITIAL)
        self.results: dict[int, Any] = {}
        self.query_set = 0
        self.next_request = 0
        self.received = 0
        self.backlog: list[tuple[int, dict[str, Any]]] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        base_url: str,
        *,
        session_id: str | None = None,
        connect_message: bool = True,
        path: str = "/api/1.48.0/sync",
        compression: str | None = "deflate",
        **connect_message_fields: Any,
    ) -> AsyncIterator[RawClient]:
        """``compression=None``: no permessage-deflate, as the official Python client
        and many others connect (browsers and the npm client's ``ws`` offer it)."""
        async with connect(
            ws_url(base_url, path), proxy=None, max_size=None, compression=compression
        ) as ws:
            client = cls(ws, session_id or str(uuid.uuid4()))
            if connect_message:
                await client.send(
                    {
                        "type": "Connect",
                        "sessionId": client.session_id,
                        "connectionCount": 0,
                        "lastCloseReason": "InitialConnect",
                        "clientTs": 0,
                        **connect_message_fields,
                    }
                )
            yield client

    @property
    def ts(self) -> int:
        return b64_to_u64(self.version["ts"])

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send(message if isinstance(message, str) else orjson.dumps(message).decode())

    async def _pump(self, skip_pings: bool = True) -> None:
        """Read one message. Transitions are applied on arrival, as a client does."""
        while True:
            message = orjson.loads(await self.ws.recv())
            if not (skip_pings and message["type"] == "Ping"):
                break
        if message["type"] == "Transition":
            self._apply(message)
        self.received += 1
        self.backlog.append((self.received, message))

    async def _take(self, kind: str | None, skip_pings: bool = True) -> tuple[int, dict[str, Any]]:
        while True:
            for i, (seq, message) in enumerate(self.backlog):
                if kind is None or message["type"] == kind:
                    del self.backlog[i]
                    return seq, message
            await self._pump(skip_pings)

    async def recv(self, *, skip_pings: bool = True) -> dict[str, Any]:
        """The oldest message not yet taken."""
        return (await self._take(None, skip_pings))[1]

    async def expect(self, kind: str) -> dict[str, Any]:
        """The oldest message of ``kind`` not yet taken; others stay for later."""
        return (await self._take(kind))[1]

    async def transition(self) -> dict[str, Any]:
        return await self.expect("Transition")

    def _apply(self, message: dict[str, Any]) -> None:
        # What every official client checks (PROTOCOL.md §6).
        assert message["startVersion"] == self.version, (message["startVersion"], self.version)
        end = message["endVersion"]
        assert b64_to_u64(end["ts"]) >= self.ts
        self.version = end
        for m in message["modifications"]:
            if m["type"] == "QueryUpdated":
                self.results[m["queryId"]] = json_to_convex(m["value"])
            elif m["type"] == "QueryFailed":
                self.results[m["queryId"]] = ("error", m["errorMessage"])
            else:
                self.results.pop(m["queryId"], None)

    async def modify(self, *modifications: dict[str, Any]) -> None:
        await self.send(
            {
                "type": "ModifyQuerySet",
                "baseVersion": self.query_set,
                "newVersion": self.query_set + 1,
                "modifications": list(modifications),
            }
        )
        self.query_set += 1

    async def subscribe(self, query_id: int, path: str, args: Any = None, **extra: Any) -> None:
        await self.modify(
            {
                "type": "Add",
                "queryId": query_id,
                "udfPath": path,
                "args": [convex_to_json(args or {})],
                **extra,
            }
        )

    async def unsubscribe(self, query_id: int) -> None:
        await self.modify({"type": "Remove", "queryId": query_id})

    async def request(
        self, kind: str, path: str, args: Any = None, *, request_id: int | None = None
    ) -> int:
        if request_id is None:
            request_id = self.next_request
            self.next_request += 1
        await self.send(
            {
                "type": kind,
                "requestId": request_id,
                "udfPath": path,
                "args": [convex_to_json(args or {})],
            }
        )
        return request_id

    async def mutation(
        self, path: str, args: Any = None, *, request_id: int | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Send a mutation; return its response and the Transition that resolves it:
        one that arrived after the response, with ts >= the commit ts (§6)."""
        request_id = await self.request("Mutation", path, args, request_id=request_id)
        while True:
            after, response = await self._take("MutationResponse")
            if response["requestId"] == request_id:
                break
        while True:
            seq, transition = await self._take("Transition")
            if seq < after:
                continue  # came before the response: cannot resolve it
            if response["ts"] is None or b64_to_u64(transition["endVersion"]["ts"]) >= b64_to_u64(
                response["ts"]
            ):
                return response, transition
