"""Resident memory per idle WebSocket connection: 10,000 subscribers over 100 queries.

Run: .venv/bin/python bench/connections.py [--count 10000] [--queries 100]

The server is ``reactor serve`` (bench/apps/fanout, SQLite with the default
``synchronous=FULL``) in a subprocess. A separate load process
(bench/_load.py) opens the connections in batches; each sends ``Connect`` and
a ``ModifyQuerySet`` adding ``bench:slot`` with ``{slot: n % queries}`` (so
100 distinct live queries), and counts once its first Transition arrives.
The server's VmRSS (/proc/<pid>/status) is read before, along the way and
after (once settled); the difference divided by the connections held is the
memory per idle connection.

Before the measured connections, one connection per query is opened and closed
(code paths, caches and the allocator warmed; the live queries are dropped
again with their last subscriber), so "before" is a warm idle server.

Baseline, in the same run, by the same load process: a raw ``websockets``
server (bench/_raw_ws.py) holding the same number of idle connections (it
answers each ModifyQuerySet with one canned Transition).

RLIMIT_NOFILE is raised to its hard limit here; the servers and the load
process inherit it. If not every connection opens (fd limits, ephemeral
ports), the largest number that did is measured and the reason is printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._procs import (
    Load,
    Server,
    fd_count,
    raise_fd_limit,
    raw_server,
    reactor_origin,
    reactor_server,
    rss_kib,
)

APP = Path(__file__).resolve().parent / "apps" / "fanout"
TARGET_KIB = 100.0
EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")


@dataclass
class Measurement:
    server: str
    wanted: int
    connected: int
    failure: str | None
    open_s: float
    before_kib: int
    after_kib: int
    curve: list[tuple[int, int]]
    load_kib: int
    server_fds: int

    @property
    def per_connection_kib(self) -> float:
        return (self.after_kib - self.before_kib) / self.connected if self.connected else 0.0


def settle(pid: int, seconds: float = 2.0) -> int:
    """The server's RSS once it has stopped moving much (it is sampled for ``seconds``)."""
    deadline = time.monotonic() + seconds
    rss = rss_kib(pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        rss = rss_kib(pid)
    return rss


def measure(server: Server, count: int, queries: int, batch: int, console: Console) -> Measurement:
    load_args = ("--query", "bench:slot", "--slots", str(queries), "--batch", str(batch))
    with Load(server.ws_url, queries, *load_args) as warm:
        for event in warm.events():
            if event["event"] == "ready" and event["connected"] != queries:
                raise RuntimeError(f"{server.name}: warm-up failed: {event}")
    before = settle(server.pid)
    curve: list[tuple[int, int]] = [(0, before)]
    with (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[rss]}"),
            console=console,
            transient=True,
        ) as progress,
        Load(server.ws_url, count, *load_args) as load,
    ):
        task = progress.add_task(f"{server.name}: opening", total=count, rss="")
        ready: dict[str, object] = {}
        for event in load.events():
            rss = rss_kib(server.pid)
            curve.append((int(event["connected"]), rss))
            progress.update(
                task, completed=event["connected"], rss=f"server RSS {rss / 1024:.0f} MiB"
            )
            ready = event
        after = settle(server.pid)
        fds = fd_count(server.pid)
        load_kib = rss_kib(load.pid)
    connected = int(str(ready["connected"]))
    failure = ready.get("failure")
    return Measurement(
        server.name,
        count,
        connected,
        str(failure) if failure else None,
        float(str(ready["seconds"])),
        before,
        after,
        curve,
        load_kib,
        fds,
    )


