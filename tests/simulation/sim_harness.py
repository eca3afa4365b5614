"""The deterministic simulation: real server code, simulated clients and network.

What runs for real, on one virtual-time asyncio loop (``sim_loop``): the
engine and its committer on a SQLite file, ``LiveQueries`` with its
``SubscriptionIndex``, and for every connection the server's own WebSocket
handler (``serve_sync_socket``) with its ``SyncSession``, fed through a
simulated socket. What is simulated: the clients (``sim_client``), the
network (``sim_network``: random delays, reorders across connections, drops),
fsync latency (a random pause before each batch is written) and the think
time of mutations (``pause`` arguments).

Everything random comes from streams derived from one seed, and the loop's
clock is virtual, so a seed replays exactly: ``Simulation.trace_hash`` is
the same on every run of a seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
import subprocess
import tempfile
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TextIO, cast

from sim_client import ClientConn, SimClient
from sim_loop import run_virtual
from sim_model import Model, identity_of
from sim_network import Delays, Link, SimSocket

from reactor.engine import Engine, RetryPolicy, SubscriptionIndex
from reactor.functions import App, load_app
from reactor.server._config import ServerConfig
from reactor.server._direct_send import Delivery
from reactor.server._overload import Admission
from reactor.server._runs import FunctionRunner
from reactor.server._websocket import serve_sync_socket
from reactor.storage import Commit, SqliteStore
from reactor.sync import LiveQueries, Ping, SessionLimits, encode_server_message

__all__ = ["SimConfig", "SimResult", "Simulation", "SimulationFailed", "run_seed"]

APP_DIR = Path(__file__).parent / "simapp"
EPOCH_NS = 1_750_000_000_000_000_000
"""Virtual time 0, as wall-clock nanoseconds (commit timestamps, ``_creationTime``)."""
_PING = encode_server_message(Ping())
QUIESCE_TIMEOUT = 300.0
"""Virtual seconds the system gets to settle once the clients stop."""

_app: App | None = None


def sim_app() -> App:
    global _app
    if _app is None:  # loaded once per process: every seed shares the code
        _app = load_app(APP_DIR)
    return _app


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything a run depends on, drawn from its seed."""

    seed: int
    clients: int
    ops: int
    """Operations per client."""
    op_gap: float
    """Mean virtual seconds between a client's operations."""
    drop_rate: float
    """Connection drops per virtual second, over all clients."""
    delays: Delays
    stall_p: float
    """Chance a server send waits (a full socket buffer)."""
    fsync: float
    """Longest virtual fsync pause before a batch is written."""
    pause_p: float
    """Chance a mutation or action pauses mid-run (conflict windows)."""
    max_batch: int
    concurrency: int
    """Live-query re-runs at once."""
    history: int
    """Commits the live queries' notice log keeps beyond what they need."""
    span_limit: int
    """Segments a range may cover in the subscription index before it goes to the treap."""
    ping_interval: float

    @classmethod
    def from_seed(cls, seed: int, *, scale: float = 1.0) -> SimConfig:
        rng = random.Random(f"{seed}:config")
        return cls(
            seed=seed,
            clients=rng.randint(2, 6),
            ops=max(1, int(rng.randint(8, 30) * scale)),
            op_gap=rng.choice((0.01, 0.05, 0.2)),
            drop_rate=rng.choice((0.0, 0.5, 2.0, 6.0)),
            delays=Delays(
                low=0.0005,
                high=rng.choice((0.005, 0.03, 0.1)),
                slow_p=rng.choice((0.0, 0.05, 0.2)),
                slow=rng.choice((0.3, 1.5)),
            ),
            stall_p=rng.choice((0.0, 0.1, 0.4)),
            fsync=rng.choice((0.0, 0.002, 0.03)),
            pause_p=rng.choice((0.0, 0.2, 0.5)),
            max_batch=rng.choice((1, 4, 256)),
            concurrency=rng.choice((1, 4, 64)),
            history=rng.choice((0, 2, 1024)),
            span_limit=rng.choice((1, 3, 32)),
            ping_interval=rng.choice((0.2, 15.0)),
        )


