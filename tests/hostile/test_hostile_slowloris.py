"""Slow clients: connections that never finish a request or a handshake, or never
say Connect, are dropped on a timer, and a well-behaved client is served
throughout."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import httpx2
import orjson
import pytest
from hostile_frames import connect_msg
from hostile_server import ServerProcess, running_server
from hostile_wire import frame, parse_frames, upgrade_request
from raw_client import RawClient

pytestmark = pytest.mark.anyio

APP = Path(__file__).resolve().parents[1] / "apps" / "live"
TIMEOUT_S = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "REACTOR_HEADER_TIMEOUT_S": str(TIMEOUT_S),
        "REACTOR_BODY_TIMEOUT_S": str(TIMEOUT_S),
        "REACTOR_CONNECT_TIMEOUT_S": str(TIMEOUT_S),
        "REACTOR_KEEP_ALIVE_TIMEOUT_S": str(TIMEOUT_S),
    }
    with running_server(APP, tmp_path_factory.mktemp("slow"), env) as server:
        yield server


@contextlib.asynccontextmanager
async def control_client(url: str) -> AsyncIterator[tuple[RawClient, httpx2.AsyncClient]]:
    async with (
        RawClient.open(url) as control,
        httpx2.AsyncClient(base_url=url, trust_env=False, timeout=10) as http,
    ):
        await control.subscribe(0, "messages:list", {"channel": "slow"})
        await control.transition()
        yield control, http


async def served(control: RawClient, http: httpx2.AsyncClient, body: str) -> None:
    answer = await http.post(
        "/api/mutation", json={"path": "messages:send", "args": {"channel": "slow", "body": body}}
    )
    assert answer.json()["status"] == "success", answer.text
    with anyio.fail_after(5):
        while [row["body"] for row in control.results[0]][-1:] != [body]:
            await control.transition()


async def open_slow(port: int, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if data:
        writer.write(data)
    return reader, writer


async def read_all(reader: asyncio.StreamReader, websocket: bool) -> bytes:
    """Everything until the server closes the connection (a WebSocket: until its
    close frame; the client never answers it, and uvicorn lets go of the socket
    10 s later, its closing-handshake timeout, or when the client leaves)."""
    data = b""
    with anyio.fail_after(10):
        while chunk := await reader.read(65536):
            data += chunk
            if websocket and data.startswith(b"HTTP/1.1 101") and parse_frames(data)[1]:
                break
    return data


SLOW = {
    "silent": b"",
    "half a request": b"POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Ty",
    "half an upgrade": upgrade_request()[:60],
    "slow body": b"POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    "no Connect": upgrade_request(),
    "idle keep-alive": b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
}


async def test_slow_connections_are_dropped_and_others_served(server: ServerProcess) -> None:
    per_kind = 100
    async with control_client(server.url) as (control, http):
        await served(control, http, "before")
        fds_before = server.open_fds()
        opening = time.monotonic()
        slow = {
            kind: [await open_slow(server.port, data) for _ in range(per_kind)]
            for kind, data in SLOW.items()
        }
        await served(control, http, "while slow clients wait")  # not starved
        # Within their timeout the server holds every one of them, once it has
        # accepted them from the listen backlog (connecting does not wait for that).
        held = fds_before + len(SLOW) * per_kind - 10
        for _ in range(int(TIMEOUT_S * 0.8 / 0.05)):
            if server.open_fds() >= held or time.monotonic() - opening > TIMEOUT_S * 0.8:
                break
            await asyncio.sleep(0.05)
        assert server.open_fds() >= held, f"opened in {time.monotonic() - opening:.2f} s"
        everything = await asyncio.gather(
            *(
                read_all(reader, kind == "no Connect")
                for kind, pairs in slow.items()
                for reader, _ in pairs
            )
        )
        for _, writer in [pair for pairs in slow.values() for pair in pairs]:
            writer.close()
        answers = {
            kind: everything[i * per_kind : (i + 1) * per_kind] for i, kind in enumerate(slow)
        }
        await served(control, http, "after")
        for _ in range(50):  # the server lets go of every socket
            if server.open_fds() <= fds_before + 5:
                break
            await anyio.sleep(0.1)
        assert server.open_fds() <= fds_before + 5
    assert set(answers["silent"]) == {b""}  # asked nothing: closed without an answer
    for kind in ("half a request", "half an upgrade"):
        for answer in answers[kind]:
            assert answer.startswith(b"HTTP/1.1 408"), answer
            assert b"RequestHeaderTimeout" in answer and b"header_timeout_s" in answer
    for answer in answers["slow body"]:
        assert answer.startswith(b"HTTP/1.1 408") and b"RequestBodyTimeout" in answer, answer
    for answer in answers["idle keep-alive"]:
        assert answer.startswith(b"HTTP/1.1 200"), answer  # answered, then closed when idle
    for answer in answers["no Connect"]:
        assert answer.startswith(b"HTTP/1.1 101"), answer
        texts, close = parse_frames(answer)
        error = orjson.loads(texts[-1])
        assert error["type"] == "FatalError" and error["error"].startswith("ConnectTimeout")
        assert "connect_timeout_s" in error["error"]
        assert close == (1002, error["error"])
    assert server.alive()


COUNT = 3_000
PAD = "p" * 8_000  # 24 MB each way: more than the sockets' buffers hold


async def non_reader(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client that sends ``COUNT`` echo actions and reads nothing, once the
    server has stopped taking them (its writes back up)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(upgrade_request())
    await reader.readuntil(b"\r\n\r\n")
    writer.write(frame(orjson.dumps(connect_msg())))
    action = {"type": "Action", "udfPath": "messages:echo", "args": [{"pad": PAD}]}
    writer.writelines(frame(orjson.dumps({**action, "requestId": i})) for i in range(COUNT))
    with pytest.raises(TimeoutError):  # the server stopped reading
        async with asyncio.timeout(2):
            await writer.drain()
    return reader, writer


async def test_a_client_that_never_reads_is_throttled_not_buffered(server: ServerProcess) -> None:
    """Requests answered faster than the client reads: the server stops reading
    past a small queue of answers (TCP pushes back), instead of queueing answers
    without bound (600,000 requests once grew it by 100 MB)."""
    async with control_client(server.url) as (control, http):
        before = server.rss_bytes()
        reader, writer = await non_reader(server.port)
        await served(control, http, "while one client does not read")
        assert server.rss_bytes() - before < 10 * 1024 * 1024
        # Once the client reads, every request is answered.
        answered = 0
        with anyio.fail_after(30):
            while answered < COUNT:
                head = await reader.readexactly(2)
                n = head[1] & 0x7F
                if n == 126:
                    n = int.from_bytes(await reader.readexactly(2), "big")
                message = orjson.loads(await reader.readexactly(n))
                if message["type"] == "ActionResponse":
                    assert message["result"] == {"pad": PAD}
                    answered += 1
            await writer.drain()
        writer.transport.abort()

        # One that leaves while throttled is let go of (it once stayed forever).
        _, writer = await non_reader(server.port)
        writer.transport.abort()
        for _ in range(50):
            if (await http.get("/health")).json()["load"]["connections"] == 1:
                break
            await anyio.sleep(0.1)
        assert (await http.get("/health")).json()["load"]["connections"] == 1  # the control
