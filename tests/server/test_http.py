"""The HTTP function API, as ConvexHttpClient (npm and PyPI) uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from reactor.server import create_server
from reactor.values import b64_to_u64

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(url: str) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=url, trust_env=False) as client:
        yield client


async def call(
    http: httpx2.AsyncClient, route: str, path: str, args: Any = None, **extra: Any
) -> dict[str, Any]:
    body = {"path": path, "format": "convex_encoded_json", "args": args or {}, **extra}
    response = await http.post(f"/api/{route}", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_query_mutation_action_success(http: httpx2.AsyncClient) -> None:
    assert await call(http, "query", "messages:list", {"channel": "h"}) == {
        "status": "success",
        "value": [],
        "logLines": [],
    }
    sent = await call(http, "mutation", "messages:send", [{"channel": "h", "body": "x"}])  # npm
    assert sent["status"] == "success" and isinstance(sent["value"], str)
    listed = await call(http, "query", "messages.js:list", {"channel": "h"})
    assert [row["_id"] for row in listed["value"]] == [sent["value"]]  # read your writes
    assert isinstance(listed["value"][0]["_creationTime"], float)
    args = {"x": {"$integer": "AQAAAAAAAAA="}, "b": {"$bytes": "+/8AAX8="}, "f": 1.0}
    echoed = await call(http, "action", "messages:echo", args)
    assert echoed["value"] == args


async def test_floats_always_carry_a_decimal_point(http: httpx2.AsyncClient) -> None:
    await call(http, "mutation", "counters:increment", {"name": "n"})
    response = await http.post("/api/query", json={"path": "counters:get", "args": {"name": "n"}})
    assert b'"value":1.0' in response.content  # the Python client refuses JSON integers


async def test_function_errors_are_200_with_status_error(http: httpx2.AsyncClient) -> None:
    assert await call(http, "mutation", "messages:fail", {"code": "BAD"}) == {
        "status": "error",
        "errorMessage": 'Uncaught ConvexError: {"code":"BAD"}',
        "errorData": {"code": "BAD"},
        "logLines": [],
    }
    crashed = await call(http, "mutation", "messages:crash")
    assert crashed["errorMessage"] == "Uncaught Error: secret internals"
    assert "errorData" not in crashed
    wrong_kind = await call(http, "mutation", "messages:list", {"channel": "h"})
    assert "is a query, but it was called as a mutation" in wrong_kind["errorMessage"]
    bad_args = await call(http, "query", "messages:list", {"channel": 1.0})
    assert bad_args["status"] == "error"


async def test_internal_functions_answer_as_unknown_ones(http: httpx2.AsyncClient) -> None:
    for route in ("query", "function"):
        secret = await call(http, route, "messages:secret")
        unknown = await call(http, route, "messages:nothing")
        assert secret["errorMessage"] == "Could not find public function for 'messages:secret'"
        assert unknown["errorMessage"] == "Could not find public function for 'messages:nothing'"


async def test_function_and_run_routes_pick_the_kind(http: httpx2.AsyncClient) -> None:
    sent = await call(http, "function", "messages:send", {"channel": "r", "body": "b"})
    assert sent["status"] == "success"
    response = await http.post("/api/run/messages/list", json={"args": {"channel": "r"}})
    assert [row["body"] for row in response.json()["value"]] == ["b"]


async def test_json_format_is_lossy_clean_json(http: httpx2.AsyncClient) -> None:
    args = {
        "x": {"$integer": "AQAAAAAAAAA="},
        "b": {"$bytes": "+/8AAX8="},
        "n": {"$float": "AAAAAAAA+H8="},
    }
    response = await http.post("/api/action", json={"path": "messages:echo", "args": args})
    assert response.json()["value"] == {"x": "1", "b": "+/8AAX8=", "n": "NaN"}


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"{not json", "BadJsonBody"),
        (b"[1, 2]", "BadJsonBody"),
        (b'{"args": {}}', "BadJsonBody"),
        (b'{"path": "messages:list", "format": "xml"}', "BadJsonBody"),
        (b'{"path": "messages:list", "args": {"c": {"$set": []}}}', "BadConvexValue"),
        (b'{"path": "messages:list", "componentPath": "c"}', "Unsupported"),
    ],
)
async def test_request_errors_are_4xx_with_code_and_message(
    http: httpx2.AsyncClient, content: bytes, code: str
) -> None:
    response = await http.post(
        "/api/query", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code and body["message"]


async def test_bad_tokens_and_admin_keys_are_refused(http: httpx2.AsyncClient) -> None:
    for header, message in (
        ("Bearer a.b.c", "malformed token"),
        ("Convex not-the-admin-key", "invalid admin key"),
        ("Basic dXNlcg==", "Authorization header must be"),
    ):
        response = await http.post(
            "/api/query",
            json={"path": "messages:list", "args": {"channel": "h"}},
            headers={"authorization": header},
        )
        assert response.status_code == 401
        body = response.json()
        assert body["code"] == "Unauthenticated"
        assert body["message"].startswith(message), body


async def test_cors_preflight_and_simple_requests(http: httpx2.AsyncClient) -> None:
    origin = "http://localhost:5173"
    preflight = await http.options(
        "/api/mutation",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,convex-client,authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert preflight.headers["access-control-allow-credentials"] == "true"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "convex-client" in allowed and "authorization" in allowed
    simple = await http.post(
        "/api/query",
        json={"path": "messages:list", "args": {"channel": "h"}},
        headers={"origin": origin},
    )
    assert simple.headers["access-control-allow-origin"] == origin


async def test_consistent_query_at_a_timestamp(http: httpx2.AsyncClient) -> None:
    await call(http, "mutation", "messages:send", {"channel": "t", "body": "1"})
    ts = (await http.post("/api/query_ts")).json()["ts"]
    assert b64_to_u64(ts) > 0
    at = await call(http, "query_at_ts", "messages:list", {"channel": "t"}, ts=ts)
    assert [row["body"] for row in at["value"]] == ["1"]
    too_new = await http.post(
        "/api/query_at_ts", json={"path": "messages:list", "args": {}, "ts": "/////////38="}
    )
    assert too_new.status_code == 400 and too_new.json()["code"] == "TimestampUnavailable"


async def test_health_and_version(http: httpx2.AsyncClient) -> None:
    health = await http.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert (await http.get("/version")).json()["version"]


async def test_internal_errors_stay_private_without_dev_errors(
    live_app: Path, tmp_path: Path
) -> None:
    server = create_server(live_app, db=str(tmp_path / "prod.db"), dev_errors=False)
    async with (
        server,
        server.serve() as url,
        httpx2.AsyncClient(base_url=url, trust_env=False) as http,
    ):
        crashed = await call(http, "mutation", "messages:crash")
        assert crashed["errorMessage"].startswith("[Request ID: ")
        assert crashed["errorMessage"].endswith("] Server Error")
        assert "secret" not in crashed["errorMessage"]
        failed = await call(http, "mutation", "messages:fail", {"code": "X"})
        assert failed["errorData"] == {"code": "X"}  # ConvexError data is meant for clients


async def test_the_official_python_http_client(url: str) -> None:
    from convex import ConvexError
    from convex.http_client import ConvexHttpClient

    def use_it() -> tuple[Any, Any, Any]:
        client = ConvexHttpClient(url)
        client.mutation("messages:send", {"channel": "py", "body": "hi", "author": "me"})
        rows = client.query("messages:list", {"channel": "py"})
        try:
            client.mutation("messages:fail", {})
        except ConvexError as exc:
            data = exc.data
        echoed = client.action("messages:echo", {"n": 2.5})
        return rows, data, echoed

    rows, data, echoed = await anyio.to_thread.run_sync(use_it)
    assert [row["body"] for row in rows] == ["hi"]
    assert data == {"code": "BAD"}
    assert echoed == {"n": 2.5}


async def test_default_store_is_in_the_app_folder(tmp_path: Path, live_app: Path) -> None:
    import shutil

    app = tmp_path / "app"
    shutil.copytree(live_app, app)
    server = create_server(app)
    async with server:
        assert (app / ".reactor" / "data.db").exists()