@dataclass(frozen=True, slots=True)
class SimResult:
    seed: int
    trace_hash: str
    events: int
    commits: int
    virtual_s: float
    wall_s: float
    cpu_s: float
    stats: dict[str, int]


class SimulationFailed(AssertionError):
    pass


class _SimStore(SqliteStore):
    """SQLite on the event loop, with a random fsync latency, reporting every commit."""

    def __init__(self, path: Path, sim: Simulation) -> None:
        super().__init__(path, durability="off", writer_thread=False)
        self._sim = sim
        self._rng = random.Random(f"{sim.config.seed}:store")

    async def write(self, commits: Sequence[Commit]) -> None:
        if self._sim.config.fsync:
            await asyncio.sleep(self._rng.uniform(0.0, self._sim.config.fsync))
        await super().write(commits)
        for commit in commits:
            self._sim.committed(commit)


class _Server:
    """What ``serve_sync_socket`` needs of a ``ReactorServer``."""

    def __init__(
        self, engine: Engine, live: LiveQueries, delivery: Delivery, ping_interval: float
    ) -> None:
        self.engine = engine
        self.live = live
        self.delivery = delivery
        self.config = ServerConfig(session=SessionLimits(ping_interval_s=ping_interval))
        self.admission = Admission(
            max_connections=self.config.max_connections,
            max_concurrent_functions=self.config.max_concurrent_functions,
        )
        self.runner = FunctionRunner(engine, self.admission)
        self.frames = {"direct": 0, "by_sender": 0}

    async def authenticator(self, token_type: str, token: str | None) -> dict[str, Any] | None:
        if token_type == "None":
            return None
        assert token_type == "User" and token is not None and token.startswith("user:")
        return identity_of(token.removeprefix("user:"))


class _ErrorLog(logging.Handler):
    """reactor logs an error only for a bug: each one fails the run."""

    def __init__(self, sim: Simulation) -> None:
        super().__init__(logging.ERROR)
        self._sim = sim

    def emit(self, record: logging.LogRecord) -> None:
        self._sim.record_failure(f"reactor logged an error: {self.format(record)}")


