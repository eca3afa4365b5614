"""Serializability under real concurrency: calls interleave at their awaits."""

from __future__ import annotations

import asyncio

import pytest

from reactor.engine._committer import _Batching
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


def test_batching_gathers_until_writes_are_faster_than_a_turn() -> None:
    """The committer's choice between gathering and pipelining (see _Batching)."""
    batching = _Batching()
    assert batching.gathering and batching.take(10) == 10
    batching.gathered(write=0.003, turn=0.001)  # slow fsync: keep gathering
    assert batching.gathering
    batching.gathered(write=0.001, turn=0.002)  # the mutations are the slower part
    assert not batching.gathering
    # The gathered group is split in two halves, which then alternate.
    assert batching.take(9) == 5 and batching.take(4) == 4
    batching.pipelined(write=0.0015, turn=0.001)  # between the thresholds: stay
    assert not batching.gathering
    batching.pipelined(write=0.003, turn=0.0)  # nothing committed meanwhile: no verdict
    assert not batching.gathering
    batching.pipelined(write=0.002, turn=0.001)
    assert batching.gathering and batching.take(7) == 7


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
