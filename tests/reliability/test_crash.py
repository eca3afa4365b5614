"""Crash test: SIGKILL ``reactor serve`` under load, restart it, check the data.

One ``reactor serve`` process on a SQLite file (``durability=full``:
``synchronous=FULL``) takes a continuous load of ``crash:write`` mutations,
each inserting two rows (``crash_a`` and ``crash_b``) that carry one unique,
client-chosen token:

* the official npm client (``crash_client.mjs``, ``ConvexClient`` over
  WebSocket; it re-sends unconfirmed mutations after a reconnect, with the
  same sessionId and requestId);
* reactor's ``AsyncReactorClient`` (WebSocket; the same re-send rule);
* plain HTTP ``POST /api/mutation`` (no session: a request cut by the kill is
  in doubt, and is not retried).

Meanwhile the server is killed with SIGKILL at random moments and restarted on
the same port and file. Afterwards, with the load stopped and drained:

* every acknowledged mutation's token is there exactly once in each table;
* no token is in one table and not the other (nothing half-applied);
* no token is there twice (re-sent mutations did not run twice);
* no token is there that no client sent.

Eight kill/restart cycles in CI; ``REACTOR_LONG=1`` (or ``--long``) runs 200;
``REACTOR_CRASH_CYCLES=N`` runs N. ``REACTOR_CRASH_SEED`` varies the timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from npm_harness import CACHE, install_harness
from reactor_process import free_port

from reactor.client import AsyncReactorClient, ConvexError, FunctionError, ReactorClientError

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "tests" / "apps" / "listappend"
SCRIPT = Path(__file__).with_name("crash_client.mjs")

CI_CYCLES = 8
LONG_CYCLES = 200
DRAIN_S = 45.0


# -- the official client, installed as the conformance test installs it ------------------


def install_npm_client() -> Path:
    """npm ``convex`` from ../shared/conformance's lock file, in the conformance
    cache dir (shared with tests/conformance); returns a dir to run the script in."""
    harness = install_harness()
    # Our own dir, its node_modules the harness's: Node resolves `convex` through it.
    target = CACHE / "crash-client"
    target.mkdir(parents=True, exist_ok=True)
    modules = target / "node_modules"
    if not modules.is_symlink():
        shutil.rmtree(modules, ignore_errors=True)
        modules.symlink_to(harness / "node_modules", target_is_directory=True)
    shutil.copy(SCRIPT, target / SCRIPT.name)
    return target


@pytest.fixture(scope="module")
def npm_client() -> Path:
    return install_npm_client()


# -- the server under test -------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child: SIGKILL when the test process dies, so no server outlives it."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class CrashServer:
    """``reactor serve`` on one SQLite file and one port, killed and restarted."""

    def __init__(self, app: Path, data: Path) -> None:
        self.app = app
        self.db = data / "data.db"
        self.log_path = data / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 30.0) -> float:
        """Start and wait until /health answers; returns the seconds it took."""
        assert self.process is None
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "reactor",
                    "serve",
                    "--app",
                    str(self.app),
                    "--port",
                    str(self.port),
                    "--db",
                    f"sqlite:///{self.db}?durability=full",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        self.starts += 1
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"reactor serve exited with {self.process.returncode}: "
                    + self.log_path.read_text(errors="replace")[-3000:]
                )
            with contextlib.suppress(httpx2.TransportError):
                if httpx2.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"reactor serve did not become healthy in {timeout:g} s")
            time.sleep(0.02)

    def kill(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.send_signal(signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def crash_server(data: Path) -> Iterator[CrashServer]:
    server = CrashServer(APP, data)
    try:
        yield server
    finally:
        server.stop()


# -- the load ----------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the clients know: per token, acknowledged, failed, or in doubt."""

    sent: set[str] = field(default_factory=set)
    acked: dict[str, str] = field(default_factory=dict)  # token -> which client
    failed: dict[str, str] = field(default_factory=dict)  # token -> error
    in_doubt: set[str] = field(default_factory=set)
    inflight: set[str] = field(default_factory=set)  # WebSocket mutations unconfirmed
    resends: Counter[str] = field(default_factory=Counter)
    """Mutations in flight when the connection dropped, by client: re-sent later."""


