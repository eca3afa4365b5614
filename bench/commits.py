"""Commit throughput and latency: reactor mutations next to raw apsw, or raw PyMongo.

32 concurrent callers each run a small mutation (one read, one insert) in a
loop for a fixed time against a fresh SQLite file with ``synchronous=FULL``.
In the same run, the raw baseline does the same row writes with apsw directly,
with the same group-commit batching available to it. The ratio is what
matters: absolute figures swing with the machine's fsync speed.

With ``--db mongodb://...`` (a replica set), reactor runs on the MongoDB store
instead, next to raw PyMongo ``with_transaction`` doing the same writes plus the
same update of one shared document (reactor's sequencer), group-committed too
(bench/_raw_mongo.py), on the same server in the same run, each in a fresh
database. On jongodb, the wire server CI uses, the ratio means nothing (see
``WIRE_SERVER_CAVEAT``): only the absolute figures do, as a smoke test.

    .venv/bin/python bench/commits.py [--seconds 5] [--callers 32] [--db mongodb://...]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._commit_figures import commit_figures
from bench._raw_mongo import drop_database, is_wire_server, raw_mongo_commits
from bench._raw_sqlite import raw_sqlite_commits
from reactor.engine import Engine
from reactor.functions import load_app
from reactor.storage import MongoStore, SqliteStore, Store

APP = Path(__file__).parent / "apps" / "commits"

WIRE_SERVER_CAVEAT = (
    "jongodb (the CI wire server): only the absolute figures mean anything here, as a "
    "smoke test. The ratio does not: on jongodb reactor serializes its transactions "
    "with a lease lock (two more round trips each) and jongodb's cost per operation "
    "grows with the size of the collection, which the two runs grow differently. "
    "Measure the ratio against a real replica set."
)


async def reactor_commits(store: Store, callers: int, seconds: float) -> dict[str, float]:
    engine = Engine(load_app(APP), store)
    await engine.start()
    try:
        counter = (await engine.run_mutation("bench:setup", {})).unwrap()
        latencies: list[float] = []

        async def caller(n: int, deadline: float) -> None:
            i = 0
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                result = await engine.run_mutation(
                    "bench:record", {"counter": counter, "caller": n, "n": i}
                )
                result.unwrap()
                latencies.append(time.perf_counter() - started)
                i += 1

        batches_before = engine.committer.batches
        began = time.perf_counter()
        await asyncio.gather(*(caller(n, began + seconds) for n in range(callers)))
        elapsed = time.perf_counter() - began
        batches = engine.committer.batches - batches_before
    finally:
        await engine.stop()
    return commit_figures(latencies, elapsed, batches, callers)


def print_results(
    console: Console, title: str, rows: list[tuple[str, dict[str, float]]], target: str
) -> None:
    table = Table(title=title)
    for column in ("", "commits", "commits/s", "p50 ms", "p99 ms", "mean batch"):
        table.add_column(column, justify="right")
    for name, row in rows:
        table.add_row(
            name,
            f"{row['commits']:,.0f}",
            f"{row['commits_per_s']:,.0f}",
            f"{row['p50_ms']:.2f}",
            f"{row['p99_ms']:.2f}",
            f"{row['mean_batch']:.1f}",
        )
    console.print(table)
    (raw_name, raw), (_, ours) = rows
    ratio = ours["commits_per_s"] / raw["commits_per_s"]
    console.print(f"reactor / {raw_name} commit rate: [bold]{ratio:.2f}[/bold]{target}")


async def sqlite_run(console: Console, callers: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with console.status("raw apsw baseline..."):
            raw = await raw_sqlite_commits(Path(tmp) / "raw.db", callers, seconds)
        with console.status("reactor mutations..."):
            store = SqliteStore(Path(tmp) / "reactor.db", durability="full")
            ours = await reactor_commits(store, callers, seconds)
    title = f"{callers} callers, {seconds:g} s each, synchronous=FULL"
    print_results(console, title, [("raw apsw", raw), ("reactor", ours)], " (target >= 0.5)")


async def mongo_run(console: Console, url: str, callers: int, seconds: float) -> None:
    wire_server = await is_wire_server(url)
    run = uuid.uuid4().hex[:8]
    raw_db, reactor_db = f"bench_raw_{run}", f"bench_reactor_{run}"
    try:
        with console.status("raw PyMongo baseline..."):
            raw = await raw_mongo_commits(url, raw_db, callers, seconds)
        with console.status("reactor mutations..."):
            ours = await reactor_commits(MongoStore(url, database=reactor_db), callers, seconds)
    finally:
        for name in (raw_db, reactor_db):
            await drop_database(url, name)
    server = "jongodb wire server" if wire_server else "MongoDB"
    title = f"{callers} callers, {seconds:g} s each, {server}, majority writes"
    print_results(console, title, [("raw PyMongo", raw), ("reactor", ours)], "")
    if wire_server:
        console.print(f"[yellow]Caveat: {WIRE_SERVER_CAVEAT}[/yellow]")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument(
        "--db",
        default=None,
        help="a mongodb:// or mongodb+srv:// URL to measure the MongoDB store "
        "(default: temporary SQLite files)",
    )
    options = parser.parse_args()
    console = Console()
    if options.db is None:
        await sqlite_run(console, options.callers, options.seconds)
    elif options.db.startswith(("mongodb://", "mongodb+srv://")):
        await mongo_run(console, options.db, options.callers, options.seconds)
    else:
        parser.error(f"--db takes a mongodb:// URL (SQLite is the default), not {options.db!r}")


if __name__ == "__main__":
    asyncio.run(main())
