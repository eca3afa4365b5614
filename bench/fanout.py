"""Mutation-to-update latency with 1, 100 and 1,000 WebSocket subscribers to one query.

Run: .venv/bin/python bench/fanout.py [--counts 1,100,1000] [--rate 20] [--seconds 10]

Three processes on 127.0.0.1 (plus this one, the writer):

* the server: ``reactor serve`` on a fresh SQLite file with the default
  durability (``synchronous=FULL``: every commit is fsynced), serving
  bench/apps/fanout;
* the load process (bench/_load.py): N clients, each sending ``Connect`` and
  ``ModifyQuerySet`` Add ``bench:latest`` as raw protocol frames;
* the writer, here: one WebSocket client calling the mutation ``bench:tick`` at
  a fixed rate, open loop. Each call carries its send time
  (``time.monotonic()``), written into the one document the query returns, so
  every subscriber's update carries it and the load process computes
  latency = receive time - send time on the same clock.

Placement (``--pin``, the default on a machine with 2 CPUs or more): each
server runs on the first CPU, the load process on the others. Left to the OS,
the load process is often put on the server's core, and every frame sent wakes
it there; both servers then measure the machine's scheduler more than
themselves (see BENCHMARKS.md for figures both ways). Real subscribers are on
other machines. The writer is not pinned.

Baseline, in the same run, by the same load process: a raw ``websockets``
server (bench/_raw_ws.py) that broadcasts every message the writer sends it,
padded to the size of reactor's Transition frame, to the same number of
connections at the same rate. Reactor's latency includes a durable commit
(an fsync) that the baseline does not do; the writer's mutation round trip
(``commit rtt``) is shown so that part can be told apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _spy
from bench._load import quantile
from bench._procs import (
    Load,
    Server,
    cpu_seconds,
    machine_busy_seconds,
    raise_fd_limit,
    raw_server,
    reactor_origin,
    reactor_server,
    split_cpus,
)

APP = Path(__file__).resolve().parent / "apps" / "fanout"
TARGET_RATIO_P99_AT_1000 = 2.0
TARGET_P50_MS_AT_100 = 5.0
TARGET_P99_MS_AT_100 = 25.0


@dataclass
class Phase:
    """One server at one subscriber count."""

    server: str
    subscribers: int
    connect_s: float
    load: dict[str, Any]
    writer: dict[str, Any]
    server_cpu: float
    load_cpu: float
    other_cpu: float
    writes: int
    cpu_us_per_update: float
    """Server CPU time per (write, subscriber): robust to other processes' load."""


class Writer:
    """Writes at a fixed rate, open loop; ``seq`` counts from 0, the first
    ``warmup`` writes are not measured."""

    def __init__(self, rate: float, seconds: float, warmup: int, run: int) -> None:
        self.rate = rate
        self.warmup = warmup
        self.total = warmup + round(rate * seconds)
        self.run = run
        self.sent_at: dict[int, float] = {}
        self.rtts: list[float] = []
        self.errors: list[str] = []
        self.responses = 0

    async def _schedule(
        self,
        ws: ClientConnection,
        frame: Callable[[int, float], str],
        progress: Progress,
        task: TaskID,
    ) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05
        for seq in range(self.total):
            delay = start + seq / self.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.monotonic()
            self.sent_at[seq] = sent
            await ws.send(frame(seq, sent))
            progress.update(task, completed=seq + 1)

    async def reactor(self, url: str, progress: Progress, task: TaskID) -> dict[str, Any]:
        async with connect(url, proxy=None, max_size=None) as ws:
            await ws.send(
                orjson.dumps(
                    {
                        "type": "Connect",
                        "sessionId": str(uuid.uuid4()),
                        "connectionCount": 0,
                        "lastCloseReason": "InitialConnect",
                        "clientTs": 0,
                    }
                ).decode()
            )
            done = asyncio.Event()

            async def read() -> None:
                async for raw in ws:
                    message = orjson.loads(raw)
                    if message["type"] != "MutationResponse":
                        continue
                    seq = message["requestId"]
                    if seq >= self.warmup:
                        self.rtts.append(time.monotonic() - self.sent_at[seq])
                    if not message["success"]:
                        self.errors.append(str(message["result"]))
                    self.responses += 1
                    if self.responses == self.total:
                        done.set()

            def frame(seq: int, sent: float) -> str:
                args = {"sent": sent, "seq": float(seq), "run": float(self.run)}
                return orjson.dumps(
                    {"type": "Mutation", "requestId": seq, "udfPath": "bench:tick", "args": [args]}
                ).decode()

            reader = asyncio.create_task(read())
            await self._schedule(ws, frame, progress, task)
            # Bounded: a server that fell far behind is reported, not waited for.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=30)
            reader.cancel()
            if self.responses < self.total:
                self.errors.append(
                    f"{self.total - self.responses} of {self.total} mutations unanswered 30 s "
                    "after the last was sent"
                )
            await asyncio.sleep(1.0)  # let the last updates reach every subscriber
        ms = sorted(x * 1000 for x in self.rtts)
        return {"rtt_p50_ms": quantile(ms, 0.5), "rtt_p99_ms": quantile(ms, 0.99)}

    async def raw(self, url: str, size: int, progress: Progress, task: TaskID) -> dict[str, Any]:
        publish = url.split("/api/", 1)[0] + "/publish"

        def frame(seq: int, sent: float) -> str:
            return transition_like(sent, seq, self.run, size)

        async with connect(publish, proxy=None, max_size=None) as ws:
            await self._schedule(ws, frame, progress, task)
            await asyncio.sleep(1.0)
        return {"rtt_p50_ms": float("nan"), "rtt_p99_ms": float("nan")}


