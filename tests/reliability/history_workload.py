"""The list-append workload against real ``reactor serve`` processes.

Clients run random list-append transactions (``history:txn`` of the
``tests/apps/listappend`` app) concurrently and record the history that
``elle.check`` then checks:

* ``AsyncReactorClient`` workers, over the WebSocket sync protocol (their
  mutations are exactly-once per (sessionId, requestId));
* HTTP workers, ``POST /api/mutation`` (no session: a lost answer is just
  unknown).

Outcomes: ``ok`` (the answer, with the lists read), ``fail`` (the function
failed, so it rolled back: on purpose for ``abort`` transactions, which must
then never be seen) and ``info`` (no answer: the client gave up; it may or may
not have committed).

Keys rotate as Elle's generator does: a few keys are active at a time, and a
key that got ``max_writes_per_key`` appends is replaced by a new one, so lists
stay short and every key's order is pinned down by many reads. After the load,
a final read of every key (``final_reads``) lets the checker find lost appends.

Chaos (``chaos=True``):

* every WebSocket goes through a ``ChaosProxy`` that cuts each connection after
  a random lifetime (and, with two servers, reconnects to either): the client
  reconnects and re-sends its unconfirmed mutations under the same
  (sessionId, requestId), which the server must run once. Each re-send is a
  chance for a duplicate append, which the checker reports;
* some WebSocket transactions are abandoned: the client is closed a few ms
  after sending (the outcome is ``info``) and the worker starts a new client;
* some HTTP requests time out after a few ms (``info``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2

from reactor.client import AsyncReactorClient, ConvexError, FunctionError, ReactorClientError

from .elle import Anomaly, MicroOp, Txn

ABORT_MESSAGE = "aborted on purpose"


@dataclass
class WorkloadConfig:
    txns: int
    ws_clients: int = 8
    http_clients: int = 4
    active_keys: int = 6
    first_key: int = 0
    """Keys are numbered from here: runs on one database must not share keys."""
    max_writes_per_key: int = 32
    max_ops: int = 4
    read_ratio: float = 0.5
    abort_rate: float = 0.03
    chaos: bool = False
    abandon_rate: float = 0.03
    http_timeout_rate: float = 0.03
    cut_after: tuple[float, float] = (0.05, 0.4)
    """Chaos: seconds a proxied connection lives before it is cut."""
    call_timeout: float = 60.0
    seed: int = 0
    progress: Callable[[str], None] | None = None


@dataclass
class WorkloadRun:
    history: list[Txn] = field(default_factory=list)
    extra: list[Anomaly] = field(default_factory=list)
    """Anomalies seen directly: a key stored in two rows (``split-key``)."""
    stats: dict[str, float] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    """Transactions that failed other than on purpose (or got no answer from the
    function: an HTTP error status), by error message."""
    final_read_error: str | None = None
    """Why the final read failed, if it did (the history then has no final reads)."""
    transports: dict[int, str] = field(default_factory=dict)
    """Each process's transport: ``ws``, ``http`` or ``final``."""