class NodeClient:
    """One ``node crash_client.mjs`` process; its output goes into the ledger."""

    def __init__(self, directory: Path, url: str, writer: str, concurrency: int) -> None:
        self.args = ["node", str(directory / SCRIPT.name), url, writer, str(concurrency)]
        self.directory = directory
        self.writer = writer
        self.process: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task[None] | None = None
        self.done = asyncio.Event()
        self.lines: list[str] = []

    async def start(self, ledger: Ledger) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.args,
            cwd=self.directory,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "DRAIN_MS": str(int(DRAIN_S * 1000))},
        )
        self.reader = asyncio.create_task(self._read(ledger))

    async def _read(self, ledger: Ledger) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            kind, _, rest = line.partition(" ")
            token, _, message = rest.partition(" ")
            if kind == "ack":
                ledger.sent.add(token)
                ledger.acked[token] = f"npm:{self.writer}"
            elif kind == "err":
                ledger.sent.add(token)
                ledger.failed[token] = message
            elif kind == "pending":
                ledger.sent.add(token)
                ledger.in_doubt.add(token)
            elif kind == "drop":
                ledger.resends["npm"] += int(token)
            elif kind == "done":
                # Tokens are numbered 0..SENT-1: any not reported were never sent.
                for n in range(int(token)):
                    ledger.sent.add(f"{self.writer}-{n}")
                self.done.set()

    async def stop(self) -> None:
        assert self.process is not None and self.process.stdin is not None
        with contextlib.suppress(ConnectionError):
            self.process.stdin.write(b"stop\n")
            await self.process.stdin.drain()

    async def wait(self, within: float) -> None:
        assert self.process is not None
        try:
            async with asyncio.timeout(within):
                await self.done.wait()
                await self.process.wait()
        finally:
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
            if self.reader is not None:
                await self.reader
        if not self.done.is_set():
            tail = "\n".join(self.lines[-20:])
            raise AssertionError(f"node crash client {self.writer} did not finish:\n{tail}")


async def ws_writer(url: str, name: str, lanes: int, ledger: Ledger, stop: asyncio.Event) -> None:
    """reactor's client: ``lanes`` mutations in flight; re-sends are its own business."""
    counter = 0
    async with AsyncReactorClient(url, initial_backoff=0.05, max_backoff=0.5) as client:

        async def lane() -> None:
            nonlocal counter
            while not stop.is_set():
                token = f"{name}-{counter}"
                counter += 1
                ledger.sent.add(token)
                ledger.inflight.add(token)
                try:
                    async with asyncio.timeout(DRAIN_S):
                        await client.mutation("crash:write", {"token": token, "writer": name})
                except (ConvexError, FunctionError) as exc:
                    ledger.failed[token] = str(exc)
                except (ReactorClientError, TimeoutError):
                    ledger.in_doubt.add(token)
                else:
                    ledger.acked[token] = f"py:{name}"
                finally:
                    ledger.inflight.discard(token)

        await asyncio.gather(*(lane() for _ in range(lanes)))


async def http_writer(url: str, name: str, ledger: Ledger, stop: asyncio.Event) -> None:
    """Plain HTTP: a request the kill cuts is in doubt; the next one gets a new token."""
    counter = 0
    async with httpx2.AsyncClient(timeout=10) as http:
        while not stop.is_set():
            token = f"{name}-{counter}"
            counter += 1
            ledger.sent.add(token)
            try:
                response = await http.post(
                    f"{url}/api/mutation",
                    json={
                        "path": "crash:write",
                        "args": {"token": token, "writer": name},
                        "format": "json",
                    },
                )
                body = response.json()
            except (httpx2.TransportError, ValueError):
                ledger.in_doubt.add(token)
                await asyncio.sleep(0.05)  # the server is down: do not spin
                continue
            if response.status_code == 200 and body.get("status") == "success":
                ledger.acked[token] = f"http:{name}"
            elif response.status_code == 200:
                ledger.failed[token] = str(body.get("errorMessage"))
            else:
                ledger.in_doubt.add(token)  # e.g. refused while shutting down or overloaded


async def read_tokens(url: str, table: str) -> Counter[str]:
    tokens: Counter[str] = Counter()
    cursor: str | None = None
    async with httpx2.AsyncClient(timeout=60) as http:
        while True:
            response = await http.post(
                f"{url}/api/query",
                json={
                    "path": "crash:page",
                    "args": {"table": table, "cursor": cursor},
                    "format": "json",
                },
            )
            body = response.json()
            assert body.get("status") == "success", body
            page = body["value"]
            tokens.update(page["tokens"])
            if page["isDone"]:
                return tokens
            cursor = page["continueCursor"]


@dataclass
class CrashRun:
    ledger: Ledger
    a: Counter[str]
    b: Counter[str]
    kills: int
    restart_s: list[float]
    seconds: float


async def crash_run(
    server: CrashServer, npm_dir: Path, cycles: int, rng: random.Random
) -> CrashRun:
    ledger = Ledger()
    stop = asyncio.Event()
    started = time.monotonic()
    server.start()
    nodes = [NodeClient(npm_dir, server.url, f"npm{n}", 4) for n in range(2)]
    for node in nodes:
        await node.start(ledger)
    writers = [
        asyncio.create_task(ws_writer(server.url, f"py{n}", 3, ledger, stop)) for n in range(2)
    ]
    writers.append(asyncio.create_task(http_writer(server.url, "http0", ledger, stop)))
    restart_s: list[float] = []
    try:
        for _ in range(cycles):
            # Let the load get going again (acks from both WebSocket clients) first.
            await _progress(ledger, ("npm", "py"), within=30.0)
            await asyncio.sleep(rng.uniform(0.2, 0.8))
            ledger.resends["py"] += len(ledger.inflight)
            await asyncio.to_thread(server.kill)
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            restart_s.append(await asyncio.to_thread(server.start))
        await _progress(ledger, ("npm", "py"), within=30.0)
    finally:
        stop.set()
        for node in nodes:
            await node.stop()
        results = await asyncio.gather(*writers, return_exceptions=True)
        for node in nodes:
            await node.wait(DRAIN_S + 15)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    a = await read_tokens(server.url, "crash_a")
    b = await read_tokens(server.url, "crash_b")
    return CrashRun(ledger, a, b, cycles, restart_s, time.monotonic() - started)