def transition_like(sent: float, seq: int, run: int, size: int) -> str:
    """A frame shaped as reactor's Transition for this update, padded to ``size`` bytes."""
    value = {
        "_creationTime": 1.7e12,
        "_id": "k" * 32,
        "pad": "",
        "run": float(run),
        "sent": sent,
        "seq": float(seq),
    }
    message = {
        "type": "Transition",
        "startVersion": {"querySet": 1, "identity": 0, "ts": "MviyfgFy6xg="},
        "endVersion": {"querySet": 1, "identity": 0, "ts": "MviyfgFy6xg="},
        "modifications": [
            {"type": "QueryUpdated", "queryId": 0, "value": value, "logLines": [], "journal": None}
        ],
        "serverTs": time.time_ns(),
    }
    short = len(orjson.dumps(message))
    value["pad"] = "x" * max(0, size - short)
    return orjson.dumps(message).decode()


def run_phase(
    server: Server,
    subscribers: int,
    run: int,
    options: argparse.Namespace,
    console: Console,
    frame_size: int,
    profile: Path | None = None,
) -> Phase:
    writer = Writer(options.rate, options.seconds, options.warmup, run)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        connecting = progress.add_task(
            f"{server.name}: connecting {subscribers} subscribers", total=subscribers
        )
        with Load(
            server.ws_url,
            subscribers,
            "--run",
            str(run),
            "--from-seq",
            str(options.warmup),
            "--batch",
            str(options.batch),
            cpus=options.load_cpus,
        ) as load:
            ready: dict[str, Any] = {}
            for event in load.events():
                progress.update(connecting, completed=event["connected"])
                ready = event
            if ready["connected"] != subscribers:
                raise RuntimeError(f"{server.name}: only {ready['connected']} connected: {ready}")
            writing = progress.add_task(
                f"{server.name}: {subscribers} subscribers, writing at {options.rate:g}/s",
                total=writer.total,
            )
            spy = (
                _spy.start(profile / f"fanout-{subscribers}.txt", server.pid)
                if profile is not None
                else None
            )
            server_cpu, load_cpu = cpu_seconds(server.pid), cpu_seconds(load.pid)
            busy, own = machine_busy_seconds(), cpu_seconds(os.getpid())
            began = time.monotonic()
            try:
                if server.name == "reactor":
                    stats = asyncio.run(writer.reactor(server.ws_url, progress, writing))
                else:
                    stats = asyncio.run(writer.raw(server.ws_url, frame_size, progress, writing))
            finally:
                if spy is not None:
                    _spy.stop(spy)
            elapsed = time.monotonic() - began
            server_cpu_s = cpu_seconds(server.pid) - server_cpu
            server_cpu = server_cpu_s / elapsed
            load_cpu = (cpu_seconds(load.pid) - load_cpu) / elapsed
            own = (cpu_seconds(os.getpid()) - own) / elapsed
            other_cpu = (machine_busy_seconds() - busy) / elapsed - server_cpu - load_cpu - own
            report = load.report()
    stats["errors"] = writer.errors
    return Phase(
        server.name,
        subscribers,
        ready["seconds"],
        report,
        stats,
        server_cpu,
        load_cpu,
        max(0.0, other_cpu),
        writer.total - writer.warmup,
        server_cpu_s / (writer.total * subscribers) * 1e6,
    )


def fmt(value: float, digits: int = 2) -> str:
    return "—" if value != value else f"{value:.{digits}f}"


def ratio(a: float, b: float) -> str:
    return "—" if not b or a != a or b != b else f"{a / b:.2f}x"


