"""A payment provider's signed webhook, as an app receives it, plus CORS, auth and errors.

The app (tests/apps/webhooks) checks an HMAC-SHA256 signature over the raw
body with the secret in the ``WEBHOOK_SECRET`` environment variable, and
records each event once: an internal mutation writes an idempotency receipt
in the same transaction as the event.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx2
import pytest

from reactor.errors import AuthError
from reactor.server import ReactorServer, ServerConfig, create_server
from reactor.sync import TokenType

pytestmark = pytest.mark.anyio

SECRET = "whsec_test_7f3a"
APP_ORIGIN = "https://app.example.com"


def signed(event: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    """What the provider sends: the JSON body and its signature header."""
    body = json.dumps(event, separators=(",", ":")).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-signature": f"sha256={signature}"}
    return body, headers


async def payments(server: ReactorServer) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (await server.engine.run_query("payments:list_all")).unwrap()
    return rows


async def test_a_signed_event_is_recorded_once_however_often_it_is_delivered(
    server: ReactorServer, http: httpx2.AsyncClient
) -> None:
    await server.engine.set_env("WEBHOOK_SECRET", SECRET)
    body, headers = signed({"id": "evt_1", "type": "payment.succeeded", "amount": 1250})

    first = await http.post("/webhooks/payments", content=body, headers=headers)
    assert first.status_code == 200
    assert first.json() == {"received": True, "duplicate": False}

    # The provider did not see our 200 in time and delivers the same event again.
    again = await http.post("/webhooks/payments", content=body, headers=headers)
    assert again.status_code == 200
    assert again.json() == {"received": True, "duplicate": True}

    recorded = await payments(server)
    assert [(p["eventId"], p["kind"], p["amount"]) for p in recorded] == [
        ("evt_1", "payment.succeeded", 1250)
    ]


async def test_concurrent_redeliveries_still_record_once(
    server: ReactorServer, http: httpx2.AsyncClient
) -> None:
    await server.engine.set_env("WEBHOOK_SECRET", SECRET)
    body, headers = signed({"id": "evt_race", "type": "payment.succeeded", "amount": 7})
    responses = await asyncio.gather(
        *(http.post("/webhooks/payments", content=body, headers=headers) for _ in range(5))
    )
    assert [r.status_code for r in responses] == [200] * 5
    assert sorted(r.json()["duplicate"] for r in responses) == [False, True, True, True, True]
    assert len(await payments(server)) == 1


async def test_a_bad_signature_gets_401_and_records_nothing(
    server: ReactorServer, http: httpx2.AsyncClient
) -> None:
    await server.engine.set_env("WEBHOOK_SECRET", SECRET)
    body, headers = signed({"id": "evt_2", "type": "payment.succeeded", "amount": 5})
    forged, forged_headers = signed({"id": "evt_2", "type": "x", "amount": 5}, "not-the-secret")
    tampered = body.replace(b"5", b"500")

    assert (
        await http.post("/webhooks/payments", content=forged, headers=forged_headers)
    ).status_code == 401
    assert (
        await http.post("/webhooks/payments", content=tampered, headers=headers)
    ).status_code == 401
    unsigned = {"content-type": "application/json"}
    assert (
        await http.post("/webhooks/payments", content=body, headers=unsigned)
    ).status_code == 401
    assert await payments(server) == []


async def test_without_the_secret_configured_every_delivery_is_refused(
    server: ReactorServer, http: httpx2.AsyncClient
) -> None:
    body, headers = signed({"id": "evt_3", "type": "payment.succeeded", "amount": 1})
    assert (await http.post("/webhooks/payments", content=body, headers=headers)).status_code == 401
    assert await payments(server) == []


async def test_cors_preflight_for_the_configured_origin(http: httpx2.AsyncClient) -> None:
    preflight = await http.options(
        "/files",
        headers={
            "origin": APP_ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "Content-Type, Authorization"
    assert preflight.headers["vary"] == "Origin"

    # The real request's response is readable by that origin...
    response = await http.get("/whoami", headers={"origin": APP_ORIGIN})
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    # ...and by no other: the app's CORS rules apply, not the API's allow-all.
    other = await http.get("/whoami", headers={"origin": "https://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    refused = await http.options(
        "/files",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers


async def test_the_api_still_answers_any_origin(http: httpx2.AsyncClient) -> None:
    preflight = await http.options(
        "/api/query",
        headers={"origin": "https://elsewhere.example", "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://elsewhere.example"


async def test_an_uncaught_error_is_a_500_with_a_request_id(http: httpx2.AsyncClient) -> None:
    crashed = await http.get("/boom")
    assert crashed.status_code == 500
    body = crashed.json()
    assert set(body) == {"code", "trace"}  # dev server: message and trace
    assert body["code"].startswith("[Request ID: ")
    assert body["code"].endswith("] Server Error: Uncaught Error: secret internals")
    assert "RuntimeError" in body["trace"]

    refused = await http.post("/refuse")
    assert refused.status_code == 500
    assert refused.json()["data"] == {"code": "REFUSED", "retry": False}


@pytest.mark.parametrize("server_config", [ServerConfig(dev_errors=False)])
async def test_production_500s_hide_internals(http: httpx2.AsyncClient) -> None:
    crashed = await http.get("/boom")
    assert crashed.status_code == 500
    body = crashed.json()
    assert list(body) == ["code"]
    assert body["code"].startswith("[Request ID: ") and body["code"].endswith("] Server Error")
    assert "secret" not in crashed.text
    refused = await http.post("/refuse")
    assert refused.json() == {
        "code": refused.json()["code"],
        "data": {"code": "REFUSED", "retry": False},
    }
    assert "REFUSED" not in refused.json()["code"]


async def test_the_identity_comes_from_the_bearer_token(webhooks_app: Path, tmp_path: Path) -> None:
    async def authenticate(token_type: TokenType, token: str | None) -> Mapping[str, Any] | None:
        if token_type == "User" and token == "good":
            return {"subject": "u1", "issuer": "test", "tokenIdentifier": "test|u1"}
        if token_type == "None":
            return None
        raise AuthError("bad token")

    server = create_server(webhooks_app, db=str(tmp_path / "data.db"), authenticator=authenticate)
    async with (
        server,
        server.serve() as url,
        httpx2.AsyncClient(base_url=url, trust_env=False) as http,
    ):
        signed_in = await http.get("/whoami", headers={"authorization": "Bearer good"})
        assert signed_in.json()["identity"]["tokenIdentifier"] == "test|u1"
        assert (await http.get("/whoami")).json() == {"identity": None}
        # Another scheme is the handler's business (webhook senders use their own).
        basic = await http.get("/whoami", headers={"authorization": "Basic dTpw"})
        assert basic.json() == {"identity": None}
        refused = await http.get("/whoami", headers={"authorization": "Bearer forged"})
        assert refused.status_code == 401
        assert refused.json() == {"code": "Unauthenticated", "message": "bad token"}
