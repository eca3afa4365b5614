"""Per-connection limits answer with errors that name them; the connection lives on."""

from __future__ import annotations

import pytest
from raw_client import RawClient

from reactor.server import ReactorServer, ServerConfig
from reactor.sync import SessionLimits

pytestmark = pytest.mark.anyio


@pytest.fixture
def server_config() -> ServerConfig:
    # A short ping interval, so the wiring is checked without waiting 15 s.
    limits = SessionLimits(ping_interval_s=0.05, max_subscriptions=2, max_in_flight=2)
    return ServerConfig(session=limits)


async def test_json_ping_after_silence(url: str) -> None:
    async with RawClient.open(url) as c:
        assert await c.recv(skip_pings=False) == {"type": "Ping"}


async def test_subscriptions_beyond_the_limit_fail(url: str) -> None:
    async with RawClient.open(url) as c:
        await c.modify(
            *(
                {"type": "Add", "queryId": i, "udfPath": "tables:list_a", "args": [{"i": i}]}
                for i in range(3)
            )
        )
        t = await c.transition()
        failed = [m for m in t["modifications"] if m["type"] == "QueryFailed"]
        assert [m["queryId"] for m in failed] == [2]
        assert "TooManySubscriptions" in failed[0]["errorMessage"]
        assert c.results[0] == []


async def test_requests_beyond_the_in_flight_limit_fail(url: str, server: ReactorServer) -> None:
    gates = server.engine.app.modules["gates"]
    async with RawClient.open(url) as c:
        for request_id in range(3):
            await c.request("Action", "gates:held", request_id=request_id)
        refused = await c.expect("ActionResponse")
        assert refused["requestId"] == 2 and refused["success"] is False
        assert refused["result"].startswith("TooManyConcurrentRequests")
        gates.action_gate.set()
        answered = {(await c.expect("ActionResponse"))["requestId"] for _ in range(2)}
        assert answered == {0, 1}
