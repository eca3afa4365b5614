from __future__ import annotations

import random
from collections.abc import Hashable
from typing import TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from reactor.engine._intervals import IndexName, Interval, ReadSet
from reactor.engine._segment_map import DEFAULT_BLOCK_SIZE, Range, SegmentMap, cover_items
from reactor.engine._subscription_index import SubscriptionIndex, _Node, _precedes


def reads(*entries: tuple[str, Interval]) -> ReadSet:
    read_set = ReadSet()
    for index, interval in entries:
        read_set.record(index, interval)
    return read_set


K = TypeVar("K", bound=Hashable)


def assert_consistent(subs: SubscriptionIndex[K]) -> None:
    """Check the representation against the subscriptions: right tier, nothing stale."""
    expected: dict[IndexName, dict[Interval, set[K]]] = {}
    for key, read in subs._reads.items():
        for index, interval in read:
            expected.setdefault(index, {}).setdefault(interval, set()).add(key)
    assert set(subs._indexes) == set(expected)
    for index, entries in subs._indexes.items():
        wanted = expected[index]
        assert entries.points == {iv.start: ks for iv, ks in wanted.items() if iv.is_point}
        ranges = {iv: set(r) for iv, r in entries.ranges.items()}
        assert ranges == {iv: ks for iv, ks in wanted.items() if not iv.is_point}
        assert all((r.start, r.end) == (iv.start, iv.end) for iv, r in entries.ranges.items())

        mapped = [r for r in entries.ranges.values() if not r.in_tree]
        assert_segment_map(entries.segments, mapped)

        in_tree = [r for r in entries.ranges.values() if r.in_tree]
        assert sorted(map(id, tree_items(entries.root))) == sorted(map(id, in_tree))


