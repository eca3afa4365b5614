"""Exactly-once mutations across a killed connection (sessionId, requestId)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from raw_client import RawClient
from websockets.exceptions import ConnectionClosed

from reactor.server import ReactorServer
from reactor.sync import purge_session_requests
from reactor.values import b64_to_u64

pytestmark = pytest.mark.anyio


def kill(client: RawClient) -> None:
    """Drop the TCP connection with no closing handshake, as a network failure does."""
    client.ws.transport.abort()


@contextlib.asynccontextmanager
async def resumed(url: str, session_id: str, observed: str | None) -> AsyncIterator[RawClient]:
    fields: dict[str, object] = {"connectionCount": 1, "lastCloseReason": "closed with code 1006"}
    if observed is not None:
        fields["maxObservedTimestamp"] = observed
    async with RawClient.open(url, session_id=session_id, **fields) as client:
        # Re-subscribe as the client does after a reconnect (versions restart at 0).
        await client.subscribe(0, "counters:get", {"name": "n"})
        yield client


async def test_resent_mutation_is_applied_once_with_the_original_result(url: str) -> None:
    session_id = str(uuid.uuid4())
    with contextlib.suppress(ConnectionClosed):
        async with RawClient.open(url, session_id=session_id) as c:
            await c.subscribe(0, "counters:get", {"name": "n"})
            await c.transition()
            original, _ = await c.mutation("counters:increment", {"name": "n"}, request_id=0)
            assert original["result"] == 1.0
            kill(c)

    async with resumed(url, session_id, original["ts"]) as c:
        t = await c.transition()
        assert t["startVersion"]["querySet"] == 0  # a new connection starts over
        assert c.results[0] == 1.0
        again, _ = await c.mutation("counters:increment", {"name": "n"}, request_id=0)
        assert again["success"] is True
        assert again["result"] == 1.0  # the recorded result, not a second increment
        assert b64_to_u64(again["ts"]) >= b64_to_u64(original["ts"])
        assert c.results[0] == 1.0
        fresh, _ = await c.mutation("counters:increment", {"name": "n"}, request_id=1)
        assert fresh["result"] == 2.0  # a new request id runs


async def test_mutation_in_flight_when_the_socket_dies_runs_once(url: str) -> None:
    session_id = str(uuid.uuid4())
    with contextlib.suppress(ConnectionClosed):
        async with RawClient.open(url, session_id=session_id) as c:
            await c.request("Mutation", "counters:increment", {"name": "n"}, request_id=0)
            kill(c)  # before any response: it may or may not have committed
    async with resumed(url, session_id, None) as c:
        await c.transition()
        response, _ = await c.mutation("counters:increment", {"name": "n"}, request_id=0)
        assert response["result"] == 1.0
        assert c.results[0] == 1.0


async def test_records_expire_after_the_retention_period(url: str, server: ReactorServer) -> None:
    session_id = str(uuid.uuid4())
    async with RawClient.open(url, session_id=session_id) as c:
        await c.mutation("counters:increment", {"name": "n"}, request_id=0)
    # What the background collector does once the retention period has passed.
    deleted = await purge_session_requests(server.engine, time.time() * 1000 + 1)
    assert deleted == 1
    async with RawClient.open(url, session_id=session_id) as c:
        response, _ = await c.mutation("counters:increment", {"name": "n"}, request_id=0)
        assert response["result"] == 2.0  # forgotten: it runs again


async def test_a_new_session_id_is_a_new_request(url: str) -> None:
    """The official Python client opens a new sessionId per connection: no dedupe."""
    for expected in (1.0, 2.0):
        async with RawClient.open(url) as c:
            response, _ = await c.mutation("counters:increment", {"name": "n"}, request_id=0)
            assert response["result"] == expected
