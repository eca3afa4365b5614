"""Bad frames close only their own connection, with an error naming the problem."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from raw_client import RawClient
from websockets.exceptions import ConnectionClosed

from reactor.sync import FATAL_CLOSE_CODE

pytestmark = pytest.mark.anyio

MODIFY = '{"type":"ModifyQuerySet","baseVersion":%d,"newVersion":%d,"modifications":[]}'


@pytest.fixture
async def bystander(url: str) -> AsyncIterator[RawClient]:
    """A client connected all along, which must keep being served."""
    async with RawClient.open(url) as client:
        await client.subscribe(0, "messages:list", {"channel": "calm"})
        await client.transition()
        yield client


async def still_served(url: str, bystander: RawClient, body: str) -> None:
    async with RawClient.open(url) as writer:
        await writer.mutation("messages:send", {"channel": "calm", "body": body})
    while [row["body"] for row in bystander.results[0]][-1:] != [body]:
        await bystander.transition()


async def closed(client: RawClient) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await client.ws.recv()
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        ("not json", "frame is not valid JSON"),
        ('["Connect"]', "frame must be a JSON object"),
        ('{"type":"Nope"}', "unknown message type 'Nope'"),
        (MODIFY % (5, 6), "BaseVersionMismatch"),
        (MODIFY % (0, 0), "InvalidQuerySetVersion"),
        (
            '{"type":"Mutation","requestId":0,"udfPath":"messages:send",'
            '"args":[{"body":{"$set":[]}}]}',
            "Mutation.args[0] is not a valid Convex value",
        ),
        (
            '{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":['
            '{"type":"Add","queryId":1,"udfPath":"messages:list","args":[{}]},'
            '{"type":"Add","queryId":1,"udfPath":"messages:list","args":[{}]}]}',
            "DuplicateQueryId",
        ),
        (b"\x00binary", "binary frames are not supported"),
    ],
)
async def test_bad_frame_is_fatal_for_its_connection_only(
    url: str, bystander: RawClient, frame: str | bytes, problem: str
) -> None:
    async with RawClient.open(url) as bad:
        await bad.ws.send(frame)
        fatal = await bad.recv()
        assert fatal["type"] == "FatalError"
        assert problem in fatal["error"]
        code, reason = await closed(bad)
        assert code == FATAL_CLOSE_CODE and problem in reason
    await still_served(url, bystander, "after a bad frame")


async def test_a_20_mb_frame_is_refused_by_the_frame_size_limit(
    url: str, bystander: RawClient
) -> None:
    async with RawClient.open(url) as big:
        await big.send('{"type":"Event","eventType":"x","event":"' + "x" * 20_000_000 + '"}')
        code, reason = await closed(big)
    assert code == 1009  # message too big
    assert "exceeds limit of 16777216 bytes" in reason
    await still_served(url, bystander, "after a huge frame")


async def test_a_message_before_connect_is_fatal(url: str, bystander: RawClient) -> None:
    async with RawClient.open(url, connect_message=False) as early:
        await early.send(MODIFY % (0, 1))
        fatal = await early.recv()
        assert fatal["type"] == "FatalError" and "first message must be Connect" in fatal["error"]
    await still_served(url, bystander, "after a message before Connect")


async def test_a_client_that_saw_the_future_is_closed(url: str, bystander: RawClient) -> None:
    ahead = "/////////38="  # 2**63 - 1: a ts this server never reached
    async with RawClient.open(url, maxObservedTimestamp=ahead) as client:
        code, reason = await closed(client)
    assert code == 1011 and "ClientTimestampTooNew" in reason
    await still_served(url, bystander, "after a client from the future")
