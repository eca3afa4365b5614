"""The raw baseline for the commit benchmark: group-committed apsw with no reactor on top.

Each caller repeatedly reads one counter row by primary key, then submits one
small insert (a document row plus its two index entries, by_id and
by_creation_time: the rows reactor writes for a small mutation) and waits
until it is durable. A single writer task takes everything queued so far and
commits it as one transaction in a worker thread
(group commit, as reactor's committer does), with WAL and ``synchronous=FULL``.
Whatever reactor adds on top of this (functions, OCC, encoding) is its overhead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import apsw

from bench._commit_figures import commit_figures

__all__ = ["raw_sqlite_commits"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS documents (
    id TEXT NOT NULL PRIMARY KEY, tbl TEXT NOT NULL, value BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS index_entries (
    idx TEXT NOT NULL, key BLOB NOT NULL, doc_id TEXT NOT NULL, PRIMARY KEY (idx, key)
) STRICT, WITHOUT ROWID;
INSERT OR IGNORE INTO counters (id, n) VALUES (1, 0);
"""

_Row = tuple[str, bytes, bytes]
"""(document id, encoded document, index key)."""


def _open_writer(path: Path) -> apsw.Connection:
    conn = apsw.Connection(str(path))
    conn.set_busy_timeout(5_000)
    conn.pragma("journal_mode", "wal")
    conn.pragma("synchronous", "FULL")
    conn.execute(_SCHEMA)
    return conn


def _commit(conn: apsw.Connection, rows: list[_Row]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT INTO documents (id, tbl, value) VALUES (?, 'messages', ?)",
            [(doc_id, value) for doc_id, value, _ in rows],
        )
        # The same two index rows reactor keeps for every document: by_id, by_creation_time.
        conn.executemany(
            "INSERT INTO index_entries (idx, key, doc_id) VALUES ('messages.by_id', ?, ?)",
            [(key, doc_id) for doc_id, _, key in rows],
        )
        conn.executemany(
            "INSERT INTO index_entries (idx, key, doc_id) "
            "VALUES ('messages.by_creation_time', ?, ?)",
            [(b"t" + key, doc_id) for doc_id, _, key in rows],
        )
        conn.execute("COMMIT")
    except BaseException:
        if not conn.get_autocommit():
            conn.execute("ROLLBACK")
        raise


async def raw_sqlite_commits(
    path: str | Path, callers: int = 32, seconds: float = 5.0
) -> dict[str, float]:
    """Run ``callers`` concurrent read-then-commit loops for ``seconds`` against ``path``.

    Returns ``commits`` (acknowledged), ``seconds`` (measured), ``commits_per_s``,
    latency per read+commit in ms (``p50_ms``, ``p99_ms``, ``max_ms``), the number
    of group commits (``batches``) and their mean size (``mean_batch``). The file
    is created if needed; rows from earlier runs are left alone (ids are unique).
    """
    path = Path(path)
    loop = asyncio.get_running_loop()
    # One dedicated thread owns the writer, so fsync never blocks the event loop.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="raw-sqlite-writer")
    writer = await loop.run_in_executor(executor, _open_writer, path)
    reader = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    queue: asyncio.Queue[tuple[_Row, asyncio.Future[None]] | None] = asyncio.Queue()
    latencies: list[float] = []
    batches = 0
    run = os.urandom(4).hex()

    async def commit_loop() -> None:
        nonlocal batches
        while (first := await queue.get()) is not None:
            batch = [first]
            stop = False
            while not queue.empty():
                item = queue.get_nowait()
                if item is None:
                    stop = True
                    break
                batch.append(item)
            try:
                await loop.run_in_executor(executor, _commit, writer, [row for row, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for _, done in batch:
                    done.set_result(None)
            batches += 1
            if stop:
                return

    async def caller(n: int, deadline: float) -> None:
        i = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            reader.execute("SELECT n FROM counters WHERE id = 1").fetchall()
            doc_id = f"{run}:{n}:{i}"
            row = (doc_id, b'{"author":"a%d","body":"hello","n":%d}' % (n, i), doc_id.encode())
            done: asyncio.Future[None] = loop.create_future()
            queue.put_nowait((row, done))
            await done
            latencies.append(time.perf_counter() - started)
            i += 1

    committer = asyncio.create_task(commit_loop())
    try:
        began = time.perf_counter()
        await asyncio.gather(*(caller(n, began + seconds) for n in range(callers)))
        elapsed = time.perf_counter() - began
        queue.put_nowait(None)
        await committer
    finally:
        if not committer.done():  # a caller failed: stop the writer before closing it
            committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await committer
        reader.close()
        await loop.run_in_executor(executor, writer.close)
        executor.shutdown()

    return commit_figures(latencies, elapsed, batches, callers)


if __name__ == "__main__":
    import sys
    import tempfile

    async def _main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            result = await raw_sqlite_commits(
                Path(tmp) / "raw.db", seconds=float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
            )
        for name, value in result.items():
            print(f"{name:>14}: {value:,.2f}")

    asyncio.run(_main())
