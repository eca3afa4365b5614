"""Overload: past ``max_connections`` or ``max_concurrent_functions`` the server
sheds load — WebSocket close 1013 naming the limit, HTTP 503 with Retry-After —
and a refused client gets in once the load drops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from raw_client import RawClient, ws_url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from reactor.server import ReactorServer, ServerConfig

pytestmark = pytest.mark.anyio


async def closed(client: RawClient) -> tuple[int, str, list[str]]:
    """The close frame the server sent (code, reason), and the messages before it."""
    messages: list[str] = []
    with pytest.raises(ConnectionClosed) as info, anyio.fail_after(5):
        while True:
            messages.append(str(await client.ws.recv()))
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason, messages


async def refused_connection(url: str) -> tuple[int, str]:
    """Open a sync socket and say nothing: the server closes it at once."""
    async with connect(ws_url(url), proxy=None) as ws:
        with pytest.raises(ConnectionClosed) as info, anyio.fail_after(5):
            await ws.recv()
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


async def subscribed(client: RawClient, channel: str = "overload") -> None:
    await client.subscribe(0, "messages:list", {"channel": channel})
    with anyio.fail_after(5):
        await client.transition()


@pytest.fixture
def server_config() -> ServerConfig:
    return ServerConfig(max_connections=3, max_concurrent_functions=2, retry_after_s=2)


@pytest.fixture
async def http(url: str) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=url, trust_env=False, timeout=10) as client:
        yield client


async def test_connections_past_the_cap_are_refused_with_1013_until_one_leaves(
    url: str, server: ReactorServer, http: httpx2.AsyncClient
) -> None:
    async with RawClient.open(url) as a, RawClient.open(url) as b:
        async with RawClient.open(url) as c:
            for client in (a, b, c):
                await subscribed(client)
            code, reason = await refused_connection(url)
            assert code == 1013
            assert reason.startswith("TooManyConnections:") and "max_connections" in reason
            assert "3" in reason
            # Connections are capped, HTTP calls are not: they are still served.
            answer = await http.post(
                "/api/query", json={"path": "messages:list", "args": {"channel": "x"}}
            )
            assert answer.json()["status"] == "success"
            # The clients already in are served as before.
            await a.mutation("messages:send", {"channel": "overload", "body": "still served"})
        # One left: the refused client gets in.
        async with RawClient.open(url) as late:
            await subscribed(late)
            await b.mutation("messages:send", {"channel": "overload", "body": "late joiner"})
            with anyio.fail_after(5):
                while [row["body"] for row in late.results[0]][-1:] != ["late joiner"]:
                    await late.transition()
    health = (await http.get("/health")).json()
    assert health["load"]["refusedConnections"] == 1 and health["load"]["connections"] == 0


async def wait_for_functions(server: ReactorServer, count: int) -> None:
    for _ in range(500):
        if server.admission.functions == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{server.admission.functions} functions in flight, not {count}")


async def test_function_cap_sheds_http_and_websocket_calls(
    url: str, server: ReactorServer, http: httpx2.AsyncClient
) -> None:
    gates: Any = server.engine.app.modules["gates"]
    async with RawClient.open(url) as bystander, RawClient.open(url) as caller:
        await subscribed(bystander)
        await subscribed(caller)
        held = [
            asyncio.create_task(http.post("/api/action", json={"path": "gates:held", "args": {}}))
            for _ in range(2)
        ]
        await wait_for_functions(server, 2)

        # HTTP: 503, Retry-After, and the limit named.
        answer = await http.post(
            "/api/query", json={"path": "messages:list", "args": {"channel": "x"}}
        )
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "2"
        body = answer.json()
        assert body["code"] == "TooManyConcurrentFunctions"
        assert "max_concurrent_functions" in body["message"] and "2" in body["message"]

        # WebSocket: the call closes its connection with 1013; nothing ran.
        request_id = await caller.request(
            "Mutation", "messages:send", {"channel": "overload", "body": "shed"}
        )
        code, reason, messages = await closed(caller)
        assert code == 1013 and reason.startswith("TooManyConcurrentFunctions:")
        assert "max_concurrent_functions" in reason
        assert not [m for m in messages if "MutationResponse" in m]

        # New connections are turned away while every slot is taken.
        code, reason = await refused_connection(url)
        assert code == 1013 and reason.startswith("TooManyConcurrentFunctions:")

        # The connection that did not call is untouched.
        assert server.admission.connections == 1

        gates.action_gate.set()
        for task in held:
            assert (await task).json()["value"] == "released"
        await wait_for_functions(server, 0)

        # Load dropped: the refused client reconnects and re-sends its mutation,
        # which runs (once), and the bystander sees it.
        async with RawClient.open(url, session_id=caller.session_id) as again:
            await subscribed(again)
            response, _ = await again.mutation(
                "messages:send", {"channel": "overload", "body": "shed"}, request_id=request_id
            )
            assert response["success"] is True
        with anyio.fail_after(5):
            while [row["body"] for row in bystander.results[0]] != ["shed"]:
                await bystander.transition()
        answer = await http.post(
            "/api/query", json={"path": "messages:list", "args": {"channel": "overload"}}
        )
        assert answer.status_code == 200
        assert [row["body"] for row in answer.json()["value"]] == ["shed"]
