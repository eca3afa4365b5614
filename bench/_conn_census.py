"""Where a reactor server's per-connection memory goes: tracemalloc and a gc census.

A diagnostic to go with bench/connections.py, not a benchmark:

    .venv/bin/python bench/_conn_census.py [--count 2000] [--queries 100]

The server runs in this process (``ReactorServer.serve``, logging at WARNING)
so tracemalloc can see it; the clients are bench/_load.py in a subprocess, as
in the benchmark. After one warm connection per query, a snapshot and an
object census are taken; then ``count`` connections are opened and both are
taken again. Printed per connection: objects by type (``sys.getsizeof``),
allocation sites, and traced bytes by package.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import logging
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.append(str(Path(__file__).resolve().parent.parent))

from reactor.server import create_server

APP = Path(__file__).resolve().parent / "apps" / "fanout"
LOAD = Path(__file__).resolve().parent / "_load.py"
PACKAGES = ("reactor", "uvicorn", "starlette", "websockets", "asyncio", "orjson")


def census() -> tuple[collections.Counter[str], collections.Counter[str]]:
    counts: collections.Counter[str] = collections.Counter()
    sizes: collections.Counter[str] = collections.Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        name = f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', kind.__name__)}"
        counts[name] += 1
        sizes[name] += sys.getsizeof(obj)
    return counts, sizes


def short(filename: str) -> str:
    for marker in ("site-packages/", "/python3.11/", "/work/main/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


async def open_clients(url: str, count: int, queries: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(LOAD),
        "--url",
        url,
        "--count",
        str(count),
        "--query",
        "bench:slot",
        "--slots",
        str(queries),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    while b'"ready"' not in await process.stdout.readline():
        pass
    return process


async def close(process: asyncio.subprocess.Process) -> None:
    assert process.stdin is not None
    process.stdin.write(b"quit\n")
    await process.stdin.drain()
    await process.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=100)
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    console = Console() if sys.stdout.isatty() else Console(width=150)
    n = options.count
    with tempfile.TemporaryDirectory() as tmp:
        server = create_server(APP, db=f"sqlite://{tmp}/data.db")
        async with server, server.serve() as base:
            url = base.replace("http://", "ws://") + "/api/1.48.0/sync"
            await close(await open_clients(url, options.queries, options.queries))
            await asyncio.sleep(0.5)
            tracemalloc.start(8)
            gc.collect()
            counts0, sizes0 = census()
            before = tracemalloc.take_snapshot()
            clients = await open_clients(url, n, options.queries)
            await asyncio.sleep(2)
            gc.collect()
            counts1, sizes1 = census()
            after = tracemalloc.take_snapshot()
            await close(clients)
    by_file = after.compare_to(before, "filename")
    traced = sum(stat.size_diff for stat in by_file)
    console.print(
        f"{n:,} connections: traced Python heap {traced / n / 1024:.1f} KiB per connection"
    )

    objects = Table(title="Objects per connection (gc-tracked; sys.getsizeof)")
    for column in ("type", "count", "bytes"):
        objects.add_column(column, justify="right" if column != "type" else "left")
    rows = sorted(
        ((sizes1[k] - sizes0[k], counts1[k] - counts0[k], k) for k in sizes1), reverse=True
    )
    for size, count, name in rows[:20]:
        objects.add_row(name, f"{count / n:.2f}", f"{size / n:.0f}")
    console.print(objects)

    sites = Table(title="Allocation sites per connection (tracemalloc)")
    for column in ("site", "blocks", "bytes"):
        sites.add_column(column, justify="right" if column != "site" else "left")
    for stat in after.compare_to(before, "lineno")[:25]:
        frame = stat.traceback[0]
        sites.add_row(
            f"{short(frame.filename)}:{frame.lineno}",
            f"{stat.count_diff / n:.2f}",
            f"{stat.size_diff / n:.0f}",
        )
    console.print(sites)

    packages: collections.Counter[str] = collections.Counter()
    for stat in by_file:
        filename = stat.traceback[0].filename
        package = next((p for p in PACKAGES if f"/{p}/" in filename), "other")
        packages[package] += stat.size_diff
    table = Table(title="Traced bytes per connection by package")
    table.add_column("package")
    table.add_column("bytes", justify="right")
    for package, size in packages.most_common():
        table.add_row(package, f"{size / n:.0f}")
    console.print(table)


if __name__ == "__main__":
    asyncio.run(main())