def assert_segment_map(segments: SegmentMap[K], mapped: list[Range[K]]) -> None:
    """The blocks, fences and covers hold exactly the ``mapped`` ranges, block sizes in bounds."""
    refs: dict[bytes, int] = {}
    for r in mapped:
        for bound in (r.start, r.end):
            if bound is not None:
                refs[bound] = refs.get(bound, 0) + 1
    assert segments._refs == refs

    blocks = segments.blocks
    assert len(segments.covers) == len(blocks) == len(segments.fences)
    assert segments.fences == [block[0] for block in blocks]
    assert [len(c) for c in segments.covers] == [len(b) for b in blocks]
    size = segments.block_size
    assert all(0 < len(block) <= 2 * size for block in blocks)
    if len(blocks) > 1:
        assert all(len(block) >= size // 2 for block in blocks)

    bounds = [bound for bound, _ in segments.segments()]
    assert bounds == sorted(refs)
    segment_ends: list[bytes | None] = [*bounds[1:], None] if bounds else []
    spans = dict.fromkeys(map(id, mapped), 0)
    for (lo, cover), hi in zip(segments.segments(), segment_ends, strict=True):
        items = cover_items(cover)
        assert isinstance(cover, Range) or cover is None or len(cover) >= 2, "one is held bare"
        want = {
            id(r)
            for r in mapped
            if r.start <= lo and (r.end is None or (hi is not None and hi <= r.end))
        }
        assert sorted(map(id, items)) == sorted(want)
        assert segments.cover_at(lo) is cover
        assert segments.cover_at(lo + b"\x00") is cover or lo + b"\x00" in refs
        for r in items:
            spans[id(r)] += 1
    assert [r.span for r in mapped] == [spans[id(r)] for r in mapped]
    assert max(spans.values(), default=0) <= segments.span_limit
    if not bounds or bounds[0]:
        assert segments.cover_at(b"") is None  # below every endpoint


def tree_items(node: _Node[K] | None) -> list[Range[K]]:
    """The treap's ranges in order, asserting its order, heap and max-end invariants."""
    if node is None:
        return []
    left, right = tree_items(node.left), tree_items(node.right)
    assert all(_precedes(r, node.item) for r in left)
    assert all(_precedes(node.item, r) for r in right)
    assert all(
        child is None or child.priority <= node.priority for child in (node.left, node.right)
    )
    items = [*left, node.item, *right]
    ends = [r.end for r in items]
    assert node.max_end == (None if None in ends else max(e for e in ends if e is not None))
    return items


def test_a_write_invalidates_the_queries_that_read_its_key() -> None:
    subs: SubscriptionIndex[str] = SubscriptionIndex()
    subs.add("channel 1", reads(("messages.by_channel", Interval(b"c1", b"c2"))))
    subs.add("channel 2", reads(("messages.by_channel", Interval(b"c2", b"c3"))))
    subs.add("message 7", reads(("messages.by_id", Interval.point(b"m7"))))

    assert subs.stab({"messages.by_channel": [b"c1\x01"]}) == {"channel 1"}
    assert subs.stab({"messages.by_channel": [b"c2"], "messages.by_id": [b"m7"]}) == {
        "channel 2",
        "message 7",
    }
    assert subs.stab({"messages.by_id": [b"m8"], "users.by_id": [b"m7"]}) == set()
    assert_consistent(subs)


def test_a_query_is_returned_once_however_many_of_its_keys_are_written() -> None:
    subs: SubscriptionIndex[int] = SubscriptionIndex()
    subs.add(1, reads(("t.by_x", Interval(b"a", b"z")), ("t.by_id", Interval.point(b"1"))))
    assert subs.stab({"t.by_x": [b"b", b"c"], "t.by_id": [b"1"]}) == {1}


def test_a_whole_index_read_sees_every_write_to_that_index() -> None:
    subs: SubscriptionIndex[str] = SubscriptionIndex()
    subs.add("all tasks", reads(("tasks.by_creation_time", Interval.all())))
    for n in range(100):
        subs.add(f"task {n}", reads(("tasks.by_creation_time", Interval.point(b"%03d" % n))))
    assert subs.stab({"tasks.by_creation_time": [b""]}) == {"all tasks"}
    assert subs.stab({"tasks.by_creation_time": [b"042"]}) == {"all tasks", "task 42"}
    assert subs.stab({"tasks.by_id": [b"042"]}) == set()


def test_identical_intervals_share_one_entry() -> None:
    subs: SubscriptionIndex[int] = SubscriptionIndex()
    for client in range(1000):
        subs.add(client, reads(("messages.by_channel", Interval(b"general", b"generam"))))
    assert len(subs) == 1000
    assert subs.interval_count() == 1
    assert subs.stab({"messages.by_channel": [b"general\x00"]}) == set(range(1000))


def test_nested_ranges_stay_correct_past_the_segment_map() -> None:
    # Every range contains the next one: each would cover every segment.
    subs: SubscriptionIndex[int] = SubscriptionIndex(span_limit=4)
    for n in range(50):
        subs.add(n, reads(("events.by_due", Interval(b"%03d" % n, None))))
    assert_consistent(subs)
    assert subs.stab({"events.by_due": [b"010"]}) == set(range(11))
    assert subs.stab({"events.by_due": [b"0"]}) == set()
    for n in range(0, 50, 2):
        subs.remove(n)
    assert subs.stab({"events.by_due": [b"010"]}) == {1, 3, 5, 7, 9}
    assert_consistent(subs)


def test_adding_again_replaces_the_read_set() -> None:
    subs: SubscriptionIndex[str] = SubscriptionIndex()
    subs.add("q", reads(("t.by_x", Interval(b"a", b"c"))))
    subs.add("q", reads(("t.by_x", Interval(b"x", b"z")), ("u.by_id", Interval.point(b"1"))))
    assert subs.stab({"t.by_x": [b"b"]}) == set()
    assert subs.stab({"t.by_x": [b"y"]}) == {"q"}
    assert subs.stab({"u.by_id": [b"1"]}) == {"q"}
    assert len(subs) == 1
    assert subs.interval_count() == 2


def test_the_read_set_is_copied_on_add() -> None:
    subs: SubscriptionIndex[str] = SubscriptionIndex()
    read_set = reads(("t.by_x", Interval(b"a", b"c")))
    subs.add("q", read_set)
    read_set.record("t.by_x", Interval(b"x", b"z"))
    assert subs.stab({"t.by_x": [b"y"]}) == set()


def test_removing_everything_leaves_nothing_behind() -> None:
    subs: SubscriptionIndex[int] = SubscriptionIndex(span_limit=2)
    for n in range(30):
        subs.add(
            n,
            reads(
                ("t.by_x", Interval(b"%02d" % n, b"%02d" % (n + 5))),
                ("t.by_id", Interval.point(b"%d" % (n % 7))),
                ("t.by_y", Interval.all()),
            ),
        )
    assert subs.interval_count() == 30 + 7 + 1
    for n in range(30):
        subs.remove(n)
    assert len(subs) == 0
    assert subs.interval_count() == 0
    assert_consistent(subs)


def test_removing_an_unknown_subscription_is_an_error() -> None:
    subs: SubscriptionIndex[str] = SubscriptionIndex()
    with pytest.raises(KeyError):
        subs.remove("nope")


def test_a_subscription_that_read_nothing_is_never_invalidated() -> None:
    subs: SubscriptionIndex[str] = SubscriptionIndex()
    subs.add("constant", ReadSet())
    assert "constant" in subs
    assert subs.stab({"t.by_id": [b"1"]}) == set()


def test_many_disjoint_ranges_across_blocks() -> None:
    # Enough endpoints for the segment map to split blocks, then merge them
    # back as ranges go, in an order unrelated to the keys.
    subs: SubscriptionIndex[int] = SubscriptionIndex(block_size=4)
    order = list(range(300))
    random.Random(7).shuffle(order)
    for n in order:
        subs.add(n, reads(("t.by_x", Interval(b"%04d" % (10 * n), b"%04d" % (10 * n + 5)))))
    assert len(subs._indexes["t.by_x"].segments.blocks) > 10
    assert_consistent(subs)
    for n in range(300):
        assert subs.stab({"t.by_x": [b"%04d" % (10 * n + 2)]}) == {n}
        assert subs.stab({"t.by_x": [b"%04d" % (10 * n + 5)]}) == set()
    for n in order[:290]:
        subs.remove(n)
    assert_consistent(subs)
    assert subs.stab({"t.by_x": [b"%04d" % (10 * n + 4) for n in range(300)]}) == set(order[290:])


# -- against a brute-force reference ------------------------------------------------------

INDEXES = ("a.by_x", "b.by_x")
# Few distinct short keys, so that intervals share endpoints and nest.
short_keys = st.lists(st.sampled_from([0, 1, 2, 255]), max_size=3).map(bytes)
# Keys as index keys look: long shared prefixes, some shorter than 8 bytes
# (the empty key too), some equal over their first 8 bytes and apart after.
long_keys = st.builds(
    bytes.__add__,
    st.sampled_from([b"", b"\x10", b"\x10user_a", b"\x10user_ab\x00\x01", b"\x10user_abcdefgh"]),
    short_keys,
)


def brute_force_machine(
    keys: st.SearchStrategy[bytes],
    *,
    span_limit: int = 32,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> type[RuleBasedStateMachine]:
    """Random adds, removes and stabs, checked against each read set's own ``conflicts_with``."""
    intervals = st.one_of(
        keys.map(Interval.point),
        st.builds(Interval, keys, st.none() | keys),
        st.just(Interval.all()),
    )
    read_sets = st.lists(st.tuples(st.sampled_from(INDEXES), intervals), max_size=4).map(
        lambda entries: reads(*entries)
    )
    writes = st.dictionaries(st.sampled_from(INDEXES), st.lists(keys, max_size=4))

    class Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.subs: SubscriptionIndex[int] = SubscriptionIndex(
                span_limit=span_limit, block_size=block_size
            )
            self.model: dict[int, ReadSet] = {}

        @rule(key=st.integers(0, 12), read_set=read_sets)
        def add(self, key: int, read_set: ReadSet) -> None:
            self.subs.add(key, read_set)
            self.model[key] = read_set.copy()

        @rule(key=st.integers(0, 12))
        def remove(self, key: int) -> None:
            if key in self.model:
                self.subs.remove(key)
                del self.model[key]
            else:
                with pytest.raises(KeyError):
                    self.subs.remove(key)

        @rule(written=writes)
        def stab(self, written: dict[str, list[bytes]]) -> None:
            assert self.subs.stab(written) == self.expected(written)

        @rule()
        def stab_at_every_endpoint(self) -> None:
            # Off-by-one errors live at the ends: the first key in, the first key out.
            for index in INDEXES:
                probes: set[bytes] = {b""}
                for read_set in self.model.values():
                    for interval in read_set.get(index, ()):
                        probes.update((interval.start, interval.start + b"\x00"))
                        if interval.end is not None:
                            probes.update((interval.end, interval.end + b"\x00"))
                for key in probes:
                    assert self.subs.stab({index: [key]}) == self.expected({index: [key]})

        def expected(self, written: dict[str, list[bytes]]) -> set[int]:
            return {k for k, r in self.model.items() if r.conflicts_with(written) is not None}

        @invariant()
        def consistent(self) -> None:
            assert len(self.subs) == len(self.model)
            assert_consistent(self.subs)

        def teardown(self) -> None:
            for key in list(self.model):
                self.subs.remove(key)
            assert self.subs.interval_count() == 0
            assert_consistent(self.subs)

    return Machine


run = settings(max_examples=150, stateful_step_count=50)
TestSubscriptionIndex = brute_force_machine(short_keys).TestCase
TestSubscriptionIndex.settings = run
# Ranges overflow the segment map early and migrate to the tree on splits.
TestTightSpan = brute_force_machine(short_keys, span_limit=2).TestCase
TestTightSpan.settings = run
# Every range goes straight to the tree.
TestTreeOnly = brute_force_machine(short_keys, span_limit=0).TestCase
TestTreeOnly.settings = run
# Blocks of 2 to 8 endpoints: splits, merges and fences at every few endpoints.
TestSmallBlocks = brute_force_machine(short_keys, block_size=4).TestCase
TestSmallBlocks.settings = run
# Blocks of 1 or 2 endpoints, never merged: a fence per block at most two apart.
TestTinyBlocks = brute_force_machine(short_keys, block_size=1).TestCase
TestTinyBlocks.settings = run
TestLongKeys = brute_force_machine(long_keys).TestCase
TestLongKeys.settings = run
TestLongKeysSmallBlocks = brute_force_machine(long_keys, block_size=4).TestCase
TestLongKeysSmallBlocks.settings = run
