from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor.engine._intervals import Interval, IntervalSet, ReadSet

# A tiny alphabet makes shared prefixes, touching and overlapping intervals common.
keys = st.lists(st.sampled_from([0, 1, 2, 255]), max_size=3).map(bytes)
intervals = st.one_of(
    keys.map(Interval.point),
    st.builds(Interval, keys, st.none() | keys),
)


def test_interval_is_half_open() -> None:
    interval = Interval(b"b", b"d")
    assert not interval.contains(b"a")
    assert interval.contains(b"b")
    assert interval.contains(b"c\xff\xff")
    assert not interval.contains(b"d")


def test_unbounded_interval_contains_everything_from_its_start() -> None:
    assert Interval(b"m", None).contains(b"\xff" * 50)
    assert not Interval(b"m", None).contains(b"l")
    assert Interval.all().contains(b"")


def test_point_contains_exactly_its_key() -> None:
    point = Interval.point(b"k")
    assert point.is_point
    assert point.contains(b"k")
    assert not point.contains(b"k\x00")
    assert not point.contains(b"j\xff")
    assert not Interval(b"k", b"l").is_point


def test_empty_intervals() -> None:
    assert Interval(b"b", b"b").is_empty
    assert Interval(b"c", b"b").is_empty
    assert not Interval(b"b", None).is_empty
    assert not Interval.point(b"b").is_empty


def test_interval_set_merges_overlapping_and_touching_intervals() -> None:
    intervals = IntervalSet([Interval(b"c", b"e"), Interval(b"a", b"b"), Interval(b"e", b"g")])
    assert intervals.intervals == (Interval(b"a", b"b"), Interval(b"c", b"g"))
    intervals.add(Interval(b"b", b"c"))
    assert list(intervals) == [Interval(b"a", b"g")]
    intervals.add(Interval(b"f", None))
    assert list(intervals) == [Interval(b"a", None)]


def test_interval_set_ignores_empty_intervals() -> None:
    intervals = IntervalSet([Interval(b"b", b"a"), Interval(b"b", b"b")])
    assert len(intervals) == 0
    assert not intervals.contains(b"b")


def test_a_growing_scan_stays_one_interval() -> None:
    # How a transaction records a forward scan: one interval per row consumed.
    intervals = IntervalSet()
    for row in (b"a", b"c", b"f"):
        intervals.add(Interval(b"", row + b"\x00"))
    assert intervals.intervals == (Interval(b"", b"f\x00"),)


def test_interval_set_overlaps() -> None:
    intervals = IntervalSet([Interval(b"b", b"d"), Interval(b"f", b"h")])
    assert intervals.overlaps(Interval(b"a", b"c"))
    assert intervals.overlaps(Interval(b"d", b"g"))
    assert intervals.overlaps(Interval(b"g", None))
    assert not intervals.overlaps(Interval(b"d", b"f"))
    assert not intervals.overlaps(Interval(b"h", None))
    assert not intervals.overlaps(Interval(b"c", b"c"))


def test_union_leaves_its_operands_alone() -> None:
    left = IntervalSet([Interval(b"a", b"c")])
    right = IntervalSet([Interval(b"b", b"d")])
    assert left.union(right) == IntervalSet([Interval(b"a", b"d")])
    assert left == IntervalSet([Interval(b"a", b"c")])
    assert right == IntervalSet([Interval(b"b", b"d")])


@given(st.lists(intervals), keys)
def test_interval_set_contains_what_its_intervals_contain(
    added: list[Interval], key: bytes
) -> None:
    intervals = IntervalSet(added)
    assert intervals.contains(key) == any(iv.contains(key) for iv in added)


@given(st.lists(intervals))
def test_interval_set_is_sorted_disjoint_and_not_touching(added: list[Interval]) -> None:
    normalized = IntervalSet(added).intervals
    assert not any(iv.is_empty for iv in normalized)
    for before, after in pairwise(normalized):
        assert before.end is not None
        assert before.end < after.start


@given(st.lists(intervals), st.lists(intervals))
def test_equal_contents_make_equal_sets(a: list[Interval], b: list[Interval]) -> None:
    # The representation is canonical: order of insertion does not matter.
    assert IntervalSet(a + b) == IntervalSet(b + a) == IntervalSet(a).union(IntervalSet(b))


@given(st.lists(intervals), intervals)
def test_overlaps_means_a_shared_key(added: list[Interval], probe: Interval) -> None:
    intervals = IntervalSet(added)
    # Every key in the alphabet that could witness an overlap is an endpoint.
    witnesses = [probe.start] + [iv.start for iv in intervals]
    shared = any(probe.contains(k) and intervals.contains(k) for k in witnesses)
    assert intervals.overlaps(probe) == shared


def test_read_set_records_ranges_and_points_per_index() -> None:
    reads = ReadSet()
    assert not reads
    reads.record("messages.by_channel", Interval(b"c1", b"c2"))
    reads.record_point("messages.by_id", b"m7")
    assert reads
    assert reads.contains("messages.by_channel", b"c1\x05")
    assert not reads.contains("messages.by_channel", b"c2")
    assert reads.contains("messages.by_id", b"m7")
    assert not reads.contains("messages.by_id", b"m8")
    assert not reads.contains("users.by_id", b"m7")
    assert set(reads.indexes()) == {"messages.by_channel", "messages.by_id"}
    assert reads.interval_count() == 2


def test_read_set_ignores_empty_intervals() -> None:
    reads = ReadSet()
    reads.record("t.by_id", Interval(b"b", b"a"))
    assert not reads
    assert reads.indexes() == ()


def test_conflicts_with_names_the_first_index_with_a_read_key() -> None:
    reads = ReadSet()
    reads.record("a.by_x", Interval(b"k", b"m"))
    reads.record_point("b.by_id", b"id1")
    writes = {"c.by_id": [b"k"], "a.by_x": [b"z", b"l"], "b.by_id": [b"id1"]}
    assert reads.conflicts_with(writes) == "a.by_x"
    assert reads.conflicts_with({"a.by_x": [b"m", b"j"], "b.by_id": [b"id2"]}) is None
    assert reads.conflicts_with({}) is None


def test_merge_takes_the_nested_reads_without_sharing_them() -> None:
    outer = ReadSet()
    outer.record("t.by_x", Interval(b"a", b"c"))
    inner = ReadSet()
    inner.record("t.by_x", Interval(b"b", b"e"))
    inner.record_point("u.by_id", b"u1")
    outer.merge(inner)
    assert outer["t.by_x"] == IntervalSet([Interval(b"a", b"e")])
    assert outer.contains("u.by_id", b"u1")
    outer.record_point("u.by_id", b"u2")
    assert not inner.contains("u.by_id", b"u2")
    assert inner["t.by_x"] == IntervalSet([Interval(b"b", b"e")])


def test_copy_is_independent() -> None:
    reads = ReadSet()
    reads.record_point("t.by_id", b"1")
    copy = reads.copy()
    assert copy == reads
    copy.record_point("t.by_id", b"2")
    copy.record_point("u.by_id", b"1")
    assert copy != reads
    assert not reads.contains("t.by_id", b"2")
    assert reads.indexes() == ("t.by_id",)


def test_read_set_is_a_mapping_of_interval_sets() -> None:
    reads = ReadSet()
    reads.record("t.by_x", Interval(b"a", b"b"))
    assert dict(reads) == {"t.by_x": IntervalSet([Interval(b"a", b"b")])}
    assert "t.by_x" in reads
    with pytest.raises(KeyError):
        reads["u.by_x"]
