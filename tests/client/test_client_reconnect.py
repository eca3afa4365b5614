"""Reconnecting: re-subscribing, exactly-once mutations, lost actions, bad servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from client_helpers import next_value, until, waiting_value
from client_relay import FaultyRelay

from reactor.client import AsyncReactorClient, ClientClosedError, ConnectionLostError
from reactor.server import ServerConfig, create_server
from reactor.sync import SessionLimits

pytestmark = pytest.mark.anyio


def connects(relay: FaultyRelay) -> list[dict[str, Any]]:
    return relay.of_type("Connect")


async def test_resubscribes_after_the_socket_dies(
    relay: FaultyRelay, relayed: AsyncReactorClient, other: AsyncReactorClient
) -> None:
    subscription = relayed.subscribe("counters:get", {"name": "r"})
    assert await next_value(subscription) is None
    assert await relayed.mutation("counters:increment", {"name": "r"}) == 1.0
    assert await waiting_value(subscription) == 1.0

    relay.kill_all()
    await other.mutation("counters:increment", {"name": "r"})
    assert await next_value(subscription) == 2.0  # over the new connection
    assert await relayed.mutation("counters:increment", {"name": "r"}) == 3.0
    assert await waiting_value(subscription) == 3.0

    first, second = connects(relay)
    assert second["sessionId"] == first["sessionId"] == relayed.session_id
    assert (first["connectionCount"], first["lastCloseReason"]) == (0, "InitialConnect")
    assert "maxObservedTimestamp" not in first
    assert second["connectionCount"] == 1
    assert second["lastCloseReason"] == "closed with code 1006"
    assert second["maxObservedTimestamp"]
    # The whole query set again, in one ModifyQuerySet from version 0, same ids.
    modify = relay.of_type("ModifyQuerySet")
    assert [(m["baseVersion"], m["newVersion"]) for m in modify] == [(0, 1), (0, 1)]
    assert modify[0]["modifications"][0]["queryId"] == modify[1]["modifications"][0]["queryId"]
    subscription.close()


async def test_a_mutation_whose_response_was_lost_runs_once(
    relay: FaultyRelay, relayed: AsyncReactorClient, other: AsyncReactorClient
) -> None:
    subscription = relayed.subscribe("counters:get", {"name": "once"})
    assert await next_value(subscription) is None
    # The server commits and answers; the answer never arrives: the socket dies.
    relay.drop_before_client_gets = lambda m: m["type"] == "MutationResponse"
    assert await relayed.mutation("counters:increment", {"name": "once"}) == 1.0
    assert await waiting_value(subscription) == 1.0
    assert relay.drop_before_client_gets is None  # the fault did happen

    sent = relay.of_type("Mutation")
    assert len(sent) == 2 and sent[0] == sent[1]  # re-sent verbatim: same requestId
    assert len(connects(relay)) == 2
    assert await other.query("counters:get", {"name": "once"}) == 1.0  # applied once
    assert await relayed.mutation("counters:increment", {"name": "once"}) == 2.0
    subscription.close()


async def test_a_mutation_in_flight_when_the_socket_dies_runs_once(
    relay: FaultyRelay, relayed: AsyncReactorClient, other: AsyncReactorClient
) -> None:
    # Dropped right after the server got it: it may or may not have committed.
    relay.drop_after_server_gets = lambda m: m["type"] == "Mutation"
    assert await relayed.mutation("counters:increment", {"name": "f"}) == 1.0
    assert len(relay.of_type("Mutation")) == 2
    assert await other.query("counters:get", {"name": "f"}) == 1.0


async def test_mutations_made_while_offline_are_sent_in_order(
    relay: FaultyRelay, relayed: AsyncReactorClient
) -> None:
    assert await relayed.query("messages:list", {"channel": "o"}) == []
    relay.drop_after_server_gets = lambda m: m["type"] == "Mutation"
    sends = [
        asyncio.create_task(relayed.mutation("messages:send", {"channel": "o", "body": str(i)}))
        for i in range(5)
    ]
    await asyncio.gather(*sends)
    assert await relayed.query("messages:list", {"channel": "o"}) == ["0", "1", "2", "3", "4"]


async def test_an_action_in_flight_fails_and_is_not_resent(
    relay: FaultyRelay, relayed: AsyncReactorClient
) -> None:
    relay.drop_after_server_gets = lambda m: m["type"] == "Action"
    with pytest.raises(ConnectionLostError, match="connection lost while action"):
        await relayed.action("messages:slow")
    assert await relayed.action("values:echo_action", {"x": 1.0}) == {"x": 1.0}
    assert [m["udfPath"] for m in relay.of_type("Action")] == [
        "messages:slow",
        "values:echo_action",
    ]


def unchained(message: dict[str, Any]) -> dict[str, Any]:
    message["startVersion"]["querySet"] += 7
    return message


def ts_going_back(message: dict[str, Any]) -> dict[str, Any]:
    message["endVersion"]["ts"] = "AQAAAAAAAAA="  # 1: before the start
    return message


def not_a_message(message: dict[str, Any]) -> dict[str, Any]:
    return {"type": "TransitionChunk", "chunk": "{", "partNumber": 0, "totalParts": 2}


@pytest.mark.parametrize(
    ("corruption", "reason"),
    [
        (unchained, "InvalidStartVersion"),
        (ts_going_back, "InvalidTransition"),
        (not_a_message, "ProtocolError: unknown message type 'TransitionChunk'"),
    ],
)
async def test_a_bad_transition_makes_it_reconnect(
    relay: FaultyRelay,
    relayed: AsyncReactorClient,
    other: AsyncReactorClient,
    corruption: Callable[[dict[str, Any]], dict[str, Any]],
    reason: str,
    protocol_errors_expected: None,
) -> None:
    await other.mutation("counters:increment", {"name": "warm-up"})  # so that ts > 1
    subscription = relayed.subscribe("counters:get", {"name": "v"})
    assert await next_value(subscription) is None

    def once(message: dict[str, Any]) -> dict[str, Any]:
        if message["type"] != "Transition" or not message["modifications"]:
            return message
        relay.rewrite = None
        return corruption(message)

    relay.rewrite = once
    await other.mutation("counters:increment", {"name": "v"})
    assert await next_value(subscription) == 1.0  # from the next connection
    assert connects(relay)[1]["lastCloseReason"].startswith(reason)
    subscription.close()


async def test_a_fatal_error_ends_the_client(
    relay: FaultyRelay, relayed: AsyncReactorClient, protocol_errors_expected: None
) -> None:
    relay.rewrite = lambda message: {"type": "FatalError", "error": "BaseVersionMismatch: x"}
    with pytest.raises(ClientClosedError, match="ended the session: BaseVersionMismatch: x"):
        await relayed.query("counters:get", {"name": "fatal"})
    with pytest.raises(ClientClosedError):
        await relayed.mutation("counters:increment", {"name": "fatal"})
    await asyncio.sleep(0.1)
    assert len(connects(relay)) == 1  # no reconnecting after a FatalError


async def test_a_silent_server_is_given_up_on(
    relay: FaultyRelay, other: AsyncReactorClient
) -> None:
    async with AsyncReactorClient(relay.url, inactivity_timeout=0.3, initial_backoff=0.02) as c:
        subscription = c.subscribe("counters:get", {"name": "quiet"})
        assert await next_value(subscription) is None
        relay.mute = True
        await other.mutation("counters:increment", {"name": "quiet"})
        await until(lambda: len(connects(relay)) >= 2)
        relay.mute = False
        assert await next_value(subscription) == 1.0
        assert connects(relay)[1]["lastCloseReason"] == "InactiveServer"


@contextlib.asynccontextmanager
async def serving(app: Path, db: Path, port: int = 0) -> AsyncIterator[str]:
    server = create_server(app, db=str(db))
    async with server, server.serve(port=port) as url:
        yield url


async def test_survives_a_server_restart(client_app: Path, tmp_path: Path) -> None:
    db = tmp_path / "restart.db"
    async with serving(client_app, db) as url:
        client = AsyncReactorClient(url, initial_backoff=0.02, max_backoff=0.2)
        subscription = client.subscribe("counters:get", {"name": "rs"})
        assert await next_value(subscription) is None
        assert await client.mutation("counters:increment", {"name": "rs"}) == 1.0
    try:
        # The server is gone: this waits for the next one.
        pending = asyncio.create_task(client.mutation("counters:increment", {"name": "rs"}))
        await asyncio.sleep(0.1)
        assert not pending.done()
        port = int(url.rsplit(":", 1)[1])
        async with serving(client_app, db, port) as again:
            assert again == url
            assert await pending == 2.0
            assert await waiting_value(subscription) == 2.0
            assert await client.query("counters:get", {"name": "rs"}) == 2.0
            await client.close()
    finally:
        await client.close()


async def test_pings_keep_an_idle_connection_alive(client_app: Path, tmp_path: Path) -> None:
    config = ServerConfig(session=SessionLimits(ping_interval_s=0.05))
    server = create_server(client_app, db=str(tmp_path / "ping.db"), config=config)
    async with server, server.serve() as url:
        relay = FaultyRelay(url)
        async with relay.running(), AsyncReactorClient(relay.url, inactivity_timeout=0.3) as c:
            assert await c.query("counters:get", {"name": "idle"}) is None
            await asyncio.sleep(1.0)  # silent but for the server's Pings
            assert await c.query("counters:get", {"name": "idle"}) is None
        assert len(connects(relay)) == 1
        assert sum(m["type"] == "Ping" for m in relay.to_client) >= 5
