"""The load process of the fan-out and connection benchmarks: many WebSocket clients.

Run by ``bench/fanout.py`` and ``bench/connections.py`` as a subprocess, never
by hand. Each client speaks raw sync-protocol frames: on open it sends
``Connect`` and one ``ModifyQuerySet`` adding one query, and counts itself
subscribed at its first ``Transition``. The reactor server and the raw
baseline are measured by exactly this code.

Clients are plain ``asyncio.Protocol`` objects around websockets' sans-I/O
``ClientProtocol`` (no task, no queue per connection), so the load process
stays cheap next to the servers it measures and a received frame is
timestamped in ``data_received``, before anything else is done with it.

It talks to its parent in JSON lines: it prints ``progress`` while opening,
then ``ready``; it then reads commands from stdin (``report``: print the
latencies measured so far and exit; ``quit``: exit).

A fan-out sample is one received ``QueryUpdated`` value carrying the writer's
``sent`` time (``time.monotonic()``, one clock for every process on the
machine): latency = receive time - ``sent``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import resource
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import orjson
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri


@dataclass
class Samples:
    """What the clients measured, shared by all of them."""

    run: int
    from_seq: int
    latencies: list[float] = field(default_factory=list)
    by_seq: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    frame_bytes: list[int] = field(default_factory=list)
    frames: int = 0
    pings: int = 0

    def record(self, value: Any, size: int, received: float) -> None:
        if not isinstance(value, dict) or "sent" not in value:
            return
        if int(value["run"]) != self.run or int(value["seq"]) < self.from_seq:
            return
        latency = received - float(value["sent"])
        self.latencies.append(latency)
        self.by_seq[int(value["seq"])].append(latency)
        self.frame_bytes.append(size)


class Client(asyncio.Protocol):
    """One WebSocket client subscribed to one query."""

    def __init__(self, url: str, query: str, args: dict[str, Any], samples: Samples) -> None:
        self.ws = ClientProtocol(parse_uri(url), max_size=None)
        self.query = query
        self.args = args
        self.samples = samples
        self.transport: asyncio.Transport | None = None
        self.subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.fragments: list[bytes] = []

    # -- asyncio.Protocol --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.ws.send_request(self.ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        received = time.monotonic()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                if event.status_code != 101 or self.ws.handshake_exc is not None:
                    self._fail(f"handshake refused: HTTP {event.status_code}")
                    return
                self._open()
            elif isinstance(event, Frame):
                self._frame(event, received)
        self._flush()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc or 'closed by the server'}")

    # -- protocol ----------------------------------------------------------------

    def _open(self) -> None:
        connect = {
            "type": "Connect",
            "sessionId": str(uuid.uuid4()),
            "connectionCount": 0,
            "lastCloseReason": "InitialConnect",
            "clientTs": 0,
        }
        add = {
            "type": "ModifyQuerySet",
            "baseVersion": 0,
            "newVersion": 1,
            "modifications": [
                {"type": "Add", "queryId": 0, "udfPath": self.query, "args": [self.args]}
            ],
        }
        self.ws.send_text(orjson.dumps(connect))
        self.ws.send_text(orjson.dumps(add))

    def _frame(self, frame: Frame, received: float) -> None:
        if frame.opcode is Opcode.TEXT or frame.opcode is Opcode.CONT:
            self.fragments.append(bytes(frame.data))
            if not frame.fin:
                return
            data = b"".join(self.fragments) if len(self.fragments) > 1 else self.fragments[0]
            self.fragments = []
            self._message(data, received)

    def _message(self, data: bytes, received: float) -> None:
        message = orjson.loads(data)
        kind = message.get("type")
        if kind == "Transition":
            self.samples.frames += 1
            for modification in message["modifications"]:
                if modification["type"] == "QueryUpdated":
                    self.samples.record(modification["value"], len(data), received)
                elif modification["type"] == "QueryFailed":
                    self._fail(f"query failed: {modification['errorMessage']}")
            if not self.subscribed.done():
                self.subscribed.set_result(None)
        elif kind == "Ping":
            self.samples.pings += 1
        elif kind in ("FatalError", "AuthError"):
            self._fail(f"{kind}: {message.get('error')}")

    def _flush(self) -> None:
        chunks = self.ws.data_to_send()
        if self.transport is not None and chunks:
            self.transport.writelines([chunk for chunk in chunks if chunk])

    def _fail(self, reason: str) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(reason))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(orjson.dumps({"event": event, **fields}).decode() + "\n")
    sys.stdout.flush()


def quantile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(samples: Samples) -> dict[str, Any]:
    """Latency quantiles in ms over every received sample, and over each write's
    slowest receiver (the time until the last subscriber has it)."""
    ms = [x * 1000 for x in samples.latencies]
    last = [max(v) * 1000 for v in samples.by_seq.values()]
    return {
        "samples": len(ms),
        "writes_seen": len(samples.by_seq),
        "p50_ms": quantile(ms, 0.5),
        "p90_ms": quantile(ms, 0.9),
        "p99_ms": quantile(ms, 0.99),
        "max_ms": max(ms) if ms else math.nan,
        "last_p50_ms": quantile(last, 0.5),
        "last_p99_ms": quantile(last, 0.99),
        "frame_bytes": (sum(samples.frame_bytes) / len(samples.frame_bytes))
        if samples.frame_bytes
        else 0,
        "frames": samples.frames,
        "pings": samples.pings,
    }


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def open_clients(
    options: argparse.Namespace, samples: Samples
) -> tuple[list[Client], str | None]:
    """Open ``count`` clients in batches; stop at the first batch with a failure."""
    loop = asyncio.get_running_loop()
    parts = urlsplit(options.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    clients: list[Client] = []
    started = time.monotonic()
    failure: str | None = None

    async def one(n: int) -> Client:
        args = {"slot": float(n % options.slots)} if options.slots else {}
        client = Client(options.url, options.query, args, samples)
        await loop.create_connection(lambda: client, host, port)
        await asyncio.wait_for(client.subscribed, timeout=options.timeout)
        return client

    while len(clients) < options.count and failure is None:
        batch = min(options.batch, options.count - len(clients))
        results = await asyncio.gather(
            *(one(len(clients) + i) for i in range(batch)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, Client):
                clients.append(result)
            elif failure is None:
                failure = f"{type(result).__name__}: {result}"
        emit("progress", connected=len(clients), seconds=time.monotonic() - started)
    return clients, failure


async def main() -> None:
    parser = argparse.ArgumentParser(description="load process (run by bench/*.py)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--query", default="bench:latest")
    parser.add_argument("--slots", type=int, default=0, help="args {slot: n %% slots}, 0: {}")
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--run", type=int, default=0)
    parser.add_argument("--from-seq", type=int, default=0)
    options = parser.parse_args()
    fd_limit = raise_fd_limit()
    samples = Samples(run=options.run, from_seq=options.from_seq)
    started = time.monotonic()
    clients, failure = await open_clients(options, samples)
    emit(
        "ready",
        connected=len(clients),
        seconds=time.monotonic() - started,
        failure=failure,
        fd_limit=fd_limit,
    )
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            command = line.strip()
            if command == "report":
                emit("report", **summary(samples))
            elif command in ("quit", ""):
                break
    finally:
        for client in clients:
            client.close()
        with contextlib.suppress(Exception):
            await asyncio.sleep(0.1)


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        asyncio.run(main())
    else:
        uvloop.run(main())