class Simulation:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.model = Model()
        self.clients: list[SimClient] = []
        self.connections: list[tuple[SimClient, ClientConn, asyncio.Task[None]]] = []
        self._hash = hashlib.blake2b(digest_size=16)
        self._events = 0
        self._recent: deque[str] = deque(maxlen=60)
        self._failure: str | None = None
        self._failed: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._chaos_rng = random.Random(f"{config.seed}:chaos")
        self.commits = 0
        self._clock_reads = 0
        self.server: _Server | None = None
        self.trace_file: TextIO | None = None
        """Where every event goes as well (``REACTOR_SIM_TRACE=<file>``)."""
        self.stats: Counter[str] = Counter()
        """What happened (drops, re-sends, conflicts, ...): to see what a seed exercised."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    def _clock_ns(self) -> int:
        """The engine's wall clock: virtual time, plus 1 µs per reading. Virtual time
        stands still while code runs; a real clock never returns the same instant
        to a transaction that began after another one committed."""
        self._clock_reads += 1
        return EPOCH_NS + int(self.loop.time() * 1e9) + self._clock_reads * 1_000

    # -- the trace -------------------------------------------------------------------

    def trace(self, *event: Any) -> None:
        line = f"{self.loop.time():.6f} " + " ".join(map(str, event))
        self._hash.update(line.encode())
        self._events += 1
        self._recent.append(line)
        if self.trace_file is not None:
            print(line, file=self.trace_file)

    # -- failures --------------------------------------------------------------------

    def record_failure(self, message: str) -> None:
        if self._failure is None:
            self._failure = message
            if self._failed is not None and not self._failed.done():
                self._failed.set_exception(SimulationFailed(message))

    def guard(self, fn: Callable[..., None]) -> Callable[..., None]:
        """``fn`` as a loop callback: an exception in it fails the run (instead of
        going to the loop's exception handler and being lost)."""

        def guarded(*args: Any) -> None:
            if self._failure is not None:
                return
            try:
                fn(*args)
            except Exception as exc:
                self.record_failure(f"{type(exc).__name__}: {exc}")

        return guarded

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.record_failure(f"unhandled in the event loop: {context.get('message')} {context}")

    async def _until(self, awaitable: Awaitable[Any], what: str, limit: float) -> None:
        """Await ``awaitable``; fail at once on a recorded failure, or after ``limit``
        virtual seconds."""
        assert self._failed is not None
        task = asyncio.ensure_future(awaitable)
        done, _ = await asyncio.wait(
            {task, self._failed}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
        )
        if self._failed in done:
            task.cancel()
            self._failed.result()
        if task not in done:
            task.cancel()
            raise SimulationFailed(f"{what} took over {limit} virtual s:\n{self._state()}")
        task.result()

    # -- connections -----------------------------------------------------------------

    def open_connection(self, client: SimClient) -> ClientConn:
        number = len(self.connections)
        seed = self.config.seed
        holder: list[ClientConn] = []
        down = Link(
            self.loop,
            random.Random(f"{seed}:down:{number}"),
            self.config.delays,
            self.guard(lambda item: client.receive(holder[0], item)),
        )
        socket = SimSocket(down, stall_p=self.config.stall_p, stall=0.3)
        up = Link(
            self.loop,
            random.Random(f"{seed}:up:{number}"),
            self.config.delays,
            self.guard(socket.arrive),
        )
        conn = ClientConn(number, up, down, socket)
        holder.append(conn)
        task = self.loop.create_task(serve_sync_socket(cast(Any, socket), cast(Any, self.server)))
        self.connections.append((client, conn, task))
        return conn

    def _cut(self, conn: ClientConn, server_notice: float) -> None:
        conn.up.sever()
        conn.down.sever()
        # The server learns of it later (or, for a clean close, soon).
        self.loop.call_later(server_notice, conn.socket.disconnect)

    def close_connection(self, client: SimClient, conn: ClientConn) -> None:
        """The client closes its socket (it is leaving)."""
        self.trace(client.name, "close", conn.number)
        conn.open = False
        client.conn = None
        self._cut(conn, self.config.delays.draw(conn.up.rng))

    async def _chaos(self) -> None:
        """Drop connections at random: whatever was in flight is lost."""
        rng = self._chaos_rng
        while self.config.drop_rate:
            await asyncio.sleep(rng.expovariate(self.config.drop_rate))
            connected = [c for c in self.clients if c.conn is not None]
            if not connected:
                continue
            client = rng.choice(connected)
            conn = client.conn
            assert conn is not None
            self.trace(client.name, "drop", conn.number)
            self.stats["drops"] += 1
            self._cut(conn, rng.uniform(0.0, 2.0))
            # Sometimes the next send fails at once; else sends vanish until the
            # server reads the close.
            conn.socket.broken = rng.random() < 0.5
            client.dropped("closed with code 1006")

    # -- commits -----------------------------------------------------------------------

    def committed(self, commit: Commit) -> None:
        self.commits += 1
        self.trace("commit", commit.ts, [(d.table, d.id, d.value) for d in commit.documents])
        try:
            self.model.apply(commit)
        except AssertionError as exc:
            self.record_failure(f"{type(exc).__name__}: {exc}")
            raise

    # -- the run -----------------------------------------------------------------------

    async def _client_ops(self, client: SimClient) -> None:
        await asyncio.sleep(client.rng.uniform(0.0, 0.05))
        client.connect()
        for _ in range(self.config.ops):
            await asyncio.sleep(client.rng.expovariate(1 / self.config.op_gap))
            self.guard(client.random_op)()

    async def run(self, directory: Path) -> None:
        loop = self._loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_exception)
        self._failed = loop.create_future()
        self._failed.add_done_callback(lambda f: f.exception())  # retrieved even if unused
        store = _SimStore(directory / "sim.db", self)
        engine = Engine(
            sim_app(),
            store,
            run_scheduler=False,
            retry=RetryPolicy(initial_backoff_s=0.002, max_backoff_s=0.05),
            clock_ns=self._clock_ns,
            rng=random.Random(f"{self.config.seed}:engine"),
        )
        await engine.start()
        # Test-only knobs, set on private attributes before anything uses them: small
        # batches, and small span limits that send ranges to the index's treap tier.
        engine.committer._max_batch = self.config.max_batch
        delivery = Delivery()
        live = LiveQueries(
            engine,
            deliver=delivery.deliver,
            concurrency=self.config.concurrency,
            history=self.config.history,
        )
        live._registry.index = SubscriptionIndex(span_limit=self.config.span_limit)
        self.server = _Server(engine, live, delivery, self.config.ping_interval)
        chaos: asyncio.Task[None] | None = None
        try:
            await live.start()
            self.clients = [SimClient(self, i) for i in range(self.config.clients)]
            chaos = loop.create_task(self._chaos())
            activity = asyncio.gather(*(self._client_ops(c) for c in self.clients))
            await self._until(activity, "the clients' operations", 3600.0)
            chaos.cancel()
            self.trace("quiesce")
            for client in self.clients:
                if client.conn is None and not client.reconnecting:
                    client.connect()
            await self._until(self._quiescent(engine, live), "quiescence", QUIESCE_TIMEOUT)
            self._check_final()
            self.trace("leave")
            for client in self.clients:
                client.leave()
            tasks = [task for _, _, task in self.connections]
            await self._until(asyncio.gather(*tasks), "closing every connection", 60.0)
            await self._until(live.settle(), "settling live queries", 60.0)
            self._check_leaks(engine, live)
            self.stats.update(
                stalls=sum(conn.socket.stalls for _, conn, _ in self.connections),
                direct_sends=sum(conn.socket.direct_sends for _, conn, _ in self.connections),
                occ_retries=engine.metrics["occ_retries"],
                exclusive_runs=engine.metrics["exclusive_runs"],
                batches=engine.committer.batches,
                refreshes=live.refreshes,
                query_runs=live.runs,
            )
        finally:
            if chaos is not None:
                chaos.cancel()
            for _, _, task in self.connections:
                task.cancel()
            await asyncio.gather(*(task for _, _, task in self.connections), return_exceptions=True)
            await live.stop()
            await engine.stop()
        if self._failure is not None:
            raise SimulationFailed(self._failure)

    async def _quiescent(self, engine: Engine, live: LiveQueries) -> None:
        """Wait until nothing is in flight and every client is up to date."""
        calm = 0
        while calm < 3:
            await asyncio.sleep(0.05)
            quiet = (
                all(c.settled() for c in self.clients)
                and live.processed_ts == engine.committer.last_ts
                and not any(
                    len(conn.up) or conn.down.carrying(_not_ping) or conn.socket.stalled
                    for _, conn, _ in self.connections
                )
            )
            calm = calm + 1 if quiet else 0

    def _check_final(self) -> None:
        """Every client holds the latest results; every request applied as promised."""
        model = self.model
        latest = model.latest_ts
        for client in self.clients:
            conn = client.conn
            assert conn is not None
            client.check_results(conn, replace(conn.version, ts=latest), "quiescence")
        increments: dict[str, list[int]] = {}
        tags: set[str] = set()
        for client in self.clients:
            for req in client.requests.values():
                tag = req.args.get("tag")
                if req.kind == "mutation":
                    recorded = (client.session_id, req.rid) in model.records
                    if recorded == (req.path == "messages:fail"):
                        raise SimulationFailed(
                            f"{client.name} mutation {req.rid} {req.path}: recorded={recorded}"
                        )
                    if req.path == "counters:increment":
                        increments.setdefault(req.args["name"], [0, 0])[0] += 1
                elif req.path == "actions:increment":
                    counts = increments.setdefault(req.args["name"], [0, 0])
                    counts[0 if req.succeeded else 1] += 1
                if tag is not None:
                    tags.add(tag)
                    applied = tag in model.tags
                    if req.path == "messages:fail" and applied:
                        raise SimulationFailed(f"the failed mutation {tag} applied")
                    sends = ("messages:send", "actions:send")
                    if req.path in sends and req.succeeded and not applied:
                        raise SimulationFailed(f"{tag} was acknowledged, never applied")
        unknown = set(model.tags) - tags
        if unknown:
            raise SimulationFailed(f"messages no request made: {sorted(unknown)}")
        for name, (sure, maybe) in sorted(increments.items()):
            count = model.increments.get(name, 0)
            if not sure <= count <= sure + maybe:
                raise SimulationFailed(
                    f"counter {name} was incremented {count} times; the clients were "
                    f"promised {sure} (and {maybe} lost actions may have run)"
                )

    def _check_leaks(self, engine: Engine, live: LiveQueries) -> None:
        stats = live.stats()
        leaks = {k: v for k, v in stats.items() if k != "log" and v}
        pins = dict(engine.committer._snapshots)
        if leaks or pins:
            raise SimulationFailed(f"after every client left: live {leaks}, pinned {pins}")

    def _state(self) -> str:
        return "\n".join(c.describe() for c in self.clients)

    # -- reporting ---------------------------------------------------------------------

    @property
    def trace_hash(self) -> str:
        return self._hash.hexdigest()

    def report(self, error: BaseException) -> str:
        recent = "\n  ".join(self._recent)
        config = asdict(self.config)
        return (
            f"simulation seed {self.config.seed} failed at virtual t="
            f"{self._loop.time() if self._loop else 0:.6f}: {error}\n"
            f"replay: REACTOR_SIM_SEED={self.config.seed} pytest tests/simulation -k replay "
            "(add REACTOR_SIM_TRACE=<file> for every event)\n"
            f"code: {_git_describe()}\n"
            f"config: {config}\n"
            f"last events:\n  {recent}"
        )