def report(console: Console, mine: Measurement, theirs: Measurement) -> None:
    table = Table(title="Resident memory per idle WebSocket connection (server VmRSS)")
    for column in ("server", "connections", "open s", "RSS before", "RSS after", "per conn"):
        table.add_column(column, justify="right")
    table.add_column("ratio", justify="right")
    for m in (mine, theirs):
        table.add_row(
            m.server,
            f"{m.connected:,}",
            f"{m.open_s:.1f}",
            f"{m.before_kib / 1024:.1f} MiB",
            f"{m.after_kib / 1024:.1f} MiB",
            f"{m.per_connection_kib:.1f} KiB",
            f"{m.per_connection_kib / theirs.per_connection_kib:.2f}x"
            if theirs.per_connection_kib
            else "—",
        )
    console.print(table)
    console.print(
        f"server fds held: reactor {mine.server_fds:,}, raw {theirs.server_fds:,}; "
        f"load process RSS: {mine.load_kib / 1024:.0f} / {theirs.load_kib / 1024:.0f} MiB",
        style="dim",
    )
    curve = Table(title="reactor RSS while opening (growth is linear if the steps agree)")
    curve.add_column("connections", justify="right")
    curve.add_column("RSS MiB", justify="right")
    curve.add_column("KiB per conn since previous", justify="right")
    points = list(dict(mine.curve).items())  # one point per count, the last read
    step = max(1, len(points) // 8)
    shown = points[::step] + ([points[-1]] if (len(points) - 1) % step else [])
    previous: tuple[int, int] | None = None
    for n, rss in shown:
        delta = (
            f"{(rss - previous[1]) / (n - previous[0]):.1f}"
            if previous is not None and n > previous[0]
            else ""
        )
        curve.add_row(f"{n:,}", f"{rss / 1024:.1f}", delta)
        previous = (n, rss)
    console.print(curve)
    for m in (mine, theirs):
        if m.connected < m.wanted:
            console.print(
                f"[yellow]{m.server}: {m.connected:,} of {m.wanted:,} connections opened: "
                f"{m.failure}[/yellow]"
            )
    targets = Table(title="Target")
    for column in ("target", "measured", "met"):
        targets.add_column(column)
    ok = mine.per_connection_kib <= TARGET_KIB and mine.connected == mine.wanted
    targets.add_row(
        f"<= {TARGET_KIB:.0f} KiB per idle connection at {mine.wanted:,}",
        f"{mine.per_connection_kib:.1f} KiB at {mine.connected:,}",
        "[green]yes[/green]" if ok else "[red]no[/red]",
    )
    console.print(targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--batch", type=int, default=500, help="connections opened at once")
    parser.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="the event loop of both servers (reactor serve --loop; auto: uvloop if installed)",
    )
    options = parser.parse_args()
    # Wide enough for the tables when piped to a file (a terminal keeps its own width).
    console = Console() if sys.stdout.isatty() else Console(width=150)
    fd_limit = raise_fd_limit()
    low, high = (int(x) for x in EPHEMERAL_PORTS.read_text().split())
    console.print(
        f"RLIMIT_NOFILE {fd_limit:,} (each process needs one fd per connection); "
        f"ephemeral ports {low}-{high} ({high - low + 1:,} per destination)",
        style="dim",
    )
    if fd_limit < options.count + 100:
        console.print(
            f"[yellow]RLIMIT_NOFILE {fd_limit:,} < {options.count:,} + 100 and the hard limit "
            "cannot be raised without privileges: the servers will refuse connections near "
            "the limit (EMFILE); the largest number that opens is measured[/yellow]"
        )
    if high - low + 1 < options.count:
        console.print(
            f"[yellow]only {high - low + 1:,} ephemeral ports for one destination: "
            "connections beyond that fail with EADDRNOTAVAIL[/yellow]"
        )
    with tempfile.TemporaryDirectory(prefix="reactor-connections-") as tmp:
        data = Path(tmp)
        # Its default max_connections (5,000) would refuse the rest with 1013.
        with reactor_server(
            APP, data, loop=options.loop, max_connections=options.count + 1_000
        ) as reactor:
            console.print(
                f"reactor: [dim]{' '.join(reactor.command[1:])}[/dim] (code: {reactor_origin()})"
            )
            mine = measure(reactor, options.count, options.queries, options.batch, console)
        console.print(
            f"reactor: {mine.connected:,} connections, "
            f"{mine.per_connection_kib:.1f} KiB per connection"
        )
        with raw_server(data, loop=options.loop) as raw:
            console.print(f"raw:     [dim]{' '.join(raw.command[1:])}[/dim]")
            theirs = measure(raw, options.count, options.queries, options.batch, console)
        console.print(
            f"raw:     {theirs.connected:,} connections, "
            f"{theirs.per_connection_kib:.1f} KiB per connection"
        )
    report(console, mine, theirs)


if __name__ == "__main__":
    main()
