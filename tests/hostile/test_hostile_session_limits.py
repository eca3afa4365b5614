"""Per-connection limits answer with errors naming the limit, and cannot be
dodged: frame size (1009), subscriptions, requests in flight."""

from __future__ import annotations

from typing import Any

import pytest
from raw_client import RawClient
from websockets.exceptions import ConnectionClosed

from reactor.server import ReactorServer, ServerConfig
from reactor.sync import Outcome, RunAction, SessionLimits, SyncSession, parse_client_message

pytestmark = pytest.mark.anyio

LIMITS = SessionLimits(max_subscriptions=2, max_in_flight=2)


@pytest.fixture
def server_config() -> ServerConfig:
    return ServerConfig(session=LIMITS, max_frame_bytes=64 * 1024)


async def test_a_frame_over_the_size_limit_closes_with_1009(url: str) -> None:
    async with RawClient.open(url) as client:
        await client.send({"type": "Event", "eventType": "x", "event": "x" * 70_000})
        with pytest.raises(ConnectionClosed) as info:
            await client.recv()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1009
    assert "exceeds limit of 65536 bytes" in info.value.rcvd.reason


async def test_subscriptions_past_the_limit_fail_naming_it(url: str) -> None:
    async with RawClient.open(url) as client:
        adds = [
            {"type": "Add", "queryId": i, "udfPath": "messages:list", "args": [{"channel": str(i)}]}
            for i in range(3)
        ]
        await client.modify(*adds)
        transition = await client.transition()
        failed = [m for m in transition["modifications"] if m["type"] == "QueryFailed"]
        assert [m["queryId"] for m in failed] == [2]
        assert failed[0]["errorMessage"].startswith("TooManySubscriptions:")
        assert "(max_subscriptions)" in failed[0]["errorMessage"]
        # Every query in the set counts, the refused one too: removing makes room.
        await client.unsubscribe(0)
        await client.unsubscribe(2)
        await client.subscribe(5, "messages:list", {"channel": "5"})
        while 5 not in client.results:
            await client.transition()
        assert client.results[5] == []


async def test_reusing_a_request_id_does_not_dodge_the_in_flight_limit(
    url: str, server: ReactorServer
) -> None:
    gates: Any = server.engine.app.modules["gates"]
    async with RawClient.open(url) as client:
        for _ in range(4):
            await client.request("Action", "gates:held", request_id=7)
        refused = [await client.expect("ActionResponse") for _ in range(2)]
        for response in refused:
            assert response["success"] is False
            assert response["result"].startswith("TooManyConcurrentRequests:")
            assert "(max_in_flight)" in response["result"]
        gates.action_gate.set()
        released = [await client.expect("ActionResponse") for _ in range(2)]
        assert [r["result"] for r in released] == ["released", "released"]


def test_each_run_of_a_reused_request_id_counts_in_the_session() -> None:
    session = SyncSession(limits=LIMITS)
    session.receive(parse_client_message('{"type":"Connect","sessionId":"s","connectionCount":0}'))
    action = '{"type":"Action","requestId":0,"udfPath":"a:b","args":[{}]}'
    for _ in range(5):
        session.receive(parse_client_message(action))
    assert sum(isinstance(c, RunAction) for c in session.take_commands()) == 2
    session.action_done(0, _ok())
    session.receive(parse_client_message(action))  # one finished: one more may run
    assert sum(isinstance(c, RunAction) for c in session.take_commands()) == 1


def _ok() -> Outcome:
    return Outcome(True, None)