def _not_ping(item: tuple[Any, ...]) -> bool:
    return bool(item[0] != "frame" or item[1] != _PING)


def _git_describe() -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return out.stdout.strip()


@contextlib.contextmanager
def _error_log(sim: Simulation) -> Iterator[None]:
    handler = _ErrorLog(sim)
    logger = logging.getLogger("reactor")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def run_seed(seed: int, *, scale: float = 1.0) -> SimResult:
    """Run one seed; raise ``SimulationFailed`` with a replayable report on failure."""
    config = SimConfig.from_seed(seed, scale=scale)
    sim = Simulation(config)
    started, cpu = time.perf_counter(), time.process_time()
    trace_path = os.environ.get("REACTOR_SIM_TRACE")
    with contextlib.ExitStack() as stack:
        directory = stack.enter_context(tempfile.TemporaryDirectory(prefix=f"reactor-sim-{seed}-"))
        stack.enter_context(_error_log(sim))
        if trace_path:
            sim.trace_file = stack.enter_context(open(trace_path, "w", encoding="utf-8"))
        try:
            run_virtual(sim.run(Path(directory)))
        except Exception as exc:
            raise SimulationFailed(sim.report(exc)) from exc
    return SimResult(
        seed,
        sim.trace_hash,
        sim._events,
        sim.commits,
        sim.loop.time(),
        time.perf_counter() - started,
        time.process_time() - cpu,
        dict(sim.stats),
    )


def seeds_from_env(default: Sequence[int]) -> list[int]:
    raw = os.environ.get("REACTOR_SIM_SEED")
    return [int(s) for s in raw.split(",")] if raw else list(default)
