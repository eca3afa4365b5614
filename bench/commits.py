"""Commit throughput and latency: reactor mutations next to raw apsw.

32 concurrent callers each run a small mutation (one read, one insert) in a
loop for a fixed time against a fresh SQLite file with ``synchronous=FULL``.
In the same run, the raw baseline does the same row writes with apsw directly,
with the same group-commit batching available to it. The ratio is what
matters: absolute figures swing with the machine's fsync speed.

    .venv/bin/python bench/commits.py [--seconds 5] [--callers 32]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._raw_sqlite import raw_sqlite_commits
from reactor.engine import Engine
from reactor.functions import load_app
from reactor.storage import SqliteStore

APP = Path(__file__).parent / "apps" / "commits"


async def reactor_commits(path: Path, callers: int, seconds: float) -> dict[str, float]:
    engine = Engine(load_app(APP), SqliteStore(path, durability="full"))
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
    latencies.sort()

    def quantile(q: float) -> float:
        return latencies[max(0, math.ceil(q * len(latencies)) - 1)] * 1000

    return {
        "commits": float(len(latencies)),
        "commits_per_s": len(latencies) / elapsed,
        "p50_ms": quantile(0.5),
        "p99_ms": quantile(0.99),
        "mean_batch": len(latencies) / batches if batches else 0.0,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument("--db", default=None, help="store URL (default: a temporary SQLite file)")
    options = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        with console.status("raw apsw baseline..."):
            raw = await raw_sqlite_commits(Path(tmp) / "raw.db", options.callers, options.seconds)
        with console.status("reactor mutations..."):
            ours = await reactor_commits(Path(tmp) / "reactor.db", options.callers, options.seconds)
    table = Table(title=f"{options.callers} callers, {options.seconds:g} s each, synchronous=FULL")
    for column in ("", "commits/s", "p50 ms", "p99 ms", "mean batch"):
        table.add_column(column, justify="right")
    for name, row in (("raw apsw", raw), ("reactor", ours)):
        table.add_row(
            name,
            f"{row['commits_per_s']:,.0f}",
            f"{row['p50_ms']:.2f}",
            f"{row['p99_ms']:.2f}",
            f"{row['mean_batch']:.1f}",
        )
    console.print(table)
    ratio = ours["commits_per_s"] / raw["commits_per_s"]
    console.print(f"reactor / raw commit rate: [bold]{ratio:.2f}[/bold] (target >= 0.5)")


if __name__ == "__main__":
    asyncio.run(main())
