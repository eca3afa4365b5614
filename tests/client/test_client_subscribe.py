"""Subscriptions: first value, updates, read-your-writes, errors, unsubscribing."""

from __future__ import annotations

import asyncio
import gc

import pytest
from client_helpers import next_value, waiting_value

from reactor import ConvexError
from reactor.client import AsyncReactorClient, FunctionError
from reactor.server import ReactorServer

pytestmark = pytest.mark.anyio


async def live_queries(server: ReactorServer, expected: int) -> None:
    """Wait until the server holds ``expected`` live queries."""
    # Polling: the server's registry has no event to wait on.
    async with asyncio.timeout(5):
        while server.live.stats()["live_queries"] != expected:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_initial_value_then_changes_made_by_another_client(
    client: AsyncReactorClient, other: AsyncReactorClient
) -> None:
    async with client.subscribe("messages:list", {"channel": "c"}) as subscription:
        assert await next_value(subscription) == []
        await other.mutation("messages:send", {"channel": "c", "body": "one"})
        assert await next_value(subscription) == ["one"]
        await other.mutation("messages:send", {"channel": "elsewhere", "body": "x"})
        await other.mutation("messages:send", {"channel": "c", "body": "two"})
        # The unrelated write changed nothing: the next value is the next change.
        assert await next_value(subscription) == ["one", "two"]


async def test_read_your_writes(client: AsyncReactorClient) -> None:
    subscription = client.subscribe("counters:get", {"name": "ryw"})
    assert await next_value(subscription) is None
    for expected in (1.0, 2.0, 3.0):
        assert await client.mutation("counters:increment", {"name": "ryw"}) == expected
        # Resolved only once a Transition covering the commit was applied: the
        # value is already waiting, no round trip needed.
        assert await waiting_value(subscription) == expected
    subscription.close()


async def test_subscriptions_move_together(
    client: AsyncReactorClient, other: AsyncReactorClient
) -> None:
    a = client.subscribe("tables:list_a")
    b = client.subscribe("tables:list_b")
    assert await next_value(a) == [] and await next_value(b) == []
    await client.mutation("tables:write", {"tables": ["a", "b"], "n": 1})
    assert await waiting_value(a) == [1.0]
    assert await waiting_value(b) == [1.0]
    # A write by someone else reaches both in one Transition as well.
    await other.mutation("tables:write", {"tables": ["a", "b"], "n": 2})
    assert await next_value(a) == [1.0, 2.0]
    assert await waiting_value(b) == [1.0, 2.0]
    a.close()
    b.close()


async def test_a_slow_reader_gets_the_latest_value(client: AsyncReactorClient) -> None:
    async with client.subscribe("counters:get", {"name": "slow"}) as subscription:
        assert await next_value(subscription) is None
        for _ in range(3):
            await client.mutation("counters:increment", {"name": "slow"})
        assert await next_value(subscription) == 3.0  # not 1.0, 2.0, 3.0


async def test_query_error_raises_from_the_iterator(
    client: AsyncReactorClient, other: AsyncReactorClient
) -> None:
    async with client.subscribe("messages:list", {"channel": "e"}) as subscription:
        assert await next_value(subscription) == []
        await other.mutation("messages:send", {"channel": "e", "body": "poison"})
        with pytest.raises(ConvexError) as error:
            await next_value(subscription)
        assert error.value.data == {"code": "POISONED", "count": 1.0}
        await other.mutation("messages:send", {"channel": "e", "body": "crash"})
        with pytest.raises(FunctionError, match="the list query crashed"):
            await next_value(subscription)


async def test_breaking_out_unsubscribes(client: AsyncReactorClient, server: ReactorServer) -> None:
    seen = []
    async for value in client.subscribe("counters:get", {"name": "b"}):
        seen.append(value)
        if len(seen) == 2:
            break
        await client.mutation("counters:increment", {"name": "b"})
    assert seen == [None, 1.0]
    await live_queries(server, 0)


async def test_close_and_context_manager_unsubscribe(
    client: AsyncReactorClient, server: ReactorServer
) -> None:
    subscription = client.subscribe("tables:list_a")
    async with client.subscribe("tables:list_b") as other_one:
        assert await next_value(subscription) == [] and await next_value(other_one) == []
        await live_queries(server, 2)
    await live_queries(server, 1)
    subscription.close()
    with pytest.raises(StopAsyncIteration):
        await anext(subscription)
    await live_queries(server, 0)


async def test_a_dropped_subscription_unsubscribes(
    client: AsyncReactorClient, server: ReactorServer
) -> None:
    subscription = client.subscribe("tables:list_a")
    assert await next_value(subscription) == []
    del subscription
    gc.collect()
    await live_queries(server, 0)


async def test_identical_subscriptions_share_one_query(
    client: AsyncReactorClient, server: ReactorServer
) -> None:
    first = client.subscribe("counters:get", {"name": "s"})
    second = client.subscribe("counters:get", {"name": "s"})
    assert await next_value(first) is None and await next_value(second) is None
    assert server.live.stats()["live_queries"] == 1
    # A one-shot query of a subscribed query is answered from the subscription.
    assert await client.query("counters:get", {"name": "s"}) is None
    await client.mutation("counters:increment", {"name": "s"})
    assert await waiting_value(first) == 1.0
    first.close()
    assert await waiting_value(second) == 1.0
    second.close()
    await live_queries(server, 0)
