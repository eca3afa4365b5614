"""Queries, mutations and actions over the sync protocol: values and errors."""

from __future__ import annotations

import pytest
from client_helpers import EVERY_TYPE, check_every_type

from reactor import ConvexError
from reactor.client import AsyncReactorClient, ClientClosedError, FunctionError
from reactor.client._transport import sync_url
from reactor.errors import InvalidValueError

pytestmark = pytest.mark.anyio


async def test_every_value_type_round_trips(client: AsyncReactorClient) -> None:
    check_every_type(await client.query("values:echo_query", EVERY_TYPE))
    check_every_type(await client.mutation("values:echo_mutation", EVERY_TYPE))
    check_every_type(await client.action("values:echo_action", EVERY_TYPE))


async def test_plain_ints_are_float64_and_no_args_is_empty(client: AsyncReactorClient) -> None:
    result = await client.query("values:echo_query", {"n": 3})
    assert result == {"n": 3.0} and type(result["n"]) is float
    assert await client.action("values:echo_action") == {}


async def test_mutation_writes_are_seen_by_queries(client: AsyncReactorClient) -> None:
    assert await client.query("counters:get", {"name": "c"}) is None
    assert await client.mutation("counters:increment", {"name": "c"}) == 1.0
    assert await client.mutation("counters:increment", {"name": "c"}) == 2.0
    assert await client.query("counters:get", {"name": "c"}) == 2.0


async def test_convex_error_carries_its_data(client: AsyncReactorClient) -> None:
    with pytest.raises(ConvexError) as mutation_error:
        await client.mutation("messages:fail", {"code": "NOPE"})
    assert mutation_error.value.data == {"code": "NOPE", "n": 1.0}
    assert await client.query("messages:list", {"channel": "never"}) == []  # rolled back

    with pytest.raises(ConvexError) as action_error:
        await client.action("messages:fail_action", {"code": "plain string"})
    assert action_error.value.data == "plain string"


async def test_query_convex_error(client: AsyncReactorClient, other: AsyncReactorClient) -> None:
    await other.mutation("messages:send", {"channel": "p", "body": "poison"})
    with pytest.raises(ConvexError) as error:
        await client.query("messages:list", {"channel": "p"})
    assert error.value.data == {"code": "POISONED", "count": 1.0}


async def test_other_failures_raise_function_error(client: AsyncReactorClient) -> None:
    with pytest.raises(FunctionError, match="mutation internals") as crash:
        await client.mutation("messages:crash")
    assert crash.value.path == "messages:crash"
    assert not isinstance(crash.value, ConvexError)

    for call in (client.query, client.mutation, client.action):
        with pytest.raises(FunctionError, match="nowhere:nothing"):
            await call("nowhere:nothing", {})

    with pytest.raises(FunctionError, match="channel"):
        await client.mutation("messages:send", {"body": "no channel"})  # args validator


async def test_the_client_works_on_after_failures(client: AsyncReactorClient) -> None:
    with pytest.raises(FunctionError):
        await client.query("nowhere:nothing")
    assert await client.mutation("counters:increment", {"name": "after"}) == 1.0


async def test_bad_args_are_refused_before_sending(client: AsyncReactorClient) -> None:
    with pytest.raises(TypeError, match="dict"):
        await client.mutation("values:echo_mutation", ["not", "a", "dict"])
    with pytest.raises(InvalidValueError):
        await client.mutation("values:echo_mutation", {"s": {1, 2}})
    with pytest.raises(InvalidValueError):
        client.subscribe("values:echo_query", {"$bad": 1.0})
    assert await client.mutation("values:echo_mutation", {"ok": True}) == {"ok": True}


async def test_closed_client_refuses_calls(url: str) -> None:
    client = AsyncReactorClient(url)
    assert await client.query("counters:get", {"name": "x"}) is None
    await client.close()
    await client.close()  # idempotent
    with pytest.raises(ClientClosedError):
        await client.query("counters:get", {"name": "x"})
    with pytest.raises(ClientClosedError):
        client.subscribe("counters:get", {"name": "x"})


def test_sync_url() -> None:
    assert sync_url("http://127.0.0.1:3210") == "ws://127.0.0.1:3210/api/sync"
    assert sync_url("https://example.com/") == "wss://example.com/api/sync"
    assert sync_url("https://example.com/prefix") == "wss://example.com/prefix/api/sync"
    with pytest.raises(ValueError, match="deployment URL"):
        sync_url("127.0.0.1:3210")
