"""Deciding a batch for the MongoDB store: validation and timestamps (pure, no server)."""

from __future__ import annotations

import pytest
from mongo_helpers import IDX, checked, reads

from reactor.storage import SNAPSHOT_TOO_OLD, Commit, IndexWrite
from reactor.storage._mongo_commit import CommitRecord, Sequencer, plan_checked, plan_plain


def test_timestamps_rise_past_the_sequencer_and_the_clock() -> None:
    requests = [checked(0, reads(), [b"a"]), checked(0, reads(), [b"b"])]
    plan = plan_checked(requests, Sequencer(ts=100, seq=4), 0, [], clock=lambda: 50)
    assert plan.results == [101, 102]
    assert plan.sequencer == Sequencer(ts=102, seq=6)
    assert [(r["_id"], r["ts"]) for r in plan.records] == [(5, 101), (6, 102)]
    assert plan.records[0]["written"] == [{"i": IDX, "k": ["61"]}]
    later = plan_checked(requests[:1], Sequencer(100, 4), 0, [], clock=lambda: 5_000)
    assert later.results == [5_000]


def test_only_records_after_a_snapshot_can_conflict_with_it() -> None:
    records = [CommitRecord(1, 10, {IDX: [b"k"]}), CommitRecord(2, 20, {"t.other": [b"k"]})]
    requests = [
        checked(10, reads((b"k", b"l")), [b"x"]),  # saw seq 1 already
        checked(9, reads((b"k", b"l")), [b"y"]),  # did not
        checked(9, reads((b"k", b"l"), index="t.other"), [b"z"]),
    ]
    plan = plan_checked(requests, Sequencer(20, 2), 0, records, clock=lambda: 0)
    assert plan.results == [21, IDX, "t.other"]
    assert len(plan.commits) == 1


def test_a_snapshot_before_the_prune_mark_is_too_old() -> None:
    plan = plan_checked([checked(5, reads(), [b"a"])], Sequencer(9, 9), 6, [], clock=lambda: 0)
    assert plan.results == [SNAPSHOT_TOO_OLD] and not plan.records
    plan = plan_checked([checked(6, reads(), [b"a"])], Sequencer(9, 9), 6, [], clock=lambda: 0)
    assert plan.results == [10]


def test_a_commit_built_at_another_ts_is_refused() -> None:
    request = checked(0, reads(), [b"a"])
    wrong = type(request)(0, request.read_set, request.written, lambda ts: Commit(ts + 1))
    with pytest.raises(ValueError, match="ts"):
        plan_checked([wrong], Sequencer(0, 0), 0, [], clock=lambda: 1)


def test_plain_writes_keep_their_timestamps_and_max_ts_never_falls() -> None:
    commits = [
        Commit(5, (), (IndexWrite(IDX, b"b", "d"), IndexWrite(IDX, b"a", None))),
        Commit(7),
    ]
    plan = plan_plain(commits, Sequencer(ts=50, seq=1))
    assert plan.results == [5, 7]
    assert plan.sequencer == Sequencer(ts=50, seq=3)
    assert [r["written"] for r in plan.records] == [[{"i": IDX, "k": ["61", "62"]}], []]
