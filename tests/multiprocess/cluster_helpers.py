"""Several ``reactor serve`` processes on one MongoDB database, for the multi-process tests.

``Cluster`` starts processes of the test app (``tests/multiprocess/app``) on
one database URL and always reaps them, whatever the test did to them
(SIGSTOP, SIGKILL). ``Watcher`` follows a subscription and keeps every value
it got. The ledger helpers check what the app's ``ledger`` functions wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
from reactor_process import free_port

from reactor.client import AsyncReactorClient, AsyncSubscription
from reactor.storage import MongoStore

APP = Path(__file__).parent / "app"
ADMIN_KEY = "multiprocess-test-admin-key"


@dataclass(frozen=True)
class Database:
    """A fresh database on one lane's server (``jongodb`` or a real ``uri``)."""

    uri: str
    name: str
    lane: str

    @property
    def url(self) -> str:
        """The store URL ``reactor serve --db`` takes: the server's URL naming the database."""
        return urlunsplit(urlsplit(self.uri)._replace(path=f"/{self.name}"))

    @property
    def real(self) -> bool:
        return self.lane == "uri"

    def store(self) -> MongoStore:
        """A store on the database, for the test's own reads and pruning (open it)."""
        return MongoStore(self.uri, database=self.name, poll_interval=0.01)


class ReactorProcess:
    """One ``reactor serve`` subprocess; its output goes to ``log_path``."""

    def __init__(self, db_url: str, log_path: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log: IO[bytes] | None = log_path.open("wb")
        command = [sys.executable, "-m", "reactor", "serve", "--app", str(APP)]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port), "--db", db_url],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.paused = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self) -> dict[str, Any]:
        response = httpx2.get(f"{self.url}/health", timeout=5, trust_env=False)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive:
                raise RuntimeError(
                    f"reactor serve exited with {self.process.returncode}:\n"
                    + self.log_text()[-3000:]
                )
            with contextlib.suppress(httpx2.TransportError, httpx2.HTTPStatusError):
                self.health()
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"reactor serve did not become healthy in {timeout:g} s")
            time.sleep(0.05)

    def pause(self) -> None:
        """SIGSTOP: the whole process stops, its commit feed included."""
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def kill(self) -> None:
        """SIGKILL, at whatever point it is, and reap it."""
        self.process.kill()
        self.process.wait()
        self._close_log()

    def stop(self) -> None:
        """Stop it gracefully if it can be, else kill it; always reap it."""
        if self.alive:
            if self.paused:
                self.resume()
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class Cluster:
    """The processes a test started on its database; ``close()`` reaps every one."""

    def __init__(self, database: Database, directory: Path) -> None:
        self.database = database
        self.directory = directory
        self.processes: list[ReactorProcess] = []
        # Wide lines, so that a log message is never wrapped across lines.
        self.env = {**os.environ, "REACTOR_ADMIN_KEY": ADMIN_KEY, "COLUMNS": "500"}

    def start(self, count: int = 1) -> list[ReactorProcess]:
        """Start ``count`` processes at once; return them once all answer /health."""
        started = [
            ReactorProcess(
                self.database.url,
                self.directory / f"reactor-{len(self.processes) + i}.log",
                self.env,
            )
            for i in range(count)
        ]
        self.processes += started
        for process in started:
            process.wait_healthy()
        return started

    def close(self) -> None:
        for process in self.processes:
            process.stop()


class Watcher:
    """Follows one subscription in the background and keeps every value it got."""

    def __init__(self, client: AsyncReactorClient, path: str, args: dict[str, Any]) -> None:
        self.values: list[Any] = []
        self._changed = asyncio.Condition()
        self._subscription: AsyncSubscription = client.subscribe(path, args)
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        async for value in self._subscription:
            async with self._changed:
                self.values.append(value)
                self._changed.notify_all()

    @property
    def latest(self) -> Any:
        return self.values[-1] if self.values else None

    async def wait_for(self, predicate: Callable[[Any], bool], within: float) -> Any:
        """The first value (maybe one already seen last) that satisfies ``predicate``."""
        async with asyncio.timeout(within), self._changed:
            while not (self.values and predicate(self.values[-1])):
                if self._task.done():
                    self._task.result()  # the subscription failed: raise why
                    raise AssertionError("the subscription ended")
                await self._changed.wait()
            return self.values[-1]

    async def close(self) -> None:
        self._subscription.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def clients(urls: Iterable[str]) -> Any:
    """One ``AsyncReactorClient`` per URL, all closed on the way out."""
    opened = [AsyncReactorClient(url, initial_backoff=0.05, max_backoff=0.5) for url in urls]
    try:
        yield opened
    finally:
        for client in opened:
            await client.close()


# -- the ledger app's data ----------------------------------------------------------

Op = tuple[str, int, float, int, float, float]
"""An applied transfer: (token, pair, amount, version, left after, right after)."""


def as_ops(rows: list[list[Any]]) -> list[Op]:
    return [(str(t), int(p), float(a), int(v), float(lf), float(rt)) for t, p, a, v, lf, rt in rows]


def check_state_invariant(state: dict[str, Any]) -> None:
    """In any consistent snapshot, the two rows of a pair sum to zero at the same version."""
    sides: dict[int, dict[str, tuple[float, float]]] = {}
    for pair, side, balance, version in state["accounts"]:
        sides.setdefault(int(pair), {})[side] = (float(balance), float(version))
    for pair, rows in sides.items():
        (left, left_version), (right, right_version) = rows["L"], rows["R"]
        assert left + right == 0, f"pair {pair} is half-applied in {state}"
        assert left_version == right_version, f"pair {pair} is half-applied in {state}"


def check_ledger(ops: list[Op], state: dict[str, Any], pairs: int) -> dict[int, int]:
    """Every commit was applied whole, exactly once, in one serial order per pair.

    Each pair's op records carry versions 1..n with no gap or repeat (a lost
    update or a duplicate repeats one), each moves the balances by exactly its
    amount from the one before (a half-applied commit breaks the chain) and
    keeps them summing to zero, and the rows end where the last op left them.
    Returns the number of ops per pair.
    """
    tokens = Counter(op[0] for op in ops)
    repeated = [token for token, n in tokens.items() if n > 1]
    assert not repeated, f"transfers applied more than once: {repeated}"
    check_state_invariant(state)
    final = {
        (int(pair), side): (float(balance), int(version))
        for pair, side, balance, version in state["accounts"]
    }
    counts: dict[int, int] = {}
    for pair in range(pairs):
        chain = sorted((op for op in ops if op[1] == pair), key=lambda op: op[3])
        assert [op[3] for op in chain] == list(range(1, len(chain) + 1)), (
            f"pair {pair}: versions {[op[3] for op in chain]} are not 1..{len(chain)}"
        )
        left = 0.0
        for token, _, amount, version, after_left, after_right in chain:
            left -= amount
            assert (after_left, after_right) == (left, -left), (
                f"pair {pair}: op {token} (version {version}) does not follow the one before"
            )
        assert final[pair, "L"] == (left, len(chain)), f"pair {pair}: row L is not at its last op"
        assert final[pair, "R"] == (-left, len(chain)), f"pair {pair}: row R is not at its last op"
        counts[pair] = len(chain)
    assert sum(counts.values()) == len(ops) == state["ops"]
    return counts