def report(console: Console, pairs: list[tuple[Phase, Phase]], options: argparse.Namespace) -> None:
    table = Table(
        title=f"Fan-out: mutation → update latency in ms, {options.rate:g} writes/s for "
        f"{options.seconds:g} s: reactor vs raw websockets "
        + ("broadcast" if options.raw_mode == "broadcast" else "(one sender task per connection)")
    )
    for column in ("subscribers", "reactor p50", "raw p50", "ratio", "reactor p99", "raw p99"):
        table.add_column(column, justify="right")
    table.add_column("ratio", justify="right")
    details = Table(title="Fan-out details (reactor / raw)")
    for column in (
        "subscribers",
        "last-sub p50",
        "last-sub p99",
        "commit rtt p50 / p99",
        "delivered",
        "frame bytes",
        "server cpu µs/update",
        "server cpu",
        "load cpu",
        "others' cpu",
    ):
        details.add_column(column, justify="right")
    for r, b in pairs:
        rl, bl = r.load, b.load
        table.add_row(
            f"{r.subscribers:,}",
            fmt(rl["p50_ms"]),
            fmt(bl["p50_ms"]),
            ratio(rl["p50_ms"], bl["p50_ms"]),
            fmt(rl["p99_ms"]),
            fmt(bl["p99_ms"]),
            ratio(rl["p99_ms"], bl["p99_ms"]),
        )
        details.add_row(
            f"{r.subscribers:,}",
            f"{fmt(rl['last_p50_ms'])} / {fmt(bl['last_p50_ms'])}",
            f"{fmt(rl['last_p99_ms'])} / {fmt(bl['last_p99_ms'])}",
            f"{fmt(r.writer['rtt_p50_ms'])} / {fmt(r.writer['rtt_p99_ms'])}",
            f"{rl['samples'] / (r.subscribers * r.writes):.0%} / "
            f"{bl['samples'] / (b.subscribers * b.writes):.0%}",
            f"{rl['frame_bytes']:.0f} / {bl['frame_bytes']:.0f}",
            f"{r.cpu_us_per_update:.1f} / {b.cpu_us_per_update:.1f}",
            f"{r.server_cpu:.0%} / {b.server_cpu:.0%}",
            f"{r.load_cpu:.0%} / {b.load_cpu:.0%}",
            f"{r.other_cpu:.0%} / {b.other_cpu:.0%}",
        )
    console.print(table)
    console.print(details)
    console.print(
        "p50/p99: over every (subscriber, write) sample. last-sub: per write, the latency "
        "of the last subscriber to get it. commit rtt: reactor's writer, Mutation → "
        "MutationResponse (includes the fsync). delivered: samples / (subscribers x writes), "
        "below 100% when updates collapsed. server cpu µs/update: the server's CPU time "
        "while writing / (writes x subscribers), the figure least moved by other load. "
        "cpu: share of one core used by the server and the load process while writing; "
        "others': used by processes outside this benchmark "
        f"(the machine has {os.cpu_count()} cores; figures are only clean when this is ~0%).",
        style="dim",
    )
    for r, _ in pairs:
        if r.writer["errors"]:
            console.print(f"[red]reactor mutation errors: {r.writer['errors'][:3]}[/red]")

    targets = Table(title="Targets")
    for column in ("target", "measured", "met"):
        targets.add_column(column)
    by_count = {r.subscribers: (r, b) for r, b in pairs}

    def verdict(ok: bool) -> str:
        return "[green]yes[/green]" if ok else "[red]no[/red]"

    if 1000 in by_count:
        r, b = by_count[1000]
        value = r.load["p99_ms"] / b.load["p99_ms"]
        targets.add_row(
            "p99 within 2x of raw broadcast at 1,000",
            f"{fmt(r.load['p99_ms'])} vs {fmt(b.load['p99_ms'])} ms = {value:.2f}x",
            verdict(value <= TARGET_RATIO_P99_AT_1000),
        )
    if 100 in by_count:
        r, _ = by_count[100]
        targets.add_row(
            "p50 <= 5 ms at 100",
            f"{fmt(r.load['p50_ms'])} ms",
            verdict(r.load["p50_ms"] <= TARGET_P50_MS_AT_100),
        )
        targets.add_row(
            "p99 <= 25 ms at 100",
            f"{fmt(r.load['p99_ms'])} ms",
            verdict(r.load["p99_ms"] <= TARGET_P99_MS_AT_100),
        )
    if targets.row_count:
        console.print(targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,100,1000", help="subscriber counts, comma-separated")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep each server on the first CPU and the load process on the others, so "
        "that the subscribers' process is never scheduled on the server's core (with "
        "--no-pin, the OS often puts them together and each frame sent wakes the load "
        "process onto the server's core: both servers' latency doubles or more)",
    )
    parser.add_argument("--rate", type=float, default=20.0, help="writes per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured writes first")
    parser.add_argument("--batch", type=int, default=250, help="connections opened at once")
    parser.add_argument(
        "--raw-mode",
        choices=("broadcast", "tasks"),
        default="broadcast",
        help="the baseline's fan-out: websockets.broadcast (default), or one sender task "
        "per connection awaiting send (reactor's shape, to price that design alone)",
    )
    parser.add_argument(
        "--durability",
        choices=("full", "normal", "off"),
        default="full",
        help="the SQLite store's durability (full: synchronous=FULL, an fsync per commit)",
    )
    parser.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="the event loop of both servers (reactor serve --loop; auto: uvloop if installed)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="sample the reactor server with py-spy while writing (files in this folder) "
        "and print where its time went",
    )
    options = parser.parse_args()
    placement = split_cpus() if options.pin else None
    options.server_cpus, options.load_cpus = placement or (None, None)
    counts = [int(c) for c in options.counts.split(",")]
    # Wide enough for the tables when piped to a file (a terminal keeps its own width).
    console = Console() if sys.stdout.isatty() else Console(width=150)
    fd_limit = raise_fd_limit()
    if max(counts) + 64 > fd_limit:
        console.print(f"[red]RLIMIT_NOFILE is {fd_limit}: too low for {max(counts)}[/red]")
        raise SystemExit(1)
    pairs: list[tuple[Phase, Phase]] = []
    with tempfile.TemporaryDirectory(prefix="reactor-fanout-") as tmp:
        data = Path(tmp)
        with (
            reactor_server(
                APP,
                data,
                durability=options.durability,
                loop=options.loop,
                cpus=options.server_cpus,
            ) as reactor,
            raw_server(
                data, mode=options.raw_mode, loop=options.loop, cpus=options.server_cpus
            ) as raw,
        ):
            console.print(
                f"reactor: [dim]{' '.join(reactor.command[1:])}[/dim] (code: {reactor_origin()})"
            )
            console.print(f"raw:     [dim]{' '.join(raw.command[1:])}[/dim]")
            console.print(describe_placement(placement))
            for run, count in enumerate(counts, start=1):
                mine = run_phase(reactor, count, run, options, console, 0, options.profile)
                size = round(mine.load["frame_bytes"]) or 300
                theirs = run_phase(raw, count, run, options, console, size)
                console.print(
                    f"{count:>5} subscribers: reactor p50 {fmt(mine.load['p50_ms'])} "
                    f"p99 {fmt(mine.load['p99_ms'])} ms; raw p50 {fmt(theirs.load['p50_ms'])} "
                    f"p99 {fmt(theirs.load['p99_ms'])} ms"
                )
                pairs.append((mine, theirs))
    report(console, pairs, options)
    if options.profile is not None:
        report_profile(console, pairs, options.profile)


