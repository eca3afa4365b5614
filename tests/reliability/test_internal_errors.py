"""A WebSocket mutation the server fails to run is never answered as failed
(RELIABILITY.md, finding 3): when a storage fault persists through the engine's
retries, the connection closes with 1011, the client re-sends the mutation on
a new connection, and it runs once, or its exactly-once record answers it.

A real server (in-process, uvicorn on a loopback port) on a SQLite file; the
fault is injected by a small wrapper around the real store's snapshots.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from reactor.engine import RetryPolicy
from reactor.server import ReactorServer, create_server
from reactor.storage import Snapshot, StoreError
from reactor.values import convex_to_json, json_to_convex

pytestmark = pytest.mark.anyio

APP = Path(__file__).resolve().parents[1] / "apps" / "listappend"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[ReactorServer, str]]:
    server = create_server(APP, db=str(tmp_path / "data.db"))
    server.engine.retry = RetryPolicy(initial_backoff_s=0.001, max_backoff_s=0.002)
    await server.start()
    try:
        async with server.serve() as base:
            yield server, base.replace("http://", "ws://") + "/api/1.48.0/sync"
    finally:
        await server.stop()


class Outage:
    """While ``on``, taking a snapshot of the store fails."""

    def __init__(self, server: ReactorServer, patch: pytest.MonkeyPatch) -> None:
        self.on = False
        self.raised = 0
        store = server.engine.store
        for name in ("snapshot", "reusable_snapshot"):
            patch.setattr(store, name, self._wrap(getattr(store, name)))

    def _wrap(self, take: Callable[[], Awaitable[Snapshot]]) -> Callable[[], Awaitable[Snapshot]]:
        async def snapshot() -> Snapshot:
            if self.on:
                self.raised += 1
                raise StoreError("injected: the disk went away")
            return await take()

        return snapshot


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(message).decode())


async def open_session(url: str, session_id: str, count: int) -> ClientConnection:
    ws = await connect(url, proxy=None)
    await send(
        ws,
        {
            "type": "Connect",
            "sessionId": session_id,
            "connectionCount": count,
            "lastCloseReason": "InitialConnect" if count == 0 else "closed with code 1011",
            "clientTs": 0,
        },
    )
    return ws


async def mutate(ws: ClientConnection, request_id: int, token: str) -> None:
    await send(
        ws,
        {
            "type": "Mutation",
            "requestId": request_id,
            "udfPath": "crash:write",
            "args": [convex_to_json({"token": token, "writer": "w"})],
        },
    )


async def response(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = orjson.loads(await ws.recv())
        if message["type"] == "MutationResponse":
            return message


async def until_closed(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every message until the server closes the connection."""
    seen = []
    with pytest.raises(ConnectionClosed):
        while True:
            seen.append(orjson.loads(await ws.recv()))
    return seen


async def answered(url: str, session_id: str, count: int, token: str) -> dict[str, Any]:
    """Send the mutation (request 0) on a new connection; its MutationResponse."""
    ws = await open_session(url, session_id, count)
    try:
        await mutate(ws, 0, token)
        return await response(ws)
    finally:
        await ws.close()


async def closed_mid_request(
    url: str, session_id: str, count: int, token: str
) -> tuple[ClientConnection, list[dict[str, Any]]]:
    """Send the mutation (request 0) on a new connection that the server closes;
    the connection and every message it got first."""
    ws = await open_session(url, session_id, count)
    await mutate(ws, 0, token)
    return ws, await until_closed(ws)


async def tokens(server: ReactorServer) -> list[str]:
    result = await server.engine.run_query("crash:page", {"table": "crash_a", "cursor": None})
    return list(result.unwrap()["tokens"])


async def test_a_mutation_meeting_a_persistent_storage_error_closes_with_1011(
    served: tuple[ReactorServer, str],
) -> None:
    server, url = served
    session_id = str(uuid.uuid4())
    with pytest.MonkeyPatch.context() as patch:
        outage = Outage(server, patch)
        outage.on = True
        ws, seen = await closed_mid_request(url, session_id, 0, "t0")
        assert outage.raised == server.engine.retry.fault_retries + 1
        assert ws.close_code == 1011 and ws.close_reason == "InternalServerError"
        assert not [m for m in seen if m["type"] in ("MutationResponse", "FatalError")]
        outage.on = False
        # The client reconnects and re-sends: it runs now, once.
        answer = await answered(url, session_id, 1, "t0")
    assert answer["success"] is True and json_to_convex(answer["result"]) == "t0"
    assert await tokens(server) == ["t0"]


async def test_a_resent_committed_mutation_is_not_answered_as_failed(
    served: tuple[ReactorServer, str],
) -> None:
    """The scenario of finding 3: the mutation committed, the client did not hear
    back and re-sends it; the re-run meets a storage error that persists. The
    client must not be told that it failed: it is disconnected, re-sends it once
    more, and gets the recorded result."""
    server, url = served
    session_id = str(uuid.uuid4())
    first = await answered(url, session_id, 0, "t0")
    assert first["success"] is True
    with pytest.MonkeyPatch.context() as patch:
        outage = Outage(server, patch)
        outage.on = True
        ws, seen = await closed_mid_request(url, session_id, 1, "t0")
        assert ws.close_code == 1011
        assert not [m for m in seen if m["type"] == "MutationResponse"]
        outage.on = False
        again = await answered(url, session_id, 2, "t0")
    assert again["success"] is True and json_to_convex(again["result"]) == "t0"
    assert await tokens(server) == ["t0"]  # applied once


async def test_an_http_mutation_meeting_a_persistent_storage_error_gets_a_500(
    served: tuple[ReactorServer, str],
) -> None:
    """Over HTTP there is no re-send to answer from a record: the caller is told
    the server failed (500, outcome unknown), not that the mutation failed."""
    server, url = served
    base = url.replace("ws://", "http://").removesuffix("/api/1.48.0/sync")
    body = {"path": "crash:write", "args": {"token": "h0", "writer": "w"}}
    with pytest.MonkeyPatch.context() as patch:
        outage = Outage(server, patch)
        outage.on = True
        async with httpx2.AsyncClient(base_url=base, trust_env=False) as http:
            failed = await http.post("/api/mutation", json=body)
            outage.on = False
            ok = await http.post("/api/mutation", json=body)
    assert failed.status_code == 500
    assert failed.json()["code"] == "InternalServerError"
    assert ok.status_code == 200 and ok.json()["status"] == "success"
    assert await tokens(server) == ["h0"]
