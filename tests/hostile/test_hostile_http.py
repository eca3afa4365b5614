"""Malformed HTTP against a live `reactor serve`: bad bodies to the function API,
broken requests, megabyte URLs. Each gets a 4xx naming the problem (or a
function error), never a 5xx, and the server keeps answering."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import orjson
import pytest
from hostile_server import ServerProcess, running_server

pytestmark = pytest.mark.anyio

APP = Path(__file__).resolve().parents[1] / "apps" / "live"
MAX_BODY = 1 << 20
ENDPOINTS = [
    "/api/query",
    "/api/mutation",
    "/api/action",
    "/api/function",
    "/api/run/messages/list",
    "/api/query_at_ts",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"REACTOR_MAX_BODY_BYTES": str(MAX_BODY)}
    with running_server(APP, tmp_path_factory.mktemp("http"), env) as server:
        yield server


@pytest.fixture
async def http(server: ServerProcess) -> Any:
    async with httpx2.AsyncClient(base_url=server.url, trust_env=False, timeout=30) as client:
        yield client


KNOWN: list[tuple[bytes, int, str]] = [
    (b"not json", 400, "the body is not valid JSON"),
    (b"\xff\xfe{}", 400, "the body is not valid JSON"),
    (b"[1, 2]", 400, "the body must be a JSON object"),
    (b'"path"', 400, "the body must be a JSON object"),
    (b"{}", 400, "the body needs a function path"),
    (b'{"path": 1}', 400, "the body needs a function path"),
    (b'{"path": "messages:list", "format": "xml"}', 400, "unknown format 'xml'"),
    (b'{"path": "messages:list", "args": {"$integer": "x"}}', 400, "args is not a Convex value"),
    (b'{"path": "messages:list", "args": {"a": {"$bad": 1}}}', 400, "args is not a Convex value"),
    (b'{"path": "messages:list", "args": "x"}', 400, "args must be an object"),
    (b'{"path": "messages:list", "args": [1, 2]}', 400, "args must be an object"),
    (
        b'{"path": "messages:list", "args": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        400,
        "not valid JSON",
    ),
    (b'{"path": "messages:list", "args": {"a": 1e999}}', 400, "not valid JSON"),
    (b'{"path": "messages:list", "componentPath": "x"}', 400, "componentPath"),
    (b" " * (MAX_BODY + 1), 413, ""),
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_known_bad_bodies_name_the_problem(http: httpx2.AsyncClient, endpoint: str) -> None:
    for body, status, problem in KNOWN:
        if endpoint == "/api/run/messages/list" and problem == "the body needs a function path":
            continue  # the path is in the URL
        answer = await http.post(endpoint, content=body)
        if endpoint == "/api/query_at_ts" and status == 400 and answer.status_code == 400:
            continue  # also needs ts: any 400 naming a problem will do
        assert answer.status_code == status, (endpoint, body[:60], answer.text[:200])
        if status == 400:
            assert problem in answer.json()["message"], (endpoint, answer.text[:300])


def random_body(rng: random.Random) -> bytes:
    pick = rng.randrange(6)
    if pick == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
    base: dict[str, Any] = {"path": "messages:list", "args": {"channel": "x"}, "format": "json"}
    if pick == 1:
        del base[rng.choice(sorted(base))]
    junk: list[Any] = [None, 1, -1.5, True, "", "x" * 1000, [], {}, [{}], {"$integer": "AAAA"}]
    key = rng.choice(["path", "args", "format", "ts", "componentPath", "$x"])
    base[key] = rng.choice(junk)
    text = orjson.dumps(base)
    if pick == 2 and text:
        at = rng.randrange(len(text))
        text = text[:at] + rng.choice([b'"', b"{", b"]", b"\\", b"\xff", b""]) + text[at + 1 :]
    return text


async def test_random_bodies_never_get_a_server_error(
    server: ServerProcess, http: httpx2.AsyncClient, long_mode: bool
) -> None:
    rng = random.Random(7)
    statuses: dict[int, int] = {}
    for _ in range(5_000 if long_mode else 600):
        endpoint = rng.choice(ENDPOINTS)
        headers = {"content-type": rng.choice(["application/json", "text/plain", "x/y"])}
        answer = await http.post(endpoint, content=random_body(rng), headers=headers)
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        assert answer.status_code < 500, (endpoint, answer.status_code, answer.text[:300])
        body = answer.json()
        assert ("code" in body and body["message"]) or "status" in body, answer.text[:300]
    assert server.alive()
    print(f"\nstatuses: {statuses}")


async def raw_request(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        with anyio.fail_after(10):
            return await reader.read(4096)
    finally:
        writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
        b"POST /api/query HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /api/query HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),  # a TLS hello
    ],
)
async def test_broken_requests_get_400(server: ServerProcess, request_bytes: bytes) -> None:
    answer = await raw_request(server.port, request_bytes)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:200]


async def http_exchange(
    port: int, method: str, target: str, body: bytes = b""
) -> tuple[int, bytes]:
    """One request on a raw socket (clients refuse URLs this long): status and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
        with anyio.fail_after(10):
            answer = await reader.read()
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


async def test_megabyte_urls_and_paths_are_answered_promptly(
    server: ServerProcess, http: httpx2.AsyncClient
) -> None:
    """A function path can be megabytes long (in a body), a URL ~80 KB: each was
    logged in full, a megabyte log line per request, and under a rich log
    handler (which `reactor serve` used) the line stalled the event loop for
    minutes (rich wraps a long word in quadratic time). Logs now cut them short."""
    url_path = "k" * 60_000  # uvicorn refuses longer request lines (400)
    started = time.monotonic()
    status, body = await http_exchange(server.port, "POST", f"/api/run/{url_path}", b"{}")
    assert status == 200 and b"Could not find public function" in body
    status, _ = await http_exchange(server.port, "GET", f"/{url_path}")
    assert status == 404
    status, _ = await http_exchange(server.port, "GET", "/" + "k" * 1_000_000)
    assert status == 400
    call = await http.post("/api/query", json={"path": "k" * 1_000_000, "args": {}})
    assert call.status_code == 200 and call.json()["status"] == "error"
    assert time.monotonic() - started < 10
    health = await http.get("/health")
    assert health.status_code == 200
    assert max(len(line) for line in server.log_text().splitlines()) < 5_000