def describe_placement(placement: tuple[frozenset[int], frozenset[int]] | None) -> str:
    if placement is None:
        return "CPUs: wherever the OS puts each process (--no-pin, or a single CPU)"
    server, load = (",".join(map(str, sorted(cpus))) for cpus in placement)
    return (
        f"CPUs: each server on {server}, the load process on {load} (--pin: subscribers "
        "are not on the server's core, as remote clients are not)"
    )


def report_profile(console: Console, pairs: list[tuple[Phase, Phase]], folder: Path) -> None:
    """Per category: share of the server's busy main-thread samples, and that share of
    its CPU time per (write, subscriber)."""
    table = Table(
        title="Where reactor's server time went while writing (py-spy; share of busy "
        "samples · µs of CPU per write x subscriber)"
    )
    table.add_column("category")
    breakdowns = []
    for r, _ in pairs:
        table.add_column(f"{r.subscribers:,} subs", justify="right")
        breakdowns.append((r, _spy.breakdown(folder / f"fanout-{r.subscribers}.txt")))
    names = [name for name, _ in _spy.CATEGORIES] + [_spy.OTHER]
    for name in names:
        cells = []
        for r, b in breakdowns:
            share = b.shares.get(name, 0.0)
            cells.append(f"{share:.0%} · {share * r.cpu_us_per_update:.1f}")
        table.add_row(name, *cells)
    console.print(table)
    console.print(f"raw samples (py-spy --format raw) in {folder}", style="dim")


if __name__ == "__main__":
    main()
