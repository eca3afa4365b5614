"""set_auth: identity changes re-run subscriptions; refused tokens are reported."""

from __future__ import annotations

import pytest
from client_helpers import next_value
from client_relay import FaultyRelay

from reactor.client import AsyncReactorClient, AuthenticationError

pytestmark = pytest.mark.anyio


async def test_identity_changes_rerun_subscriptions(client: AsyncReactorClient) -> None:
    async with client.subscribe("messages:whoami") as whoami:
        assert await next_value(whoami) is None
        await client.set_auth("good:alice")
        assert await next_value(whoami) == "alice"
        assert await client.query("messages:whoami") == "alice"
        await client.set_auth("good:bob")
        assert await next_value(whoami) == "bob"
        await client.set_auth(None)
        assert await next_value(whoami) is None


async def test_setting_auth_before_connecting(url: str) -> None:
    async with AsyncReactorClient(url) as client:
        await client.set_auth("good:early")
        assert await client.query("messages:whoami") == "early"
        await client.set_auth(None)
        await client.set_auth(None)  # clearing twice is harmless
        assert await client.query("messages:whoami") is None


async def test_a_refused_token_raises_and_leaves_the_client_anonymous(
    relay: FaultyRelay, relayed: AsyncReactorClient
) -> None:
    await relayed.set_auth("good:carol")
    async with relayed.subscribe("messages:whoami") as whoami:
        assert await next_value(whoami) == "carol"
        with pytest.raises(AuthenticationError, match="bad token 'forged'"):
            await relayed.set_auth("forged")
        # The server closed the connection after its AuthError; the client came
        # back without a token, and its subscription re-ran anonymously.
        assert await next_value(whoami) is None
        assert await relayed.query("messages:whoami") is None
    assert relay.of_type("Connect")[1]["lastCloseReason"] == "AuthError"


async def test_auth_is_sent_again_after_a_reconnect(
    relay: FaultyRelay, relayed: AsyncReactorClient
) -> None:
    await relayed.set_auth("good:dave")
    async with relayed.subscribe("messages:whoami") as whoami:
        assert await next_value(whoami) == "dave"
        relay.kill_all()
        assert await relayed.mutation("values:echo_mutation", {}) == {}  # reconnected
        assert await relayed.query("messages:whoami") == "dave"
    authenticates = relay.of_type("Authenticate")
    assert [(a["value"], a["baseVersion"]) for a in authenticates] == [("good:dave", 0)] * 2


async def test_a_token_refused_on_reconnect_is_raised_by_subscriptions(
    relay: FaultyRelay, relayed: AsyncReactorClient
) -> None:
    await relayed.set_auth("once:erin")  # accepted now, refused when sent again
    async with relayed.subscribe("messages:whoami") as whoami:
        assert await next_value(whoami) == "erin"
        relay.kill_all()
        with pytest.raises(AuthenticationError, match="bad token 'once:erin'"):
            await next_value(whoami)
        assert await next_value(whoami) is None  # carries on anonymously