async def _progress(ledger: Ledger, sources: tuple[str, ...], within: float) -> None:
    """Wait until every source has a new acknowledgement."""

    def counts() -> Counter[str]:
        return Counter(source.split(":")[0] for source in ledger.acked.values())

    before = counts()
    deadline = time.monotonic() + within
    while any(counts()[s] <= before[s] for s in sources):
        if time.monotonic() > deadline:
            raise AssertionError(f"no progress from {sources} in {within:g} s: {counts()}")
        await asyncio.sleep(0.02)


# -- the test ----------------------------------------------------------------------------


def check_crash_run(run: CrashRun) -> list[str]:
    """What is wrong with the data after the run (nothing, one hopes)."""
    problems = []
    ledger = run.ledger
    for token, source in ledger.acked.items():
        if run.a[token] != 1 or run.b[token] != 1:
            problems.append(
                f"acknowledged {token} ({source}) is in crash_a {run.a[token]} times, "
                f"in crash_b {run.b[token]} times (want 1 and 1)"
            )
    for token in set(run.a) | set(run.b):
        if run.a[token] != run.b[token]:
            problems.append(
                f"{token} half-applied: crash_a has it {run.a[token]} times, "
                f"crash_b {run.b[token]} times"
            )
        elif run.a[token] > 1:
            problems.append(f"{token} applied {run.a[token]} times (a re-send ran again)")
        if token not in ledger.sent:
            problems.append(f"{token} is in the tables but no client sent it")
        if token in ledger.failed:
            problems.append(f"{token} was answered as failed ({ledger.failed[token]}) but is there")
    return problems


def test_sigkill_under_load_loses_and_duplicates_nothing(
    npm_client: Path, tmp_path: Path, long_run: bool, report: Callable[[str], None]
) -> None:
    cycles = int(os.environ.get("REACTOR_CRASH_CYCLES", LONG_CYCLES if long_run else CI_CYCLES))
    rng = random.Random(int(os.environ.get("REACTOR_CRASH_SEED", "7")))
    with crash_server(tmp_path) as server:
        run = asyncio.run(crash_run(server, npm_client, cycles, rng))
    ledger = run.ledger
    by_client = Counter(source.split(":")[0] for source in ledger.acked.values())
    present = sum(1 for t in run.a if run.a[t] and run.b[t])
    doubtful_present = sum(1 for t in ledger.in_doubt if run.a[t])
    report(
        f"{run.kills} SIGKILLs in {run.seconds:.1f} s (restart to healthy: median "
        f"{statistics.median(run.restart_s):.2f} s, max {max(run.restart_s):.2f} s); "
        f"{len(ledger.sent)} mutations "
        f"sent, {len(ledger.acked)} acknowledged {dict(by_client)}, {len(ledger.in_doubt)} "
        f"in doubt ({doubtful_present} of them applied), {len(ledger.failed)} failed; "
        f"re-sent after a drop: npm {ledger.resends['npm']}, reactor client "
        f"{ledger.resends['py']}; {present} tokens present, each exactly once in both tables"
    )
    problems = check_crash_run(run)
    assert not problems, "\n".join(problems[:30]) + f"\n({len(problems)} problems)"
    assert not ledger.failed, f"mutations failed: {dict(list(ledger.failed.items())[:10])}"
    # Both WebSocket clients had mutations cut by a kill and re-sent them.
    assert ledger.resends["npm"] > 0 and ledger.resends["py"] > 0
    assert by_client["npm"] > 0 and by_client["py"] > 0 and by_client["http"] > 0


def test_crash_checks_catch_damage() -> None:
    """The checks themselves: a duplicate, a half-applied and a lost token."""
    ledger = Ledger(sent={"x-0", "x-1", "x-2", "x-3"}, acked={"x-0": "npm", "x-1": "py"})
    a = Counter({"x-0": 2, "x-1": 1, "x-2": 1})
    b = Counter({"x-0": 2, "x-1": 0, "x-2": 1, "y-9": 1})
    run = CrashRun(ledger, a, b, 0, [0.0], 0.0)
    problems = "\n".join(check_crash_run(run))
    assert "acknowledged x-0" in problems and "x-0 applied 2 times" in problems
    assert "x-1 half-applied" in problems
    assert "y-9 is in the tables but no client sent it" in problems
    assert "x-2" not in problems  # an unacknowledged mutation may have committed
