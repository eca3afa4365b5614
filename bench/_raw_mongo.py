"""The raw baseline for the MongoDB commit benchmark: PyMongo transactions, no reactor.

Each caller repeatedly reads one counter document by ``_id``, then submits one
small insert (a document plus its two index entries, by_id and
by_creation_time: what reactor writes for the benchmark's mutation) and waits
until it is committed. A single writer task takes everything queued so far
and commits it in one ``with_transaction`` (group commit, as reactor's
committer does), which also updates one shared document, as reactor updates
its sequencer in every transaction: the hot document every writer of the
database contends on. Snapshot reads, majority writes, like reactor's store.
Whatever reactor adds on top (functions, OCC validation, commit records,
encoding, its feed) is its overhead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import OperationFailure
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from bench._commit_figures import commit_figures

__all__ = ["drop_database", "is_wire_server", "raw_mongo_commits"]

Doc = dict[str, Any]
_Row = tuple[str, bytes, str]
"""(document id, encoded document, index key)."""


async def is_wire_server(url: str) -> bool:
    """Whether ``url`` is jongodb, the wire server CI uses, rather than MongoDB."""
    client: AsyncMongoClient[Doc] = AsyncMongoClient(url)
    try:
        info = await client.admin.command("buildInfo")
    finally:
        await client.close()
    return "jongodb" in f"{info.get('version', '')} {info.get('gitVersion', '')}"


async def drop_database(url: str, name: str) -> None:
    """Drop a benchmark's database (a wire server without dropDatabase keeps it)."""
    client: AsyncMongoClient[Doc] = AsyncMongoClient(url)
    try:
        with contextlib.suppress(OperationFailure):
            await client.drop_database(name)
    finally:
        await client.close()


async def raw_mongo_commits(
    url: str, database: str, callers: int = 32, seconds: float = 5.0
) -> dict[str, float]:
    """Run ``callers`` concurrent read-then-commit loops for ``seconds`` on ``database``.

    Returns the same figures as ``raw_sqlite_commits``: ``commits``,
    ``seconds``, ``commits_per_s``, ``p50_ms``, ``p99_ms``, ``max_ms``,
    ``batches`` and ``mean_batch``.
    """
    client: AsyncMongoClient[Doc] = AsyncMongoClient(url)
    db = client[database]
    counters, documents, entries, meta = db["counters"], db["events"], db["entries"], db["meta"]
    queue: asyncio.Queue[tuple[_Row, asyncio.Future[None]] | None] = asyncio.Queue()
    latencies: list[float] = []
    batches = 0
    run = os.urandom(4).hex()

    async def commit(rows: list[_Row]) -> None:
        async def body(session: AsyncClientSession) -> None:
            await documents.insert_many(
                [{"_id": doc_id, "v": value} for doc_id, value, _ in rows], session=session
            )
            # The same two index entries reactor keeps for every document.
            await entries.insert_many(
                [
                    {"_id": f"{index}|{key}", "idx": index, "k": key, "d": doc_id}
                    for doc_id, _, key in rows
                    for index in ("events.by_id", "events.by_creation_time")
                ],
                session=session,
            )
            # The hot document: every transaction of every writer updates it.
            await meta.update_one(
                {"_id": "sequencer"}, {"$inc": {"seq": len(rows)}}, session=session
            )

        async with client.start_session() as session:
            await session.with_transaction(
                body,
                read_concern=ReadConcern("snapshot"),
                write_concern=WriteConcern("majority"),
            )

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
                await commit([row for row, _ in batch])
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
        loop = asyncio.get_running_loop()
        i = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await counters.find_one({"_id": "counter"})
            doc_id = f"{run}:{n}:{i}"
            value = b'{"author":"a%d","body":"hello","n":%d}' % (n, i)
            done: asyncio.Future[None] = loop.create_future()
            queue.put_nowait(((doc_id, value, doc_id.encode().hex()), done))
            await done
            latencies.append(time.perf_counter() - started)
            i += 1

    try:
        await counters.update_one({"_id": "counter"}, {"$set": {"n": 0}}, upsert=True)
        await meta.update_one({"_id": "sequencer"}, {"$setOnInsert": {"seq": 0}}, upsert=True)
        committer = asyncio.create_task(commit_loop())
        try:
            began = time.perf_counter()
            await asyncio.gather(*(caller(n, began + seconds) for n in range(callers)))
            elapsed = time.perf_counter() - began
            queue.put_nowait(None)
            await committer
        finally:
            if not committer.done():  # a caller failed: stop the writer first
                committer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await committer
    finally:
        await client.close()

    return commit_figures(latencies, elapsed, batches, callers)
