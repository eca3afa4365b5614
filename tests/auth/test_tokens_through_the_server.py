"""JWTs from a local JWKS server, through the real server: WebSocket and HTTP.

The issuer runs on 127.0.0.1 (``auth_helpers.serve_issuer``); the app's
``auth.py`` names it as an OIDC provider (RS256 keys via discovery) and as a
custom JWT provider (ES256 keys by JWKS URL). A bad token is refused before any
function runs: the app's ``calls`` table counts every function run.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from auth_helpers import APP_ID, Issuer, SigningKey

from reactor.client import AsyncReactorClient, AuthenticationError
from reactor.server import create_server

pytestmark = pytest.mark.anyio

CUSTOM_ISSUER = "https://custom.reactor.test"


def write_app(folder: Path, issuer: Issuer) -> Path:
    (folder / "functions").mkdir(parents=True)
    (folder / "functions" / "__init__.py").write_text("")
    (folder / "functions" / "me.py").write_text(
        textwrap.dedent(
            """
            from reactor import mutation, query

            @query
            async def whoami(ctx, args):
                return await ctx.auth.get_user_identity()

            @mutation
            async def record(ctx, args):
                identity = await ctx.auth.get_user_identity()
                await ctx.db.insert("calls", {"who": identity and identity["subject"]})

            @query
            async def calls(ctx, args):
                return len(await ctx.db.query("calls").collect())
            """
        )
    )
    (folder / "auth.py").write_text(
        textwrap.dedent(
            f"""
            providers = [
                {{"domain": {issuer.base_url!r}, "applicationID": {APP_ID!r}}},
                {{"type": "customJwt", "issuer": {CUSTOM_ISSUER!r},
                  "jwks": {issuer.jwks_url!r}, "algorithm": "ES256",
                  "applicationID": {APP_ID!r}}},
            ]
            """
        )
    )
    return folder


@pytest.fixture
async def url(issuer: Issuer, tmp_path: Path) -> AsyncIterator[str]:
    server = create_server(write_app(tmp_path / "app", issuer), db=str(tmp_path / "data.db"))
    async with server, server.serve() as served:
        yield served


def tokens(issuer: Issuer, rsa_key: SigningKey, ec_key: SigningKey) -> dict[str, str]:
    return {
        "rs256": rsa_key.sign(issuer.claims(sub="ann", name="Ann")),
        "es256": ec_key.sign(issuer.claims(iss=CUSTOM_ISSUER, sub="bob")),
    }


def bad_tokens(
    issuer: Issuer, rsa_key: SigningKey, attacker_key: SigningKey
) -> dict[str, tuple[str, str]]:
    return {
        "expired": (rsa_key.sign(issuer.claims(exp=1_000_000)), "expired"),
        "forged": (attacker_key.sign(issuer.claims()), "signature"),
        "wrong audience": (rsa_key.sign(issuer.claims(aud="other-app")), "audience"),
        "wrong issuer": (rsa_key.sign(issuer.claims(iss="https://evil.test")), "issuer"),
    }


async def test_user_tokens_over_websocket_and_identity_changes_rerun_queries(
    url: str, issuer: Issuer, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    good = tokens(issuer, rsa_key, ec_key)
    async with AsyncReactorClient(url) as client, client.subscribe("me:whoami") as whoami:
        assert await anext(whoami) is None
        await client.set_auth(good["rs256"])
        ann = await anext(whoami)
        assert ann["tokenIdentifier"] == f"{issuer.base_url}|ann"
        assert ann["name"] == "Ann"
        await client.set_auth(good["es256"])  # the identity changes: the query re-runs
        bob = await anext(whoami)
        assert bob["tokenIdentifier"] == f"{CUSTOM_ISSUER}|bob"


async def test_user_tokens_over_http(
    url: str, issuer: Issuer, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    good = tokens(issuer, rsa_key, ec_key)
    async with httpx2.AsyncClient(base_url=url) as http:
        for name, subject in (("rs256", "ann"), ("es256", "bob")):
            response = await http.post(
                "/api/query",
                json={"path": "me:whoami", "args": {}},
                headers={"authorization": f"Bearer {good[name]}"},
            )
            assert response.json()["value"]["subject"] == subject


async def test_bad_tokens_never_reach_a_function(
    url: str, issuer: Issuer, rsa_key: SigningKey, attacker_key: SigningKey
) -> None:
    cases = bad_tokens(issuer, rsa_key, attacker_key)
    async with httpx2.AsyncClient(base_url=url) as http:
        for name, (token, reason) in cases.items():
            response = await http.post(
                "/api/mutation",
                json={"path": "me:record", "args": {}},
                headers={"authorization": f"Bearer {token}"},
            )
            assert response.status_code == 401, name
            assert reason in response.json()["message"], (name, response.json())
        for name, (token, reason) in cases.items():
            async with AsyncReactorClient(url) as client:
                with pytest.raises(AuthenticationError) as refused:
                    await client.set_auth(token)
                    await client.mutation("me:record")
                assert reason in str(refused.value), (name, str(refused.value))
        count: Any = (await http.post("/api/query", json={"path": "me:calls", "args": {}})).json()
        assert count["value"] == 0
