"""Authentication messages, a pluggable authenticator, and the official Python client."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from raw_client import RawClient
from websockets.exceptions import ConnectionClosed

from reactor.errors import AuthError
from reactor.server import create_server
from reactor.sync import TokenType

pytestmark = pytest.mark.anyio


async def test_anonymous_authenticate_bumps_identity(url: str) -> None:
    async with RawClient.open(url) as c:
        await c.subscribe(0, "messages:whoami")
        await c.transition()
        await c.send({"type": "Authenticate", "tokenType": "None", "baseVersion": 0})
        t = await c.transition()
        assert t["endVersion"]["identity"] == 1
        assert c.results[0] is None


async def test_a_bad_user_token_gets_auth_error(url: str) -> None:
    async with RawClient.open(url) as c:
        await c.send(
            {"type": "Authenticate", "tokenType": "User", "value": "a.b.c", "baseVersion": 0}
        )
        reply = await c.recv()
        assert reply["type"] == "AuthError"
        assert reply["error"].startswith("malformed token")
        assert reply["baseVersion"] == 0 and reply["authUpdateAttempted"] is True
        with pytest.raises(ConnectionClosed):
            await c.ws.recv()  # the AuthError is the last message


async def test_a_custom_authenticator_sets_the_identity(live_app: Path, tmp_path: Path) -> None:
    async def authenticate(token_type: TokenType, token: str | None) -> Mapping[str, Any] | None:
        if token_type == "User" and token == "good":
            return {"subject": "u1", "issuer": "test", "tokenIdentifier": "test|u1"}
        if token_type == "None":
            return None
        raise AuthError("bad token")

    server = create_server(live_app, db=str(tmp_path / "auth.db"), authenticator=authenticate)
    async with server, server.serve() as url, RawClient.open(url) as c:
        await c.subscribe(0, "messages:whoami")
        await c.subscribe(1, "messages:list", {"channel": "x"})
        while c.version["querySet"] < 2:
            await c.transition()
        await c.send(
            {"type": "Authenticate", "tokenType": "User", "value": "good", "baseVersion": 0}
        )
        t = await c.transition()
        assert t["endVersion"]["identity"] == 1
        # Only the query that read the identity changed.
        assert [m["queryId"] for m in t["modifications"]] == [0]
        assert c.results[0]["subject"] == "u1"
        response, _ = await c.mutation("messages:send", {"channel": "x", "body": "as u1"})
        assert response["success"]


PYTHON_CLIENT = textwrap.dedent(
    """
    import sys
    from convex import ConvexClient, ConvexError, ConvexInt64

    client = ConvexClient(sys.argv[1])
    assert client.query("messages:list", {"channel": "py"}) == []
    client.mutation("messages:send", {"channel": "py", "body": "one", "author": "me"})
    rows = client.query("messages:list", {"channel": "py"})
    assert [row["body"] for row in rows] == ["one"], rows
    try:
        client.mutation("messages:fail", {})
    except ConvexError as exc:
        assert exc.data == {"code": "BAD"}, exc.data
    else:
        raise AssertionError("no ConvexError")
    echoed = client.action("messages:echo", {"x": ConvexInt64(1), "b": b"\\xff\\x00"})
    assert echoed == {"x": 1, "b": b"\\xff\\x00"}, echoed
    subscription = client.subscribe("messages:list", {"channel": "py"})
    first = next(iter(subscription))
    client.mutation("messages:send", {"channel": "py", "body": "two", "author": "me"})
    for value in subscription:
        if len(value) == 2:
            break
    print("ok", len(first))
    """
)


async def test_the_official_python_websocket_client(url: str) -> None:
    # A subprocess: the Rust-backed client blocks holding the GIL, which would
    # freeze this process's event loop (and with it the server).
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PYTHON_CLIENT,
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(30):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()[-2000:]
    assert out.decode().split() == ["ok", "1"]
