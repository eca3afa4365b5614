"""Serializability under real concurrency: calls interleave at their awaits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reactor.testing import ReactorTest

pytestmark = pytest.mark.anyio


async def test_concurrent_increments_are_never_lost(core: ReactorTest, store_kind: str) -> None:
    # 50 tasks x 20 on SQLite; fewer per task on the CI MongoDB wire server, which
    # serializes its transactions and makes each commit far slower.
    per_task = 20 if store_kind == "sqlite" else 4

    async def worker() -> None:
        for _ in range(per_task):
            await core.mutation("counters:increment", {"name": "hits"})

    await asyncio.gather(*(worker() for _ in range(50)))

    assert await core.query("counters:get", {"name": "hits"}) == 50 * per_task
    engine = await core.engine()
    # The interleaving really happened: commits conflicted and were re-run.
    assert engine.committer.conflicts > 0
    assert engine.metrics["occ_retries"] > 0


async def test_write_skew_is_impossible(core: ReactorTest) -> None:
    for round_ in range(30):
        claims = await asyncio.gather(
            core.mutation("sides:claim", {"mine": "a", "other": "b", "by": f"A{round_}"}),
            core.mutation("sides:claim", {"mine": "b", "other": "a", "by": f"B{round_}"}),
        )
        rows = await core.query("sides:all")
        # Either serial order leaves exactly one row: the first claims, the second sees it.
        assert sorted(claims) == [False, True]
        assert len(rows) == 1
        await core.mutation("sides:clear")


async def test_phantom_insert_is_detected(core: ReactorTest) -> None:
    """T13: check-then-insert under contention creates exactly one row."""

    async def insert_if_absent(ctx):  # type: ignore[no-untyped-def]
        found = await ctx.db.query("kv").with_index("by_key", lambda r: r.eq("key", "k")).first()
        await asyncio.sleep(0)
        if found is None:
            await ctx.db.insert("kv", {"key": "k"})

    await asyncio.gather(*(core.run(insert_if_absent) for _ in range(20)))
    rows = await core.run(lambda ctx: ctx.db.query("kv").collect())
    assert len(rows) == 1


async def test_concurrent_commits_share_group_commits(core: ReactorTest) -> None:
    await asyncio.gather(
        *(core.mutation("messages:send", {"channel": "c", "body": str(i)}) for i in range(64))
    )
    engine = await core.engine()
    # 64 durable commits did not take 64 separate store writes.
    assert engine.committer.commits >= 64
    assert engine.committer.batches < engine.committer.commits


async def test_callers_that_commit_again_join_one_batch(apps_dir: Path, tmp_path: Path) -> None:
    """After a batch, the mutations it released commit again before the next batch
    is taken. Two groups of callers in a loop, the second started while the first
    one's batch is being written, soon share one batch a round (one fsync), instead
    of alternating forever in two half batches. SQLite only: on MongoDB a mutation
    waits for the server to open its snapshot, so the mutations a batch released
    do not commit again within the one pass of the event loop the committer gives
    them."""
    core = ReactorTest(apps_dir / "core", data_dir=tmp_path)
    try:
        await _two_groups_share_batches(core)
    finally:
        await core.close()


async def _two_groups_share_batches(core: ReactorTest) -> None:
    engine = await core.engine()
    committer = engine.committer
    await core.mutation("messages:send", {"channel": "c", "body": "warm-up"})
    batches = committer.batches
    rounds = 20

    async def caller(n: int) -> None:
        for i in range(rounds):
            await core.mutation("messages:send", {"channel": "c", "body": f"{n}:{i}"})

    first = [asyncio.create_task(caller(n)) for n in range(8)]
    for _ in range(1000):  # until the committer took the first group's commits
        await asyncio.sleep(0)
        if committer.commits == 1 and not committer._queue:
            break
    second = [asyncio.create_task(caller(n)) for n in range(8, 16)]
    await asyncio.gather(*first, *second)
    assert committer.batches - batches <= rounds + 3


async def test_a_conflict_is_found_behind_commits_to_other_tables(core: ReactorTest) -> None:
    """The write log is only walked for indexes written after the snapshot; a read of
    one that was, among commits to other tables, still conflicts."""
    counter = await core.mutation("counters:increment", {"name": "hits"})
    engine = await core.engine()
    read = asyncio.Event()
    go = asyncio.Event()

    async def slow_increment(ctx):  # type: ignore[no-untyped-def]
        row = await ctx.db.query("counters").first()
        read.set()
        await go.wait()
        await ctx.db.patch(row["_id"], {"value": row["value"] + 1})

    task = asyncio.create_task(engine.run_in_transaction(slow_increment))
    await read.wait()
    for i in range(3):
        await core.mutation("messages:send", {"channel": "c", "body": str(i)})
    await core.mutation("counters:increment", {"name": "hits"})
    for i in range(3):
        await core.mutation("messages:send", {"channel": "c", "body": str(i)})
    conflicts = engine.committer.conflicts
    go.set()
    (await task).unwrap()  # re-run after the conflict
    assert engine.committer.conflicts == conflicts + 1
    assert await core.query("counters:get", {"name": "hits"}) == counter + 2


async def test_commit_listeners_run_before_the_mutations_resume(
    apps_dir: Path, tmp_path: Path
) -> None:
    """What a listener wakes (live queries: their refresh, which pushes the update to
    subscribers) runs before the mutations of the batch get their answer, so
    subscribers never wait behind the writers' own responses. SQLite only: with a
    shared store, listeners hear of commits through the store's commit feed."""
    core = ReactorTest(apps_dir / "core", data_dir=tmp_path)
    try:
        engine = await core.engine()
        order: list[str] = []

        def listener(notices: object) -> None:
            asyncio.get_running_loop().call_soon(order.append, "woken by the listener")

        engine.committer.add_listener(listener)
        result = await engine.run_mutation("messages:send", {"channel": "c", "body": "x"})
        order.append("mutation answered")
        assert result.error is None
        assert order == ["woken by the listener", "mutation answered"]
    finally:
        await core.close()