class Generator:
    """Random transactions over rotating keys, unique values per key."""

    def __init__(self, config: WorkloadConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.active = list(range(config.first_key, config.first_key + config.active_keys))
        self.next_key = config.first_key + config.active_keys
        self.appended: dict[int, int] = {}
        self.issued = 0

    def next(self) -> tuple[list[list[Any]], bool] | None:
        if self.issued >= self.config.txns:
            return None
        self.issued += 1
        rng = self.rng
        ops: list[list[Any]] = []
        for _ in range(rng.randint(1, self.config.max_ops)):
            slot = rng.randrange(len(self.active))
            key = self.active[slot]
            if rng.random() < self.config.read_ratio:
                ops.append(["r", key, None])
                continue
            count = self.appended.get(key, 0) + 1
            if count > self.config.max_writes_per_key:
                key = self.active[slot] = self.next_key
                self.next_key += 1
                count = 1
            self.appended[key] = count
            ops.append(["append", key, count])
        return ops, rng.random() < self.config.abort_rate

    def keys(self) -> list[int]:
        return list(range(self.config.first_key, self.next_key))


def wire(ops: list[list[Any]]) -> list[list[Any]]:
    """Keys and values as floats: one Convex number type on both transports."""
    return [[f, float(k), None if v is None else float(v)] for f, k, v in ops]


class Recorder:
    def __init__(self, config: WorkloadConfig) -> None:
        self.config = config
        self.history: list[Txn] = []
        self.extra: list[Anomaly] = []
        self.next_index = 0
        self.next_process = 0
        self.transports: dict[int, str] = {}
        self.started = time.monotonic()

    def invoke(self) -> tuple[int, float]:
        index = self.next_index
        self.next_index += 1
        return index, time.monotonic()

    def process(self, transport: str) -> int:
        self.next_process += 1
        self.transports[self.next_process - 1] = transport
        return self.next_process - 1

    def ok(self, index: int, process: int, invoke: float, done: Any) -> None:
        ops: list[MicroOp] = []
        for f, key, value, rows in done:
            k = int(key)
            if rows > 1:
                self.extra.append(
                    Anomaly("split-key", (index,), f"T{index} found key {k} in {int(rows)} rows")
                )
            if f == "r":
                ops.append(("r", k, tuple(int(x) for x in value)))
            else:
                ops.append(("append", k, int(value)))
        self._add(Txn(index, process, "ok", tuple(ops), invoke, time.monotonic()))

    def other(self, kind: str, index: int, process: int, invoke: float, sent: Any) -> None:
        ops = tuple((f, int(k), None if v is None else int(v)) for f, k, v in sent)
        done = time.monotonic() if kind == "fail" else None
        self._add(Txn(index, process, kind, ops, invoke, done))  # type: ignore[arg-type]

    def _add(self, txn: Txn) -> None:
        self.history.append(txn)
        progress = self.config.progress
        if progress is not None and len(self.history) % 10_000 == 0:
            rate = len(self.history) / (time.monotonic() - self.started)
            progress(f"{len(self.history)} transactions ({rate:.0f}/s)")


class ChaosProxy:
    """A TCP proxy on a free loopback port that cuts every connection after a
    random lifetime; each new connection goes to a random upstream server."""

    def __init__(
        self, upstreams: list[tuple[str, int]], rng: random.Random, lifetime: tuple[float, float]
    ) -> None:
        self.upstreams = upstreams
        self.rng = rng
        self.lifetime = lifetime
        self.cuts = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._handle(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self.rng.choice(self.upstreams)
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.transport.abort()
            return
        pipes = [
            asyncio.create_task(_pipe(reader, up_writer)),
            asyncio.create_task(_pipe(up_reader, writer)),
        ]
        try:
            done, _ = await asyncio.wait(
                pipes, timeout=self.rng.uniform(*self.lifetime), return_when="FIRST_COMPLETED"
            )
            if not done:
                self.cuts += 1
        finally:
            for pipe in pipes:
                pipe.cancel()
            # An abrupt reset, as a network failure would look to both sides.
            writer.transport.abort()
            up_writer.transport.abort()
            await asyncio.gather(*pipes, return_exceptions=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


async def run_workload(urls: list[str], config: WorkloadConfig) -> WorkloadRun:
    """Run ``config.txns`` transactions against the servers at ``urls``, then a
    final read of every key; returns the history."""
    generator = Generator(config)
    recorder = Recorder(config)
    rng = random.Random(config.seed + 1)
    proxies: list[ChaosProxy] = []
    counters = {"abandoned": 0, "http_timeouts": 0, "spanning_cuts": 0, "aborts": 0}
    failures: Counter[str] = Counter()  # other failed transactions, by message

    async def ws_worker(n: int) -> None:
        proxy = None
        url = urls[n % len(urls)]
        if config.chaos:
            proxy = ChaosProxy([_address(u) for u in urls], rng, config.cut_after)
            await proxy.start()
            proxies.append(proxy)
            url = proxy.url

        def new_client() -> AsyncReactorClient:
            return AsyncReactorClient(url, initial_backoff=0.01, max_backoff=0.2)

        client = new_client()
        process = recorder.process("ws")
        call: asyncio.Future[Any] | None = None
        try:
            while (txn := generator.next()) is not None:
                ops, abort = txn
                index, invoke = recorder.invoke()
                cuts = proxy.cuts if proxy is not None else 0
                call = asyncio.ensure_future(
                    client.mutation("history:txn", {"ops": wire(ops), "abort": abort})
                )
                abandon = config.chaos and rng.random() < config.abandon_rate
                try:
                    if abandon:
                        await asyncio.wait([call], timeout=rng.uniform(0.0, 0.02))
                        if not call.done():
                            counters["abandoned"] += 1
                            await client.close()
                    async with asyncio.timeout(config.call_timeout):
                        done = await call
                except ConvexError as exc:
                    if exc.data != ABORT_MESSAGE:
                        raise
                    counters["aborts"] += 1
                    recorder.other("fail", index, process, invoke, ops)
                except FunctionError as exc:
                    failures[str(exc)[:200]] += 1
                    recorder.other("fail", index, process, invoke, ops)  # rolled back
                except (ReactorClientError, TimeoutError):
                    recorder.other("info", index, process, invoke, ops)
                    process = recorder.process("ws")  # Elle: a process with an open op is done
                    await client.close()
                    client = new_client()
                else:
                    recorder.ok(index, process, invoke, done)
                if proxy is not None and proxy.cuts != cuts:
                    counters["spanning_cuts"] += 1
        finally:
            if call is not None and not call.done():
                call.cancel()
            await client.close()

    async def http_worker(n: int) -> None:
        url = urls[n % len(urls)]
        process = recorder.process("http")
        async with httpx2.AsyncClient() as http:
            while (txn := generator.next()) is not None:
                ops, abort = txn
                index, invoke = recorder.invoke()
                timeout = config.call_timeout
                if config.chaos and rng.random() < config.http_timeout_rate:
                    timeout = rng.uniform(0.001, 0.02)
                try:
                    response = await http.post(
                        f"{url}/api/mutation",
                        json={
                            "path": "history:txn",
                            "args": {"ops": wire(ops), "abort": abort},
                            "format": "json",
                        },
                        timeout=timeout,
                    )
                except httpx2.TransportError:
                    counters["http_timeouts"] += 1
                    recorder.other("info", index, process, invoke, ops)
                    process = recorder.process("http")
                    continue
                if response.status_code != 200:
                    # Not an answer from the function (e.g. refused under overload):
                    # unknown, to be safe, and shown in the figures.
                    failures[f"HTTP {response.status_code}: {response.text[:150]}"] += 1
                    recorder.other("info", index, process, invoke, ops)
                    process = recorder.process("http")
                    continue
                body = response.json()
                if body["status"] == "success":
                    recorder.ok(index, process, invoke, body["value"])
                else:
                    if body.get("errorData") == ABORT_MESSAGE:
                        counters["aborts"] += 1
                    else:  # rolled back all the same; worth seeing in the figures
                        failures[str(body.get("errorMessage"))[:200]] += 1
                    recorder.other("fail", index, process, invoke, ops)

    started = time.monotonic()
    try:
        async with asyncio.TaskGroup() as group:
            for n in range(config.ws_clients):
                group.create_task(ws_worker(n))
            for n in range(config.http_clients):
                group.create_task(http_worker(n))
    finally:
        for proxy in proxies:
            await proxy.close()
    elapsed = time.monotonic() - started
    # Abandoned calls may still be running in a server: let them settle.
    await asyncio.sleep(1.0 if config.chaos else 0.1)
    final_error = await final_reads(urls[0], generator.keys(), recorder)

    run = WorkloadRun(
        sorted(recorder.history, key=lambda t: t.index),
        recorder.extra,
        failures=failures,
        final_read_error=final_error,
        transports=recorder.transports,
    )
    run.stats = {
        "seconds": round(elapsed, 1),
        "txns_per_s": round(config.txns / elapsed, 1),
        **counters,
        "connections_cut": sum(p.cuts for p in proxies),
        "connections": sum(p.connections for p in proxies),
    }
    return run


async def final_reads(url: str, keys: list[int], recorder: Recorder, batch: int = 32) -> str | None:
    """Read every key (``batch`` per transaction) after the load: the final state.
    Returns the error if a read failed."""
    process = recorder.process("final")
    async with httpx2.AsyncClient(timeout=60) as http:
        for start in range(0, len(keys), batch):
            ops = [["r", k, None] for k in keys[start : start + batch]]
            index, invoke = recorder.invoke()
            response = await http.post(
                f"{url}/api/mutation",
                json={"path": "history:txn", "args": {"ops": wire(ops)}, "format": "json"},
            )
            body = response.json()
            if body.get("status") != "success":
                return f"the final read failed: {body}"
            recorder.ok(index, process, invoke, body["value"])
    return None
