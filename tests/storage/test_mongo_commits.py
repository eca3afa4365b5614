"""write_checked on the MongoDB store: OCC across processes, retries, exactly-once."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from mongo_helpers import IDX, checked, commit_records, reads, snapshot_ts, stores
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import AutoReconnect, OperationFailure

from reactor.storage import SNAPSHOT_TOO_OLD, MongoStore, SnapshotExpiredError
from reactor.values import new_id

pytestmark = pytest.mark.anyio

Database = tuple[str, str]
REAL_URI = os.environ.get("MONGODB_URI", "")


async def test_timestamps_increase_and_writes_land(mongo_database: Database) -> None:
    async with stores(mongo_database, 1) as [store]:
        s0 = await snapshot_ts(store)
        [t1, t2] = await store.write_checked(
            [checked(s0, reads(), [b"a"]), checked(s0, reads(), [b"b"])]
        )
        assert isinstance(t1, int) and isinstance(t2, int)
        assert s0 < t1 < t2
        [t3] = await store.write_checked([checked(s0, reads(), [b"c"])])
        assert isinstance(t3, int) and t3 > t2
        async with await store.snapshot() as snap:
            assert (snap.ts, snap.seq) == (t3, 3)
            assert [e.key for e in await snap.scan(IDX, b"", None)] == [b"a", b"b", b"c"]
        assert [r["_id"] for r in await commit_records(store)] == [1, 2, 3]


async def test_timestamps_follow_the_clock_and_never_go_back(mongo_database: Database) -> None:
    now = [5_000]
    async with stores(mongo_database, 1, clock=lambda: now[0]) as [store]:
        assert await store.write_checked([checked(0, reads(), [b"a"])]) == [5_000]
        now[0] = 10  # the clock went backwards: ts still rises
        assert await store.write_checked([checked(0, reads(), [b"b"])]) == [5_001]
        await store.reserve_ts(9_000)
        assert await store.write_checked([checked(0, reads(), [b"c"])]) == [9_001]


async def test_a_conflict_with_another_process_is_reported(mongo_database: Database) -> None:
    async with stores(mongo_database) as [a, b]:
        s0 = await snapshot_ts(a)
        [tb] = await b.write_checked([checked(s0, reads(), [b"k5"])])
        assert isinstance(tb, int)
        results = await a.write_checked(
            [
                checked(s0, reads((b"k0", b"k9")), [b"x"]),  # read the range b wrote into
                checked(s0, reads((b"k6", None)), [b"y"]),  # read past it: no conflict
                checked(tb, reads((b"k0", b"k9")), [b"z"]),  # its snapshot already had it
            ]
        )
        assert results[0] == IDX
        assert isinstance(results[1], int) and isinstance(results[2], int)
        async with await a.snapshot() as snap:
            assert [e.key for e in await snap.scan(IDX, b"", None)] == [b"k5", b"y", b"z"]


async def test_requests_in_one_batch_are_checked_against_each_other(
    mongo_database: Database,
) -> None:
    async with stores(mongo_database, 1) as [store]:
        built: list[int] = []
        results = await store.write_checked(
            [
                checked(0, reads(), [b"k"], built=built),
                checked(0, reads((b"k", b"l")), [b"m"], built=built),  # reads what #1 wrote
                checked(0, reads((b"l", None)), [b"n"], built=built),
            ]
        )
        assert results[1] == IDX
        assert built == [results[0], results[2]]  # conflicting requests are never built


async def test_write_skew_is_refused(mongo_database: Database) -> None:
    """Each reads one range and writes into the other's, from the same snapshot:
    whichever commits second conflicts."""
    async with stores(mongo_database) as [a, b]:
        s0 = await snapshot_ts(a)
        [tb] = await b.write_checked([checked(s0, reads((b"b", b"c")), [b"a1"])])
        assert isinstance(tb, int)
        assert await a.write_checked([checked(s0, reads((b"a", b"b")), [b"b1"])]) == [IDX]
        assert [r["_id"] for r in await commit_records(a)] == [1]


if REAL_URI:  # needs a server that detects write conflicts itself (not jongodb)

    @pytest.mark.parametrize("mongo_lane", ["uri"], indirect=True)
    async def test_write_skew_is_refused_after_both_validated(mongo_database: Database) -> None:
        """b commits inside a's transaction, after a validated and before it writes:
        a's writes then conflict, and its re-run sees b's commit record."""
        async with stores(mongo_database, commit_lock=False) as [a, b]:
            s0 = await snapshot_ts(a)
            b_result: list[int | str] = []
            apply = a._apply

            async def b_commits_first(*args: Any) -> None:
                if not b_result:
                    b_result.extend(
                        await b.write_checked([checked(s0, reads((b"b", b"c")), [b"a1"])])
                    )
                await apply(*args)

            a._apply = b_commits_first  # type: ignore[method-assign]
            [a_result] = await a.write_checked([checked(s0, reads((b"a", b"b")), [b"b1"])])
            assert isinstance(b_result[0], int)
            assert a_result == IDX
            assert a._runner is not None and a._runner.retries >= 1
            assert [r["_id"] for r in await commit_records(a)] == [1]


async def test_concurrent_conflicting_commits_exactly_one_wins(mongo_database: Database) -> None:
    async with stores(mongo_database) as [a, b]:
        for round_ in range(8):
            lo, hi = b"%d" % round_, b"%d~" % round_
            s = await snapshot_ts(a)
            results = await asyncio.gather(
                a.write_checked([checked(s, reads((lo + b"a", lo + b"b")), [lo + b"b1"])]),
                b.write_checked([checked(s, reads((lo + b"b", hi)), [lo + b"a1"])]),
            )
            outcomes = sorted(type(r[0]).__name__ for r in results)
            assert outcomes == ["int", "str"], results
        seqs = [r["_id"] for r in await commit_records(a)]
        assert seqs == list(range(1, 9))


def _unknown_commit_result() -> OperationFailure:
    return OperationFailure(
        "injected: unknown commit result",
        code=91,
        details={"errorLabels": ["UnknownTransactionCommitResult"]},
    )


async def test_an_unknown_commit_result_retries_the_commit_only(mongo_database: Database) -> None:
    async with stores(mongo_database, 1) as [store]:
        runner = store._runner
        assert runner is not None
        real = runner.commit_session
        calls = 0

        async def commit_then_fail_once(session: AsyncClientSession) -> None:
            nonlocal calls
            calls += 1
            await real(session)
            if calls == 1:
                raise _unknown_commit_result()

        runner.commit_session = commit_then_fail_once  # type: ignore[method-assign]
        [ts] = await store.write_checked([checked(0, reads(), [b"a"])])
        assert calls == 2 and runner.retries == 0
        assert [(r["_id"], r["ts"]) for r in await commit_records(store)] == [(1, ts)]


@pytest.mark.parametrize("really_committed", [True, False])
async def test_a_commit_in_doubt_is_never_applied_twice(
    mongo_database: Database, really_committed: bool
) -> None:
    """The commit's outcome stays unknown (then the connection fails): the whole
    transaction re-runs, finds (or not) its first attempt's commit_id, and the
    batch ends up applied exactly once either way."""
    async with stores(mongo_database, 1) as [store]:
        runner = store._runner
        assert runner is not None
        real = runner.commit_session
        calls = 0

        async def lose_the_answer(session: AsyncClientSession) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                if really_committed:
                    await real(session)
                raise _unknown_commit_result()
            if calls == 2:
                raise AutoReconnect("injected: connection lost while retrying the commit")
            await real(session)

        runner.commit_session = lose_the_answer  # type: ignore[method-assign]
        built: list[int] = []
        [ts] = await store.write_checked([checked(0, reads(), [b"a"], built=built)])
        assert runner.retries == 1
        records = await commit_records(store)
        assert [(r["_id"], r["ts"]) for r in records] == [(1, ts)]
        if really_committed:
            assert built == [ts] and calls == 2  # recognised: not built or committed again
        else:
            assert built[-1] == ts and len(built) == 2 and calls == 3


async def test_a_transient_error_reruns_the_transaction(mongo_database: Database) -> None:
    async with stores(mongo_database, 1) as [store]:
        runner = store._runner
        assert runner is not None
        real = runner.commit_session
        calls = 0

        async def abort_once(session: AsyncClientSession) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                await session.abort_transaction()
                raise OperationFailure(
                    "injected", code=112, details={"errorLabels": ["TransientTransactionError"]}
                )
            await real(session)

        runner.commit_session = abort_once  # type: ignore[method-assign]
        [ts] = await store.write_checked([checked(0, reads(), [b"a"])])
        assert runner.retries == 1
        assert [(r["_id"], r["ts"]) for r in await commit_records(store)] == [(1, ts)]


async def test_a_snapshot_older_than_the_pruned_records_cannot_commit(
    mongo_database: Database,
) -> None:
    async with stores(mongo_database, 1) as [store]:
        for key in (b"a", b"b", b"c"):
            await store.write_checked([checked(0, reads(), [key])])
        head = await snapshot_ts(store)
        assert await store.prune_commits(head) == 2  # the newest record is always kept
        assert await store.write_checked([checked(0, reads(), [b"x"])]) == [SNAPSHOT_TOO_OLD]
        [ts] = await store.write_checked([checked(head, reads(), [b"y"])])
        assert isinstance(ts, int)
        assert [r["_id"] for r in await commit_records(store)] == [3, 4]


async def test_plain_writes_and_reservations_are_commit_records(mongo_database: Database) -> None:
    async with stores(mongo_database, 1) as [store]:
        await store.write([checked(0, reads(), [b"a", b"b"]).build(100)])
        await store.reserve_ts(500)
        await store.reserve_ts(200)  # below max_ts: nothing to record
        records = await commit_records(store)
        assert [(r["_id"], r["ts"]) for r in records] == [(1, 100), (2, 500)]
        assert records[0]["written"] == [{"i": IDX, "k": ["61", "62"]}]
        assert records[1]["written"] == []


async def test_documents_live_in_one_collection_per_table(mongo_database: Database) -> None:
    async with stores(mongo_database, 1) as [store]:
        doc_id = new_id(10001)
        await store.write([checked(0, reads(), []).build(1)])
        commit = checked(0, reads(), [b"k"]).build(2)
        commit = type(commit)(
            2,
            (type(commit.documents[0])("users", doc_id, b"U"),),
            (type(commit.index_writes[0])("users.by_id", b"k", doc_id),),
        )
        await store.write([commit])
        raw = await store._collection("docs.10001").find_one({"_id": doc_id})
        assert raw is not None and bytes(raw["v"]) == b"U"
        async with await store.snapshot() as snap:
            assert await snap.get(doc_id) == b"U"
            assert [e.value for e in await snap.scan("users.by_id", b"", None)] == [b"U"]


async def test_a_snapshot_past_its_lifetime_refuses_reads(mongo_database: Database) -> None:
    store = MongoStore(mongo_database[0], database=mongo_database[1], snapshot_lifetime=0.05)
    await store.open()
    try:
        snap = await store.snapshot()
        assert await snap.get("a") is None
        await asyncio.sleep(0.1)
        with pytest.raises(SnapshotExpiredError, match="lifetime"):
            await snap.get("a")
        with pytest.raises(SnapshotExpiredError):
            await snap.scan(IDX, b"", None)
        await snap.close()
    finally:
        await store.close()


async def test_the_commit_lock_is_taken_over_from_a_dead_holder(mongo_database: Database) -> None:
    async with stores(mongo_database, 1) as [detected]:
        # On for jongodb, whose transactions cannot be trusted to conflict; off elsewhere.
        info = await detected._live_client().admin.command("buildInfo")
        assert detected.commit_lock is ("jongodb" in info["version"])
    async with stores(mongo_database, 1, commit_lock=True) as [store]:
        meta = store._collection("meta")
        await meta.insert_one({"_id": "commit_lock", "owner": "dead", "expires": 0})
        [ts] = await store.write_checked([checked(0, reads(), [b"a"])])
        assert isinstance(ts, int)
        assert await meta.find_one({"_id": "commit_lock"}) is None  # released
