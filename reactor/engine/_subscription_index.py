"""Which live queries does a commit invalidate?

Every live query registers its read set; a commit stabs the structure with
the keys it wrote and gets back the queries whose read set holds one of
them, in O(log n + matches) per written key, never O(subscriptions).

Per index, an interval lives in one of three tiers, by shape:

* a point (``db.get``, by far the most common read) sits in a dict:
  O(1) to stab, add or remove;
* a range over few elementary segments sits in a segment map
  (``_segment_map``): the sorted distinct endpoints cut the key space into
  segments, each holding the ranges that cover it, so a stab is a bisect of
  a short fence list then of one block, O(log n + matches); adding or
  removing a range is the same plus a block insert or delete and
  O(span_limit) cover updates;
* a range that would cover more than ``span_limit`` segments (nested or
  unbounded ranges, where copying into every segment would cost
  O(subscriptions) per insert) sits in a treap ordered by (start, end) and
  annotated with the greatest end of each subtree, like Convex's IntervalMap:
  O(log n) expected to add or remove, O((1 + matches) log n) to stab.

Identical intervals share one entry holding all their subscribers, so a
thousand clients on the same query cost one range, not a thousand.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

from reactor.engine._intervals import IndexName, Interval, ReadSet
from reactor.engine._segment_map import DEFAULT_BLOCK_SIZE, Range, SegmentMap

__all__ = ["DEFAULT_SPAN_LIMIT", "SubscriptionIndex"]

K = TypeVar("K", bound=Hashable)

DEFAULT_SPAN_LIMIT = 32
"""Segments a range may cover before it moves to the treap.

It bounds the memory of a range (and the set a segment split copies), while
staying above what ordinary, mostly disjoint query ranges reach.
"""


class SubscriptionIndex(Generic[K]):
    """Live subscriptions keyed by ``K``, each with the read set it depends on."""

    __slots__ = ("_block_size", "_indexes", "_reads", "_span_limit")

    def __init__(
        self, *, span_limit: int = DEFAULT_SPAN_LIMIT, block_size: int = DEFAULT_BLOCK_SIZE
    ) -> None:
        self._span_limit = span_limit
        self._block_size = block_size
        # A frozen copy: the caller may go on mutating its ReadSet.
        self._reads: dict[K, frozenset[tuple[IndexName, Interval]]] = {}
        self._indexes: dict[IndexName, _IndexSubscriptions[K]] = {}

    def add(self, key: K, read_set: ReadSet) -> None:
        """Subscribe ``key``, replacing the read set it had, if any."""
        new = frozenset((index, iv) for index, ivs in read_set.items() for iv in ivs)
        old = self._reads.get(key, frozenset())
        # Only the difference is touched: a re-run query usually reads the same ranges.
        for index, interval in old - new:
            self._detach(index, interval, key)
        for index, interval in new - old:
            entries = self._indexes.get(index)
            if entries is None:
                entries = self._indexes[index] = _IndexSubscriptions(
                    self._span_limit, self._block_size
                )
            entries.attach(interval, key)
        self._reads[key] = new

    def remove(self, key: K) -> None:
        """Unsubscribe ``key``; KeyError if it is not subscribed."""
        for index, interval in self._reads.pop(key):
            self._detach(index, interval, key)

    def stab(self, writes: Mapping[IndexName, Iterable[bytes]]) -> set[K]:
        """Every subscription whose read set contains one of the written keys."""
        # One Python call per commit: the three tiers are walked inline, the
        # segment map's lookup included (``SegmentMap.cover_at`` spelled out):
        # calls per index and per tier cost ~0.2 of a 1.6 µs stab.
        hits: set[K] = set()
        indexes = self._indexes
        for index, keys in writes.items():
            entries = indexes.get(index)
            if entries is None:
                continue
            points, root, segments = entries.points, entries.root, entries.segments
            fences, blocks, covers = segments.fences, segments.blocks, segments.covers
            for key in keys:
                if points:
                    subscribers = points.get(key)
                    if subscribers is not None:
                        hits.update(subscribers)
                j = bisect_right(fences, key) - 1
                if j >= 0:
                    cover = covers[j][bisect_right(blocks[j], key) - 1]
                    if cover is not None:
                        if isinstance(cover, Range):
                            hits.update(cover)
                        else:
                            for item in cover:
                                hits.update(item)
                if root is not None:
                    _stab(root, key, hits)
        return hits

    def interval_count(self) -> int:
        """Distinct intervals held: identical intervals of several subscriptions count once."""
        return sum(len(e.points) + len(e.ranges) for e in self._indexes.values())

    def __len__(self) -> int:
        return len(self._reads)

    def __contains__(self, key: object) -> bool:
        return key in self._reads

    def _detach(self, index: IndexName, interval: Interval, key: K) -> None:
        entries = self._indexes[index]
        entries.detach(interval, key)
        if not entries:
            del self._indexes[index]


class _IndexSubscriptions(Generic[K]):
    __slots__ = ("points", "ranges", "root", "segments")

    def __init__(self, span_limit: int, block_size: int) -> None:
        self.points: dict[bytes, set[K]] = {}
        self.ranges: dict[Interval, Range[K]] = {}
        self.segments: SegmentMap[K] = SegmentMap(span_limit, block_size)
        self.root: _Node[K] | None = None

    def __bool__(self) -> bool:
        return bool(self.points or self.ranges)

    def attach(self, interval: Interval, key: K) -> None:
        if interval.is_point:
            self.points.setdefault(interval.start, set()).add(key)
            return
        item = self.ranges.get(interval)
        if item is None:
            item = self.ranges[interval] = Range(interval.start, interval.end)
            overflow = self.segments.insert(item)
            # Too wide for the segment map, or pushed out by item's endpoints.
            for other in [item] if overflow is None else overflow:
                other.in_tree = True
                self.root = _insert(self.root, _Node(other))
        item.add(key)

    def detach(self, interval: Interval, key: K) -> None:
        if interval.is_point:
            subscribers = self.points[interval.start]
            subscribers.remove(key)
            if not subscribers:
                del self.points[interval.start]
            return
        item = self.ranges[interval]
        item.remove(key)
        if not item:
            del self.ranges[interval]
            if item.in_tree:
                self.root = _delete(self.root, item)
            else:
                self.segments.remove(item)


# -- the treap ---------------------------------------------------------------------------


class _Node(Generic[K]):
    __slots__ = ("item", "left", "max_end", "priority", "right")

    def __init__(self, item: Range[K]) -> None:
        self.item = item
        # A hash, not a random draw: the shape depends only on the contents.
        self.priority = hash((item.start, item.end))
        self.left: _Node[K] | None = None
        self.right: _Node[K] | None = None
        self.max_end = item.end
        """Greatest end in this subtree; None is unbounded."""


def _precedes(a: Range[K], b: Range[K]) -> bool:
    if a.start != b.start:
        return a.start < b.start
    return b.end is None or (a.end is not None and a.end < b.end)


def _pull(node: _Node[K]) -> None:
    end = node.item.end
    for child in (node.left, node.right):
        if child is not None and end is not None:
            end = None if child.max_end is None else max(end, child.max_end)
    node.max_end = end


def _split(node: _Node[K] | None, item: Range[K]) -> tuple[_Node[K] | None, _Node[K] | None]:
    """Split into the nodes preceding ``item`` and the others."""
    if node is None:
        return None, None
    if _precedes(node.item, item):
        node.right, after = _split(node.right, item)
        _pull(node)
        return node, after
    before, node.left = _split(node.left, item)
    _pull(node)
    return before, node


def _join(a: _Node[K] | None, b: _Node[K] | None) -> _Node[K] | None:
    """Join two treaps, every item of ``a`` preceding every item of ``b``."""
    if a is None:
        return b
    if b is None:
        return a
    if a.priority > b.priority:
        a.right = _join(a.right, b)
        _pull(a)
        return a
    b.left = _join(a, b.left)
    _pull(b)
    return b


def _insert(node: _Node[K] | None, new: _Node[K]) -> _Node[K]:
    if node is None:
        return new
    if new.priority > node.priority:
        new.left, new.right = _split(node, new.item)
        _pull(new)
        return new
    if _precedes(new.item, node.item):
        node.left = _insert(node.left, new)
    else:
        node.right = _insert(node.right, new)
    _pull(node)
    return node


def _delete(node: _Node[K] | None, item: Range[K]) -> _Node[K] | None:
    assert node is not None, "range not in the tree"
    if node.item is item:
        return _join(node.left, node.right)
    if _precedes(item, node.item):
        node.left = _delete(node.left, item)
    else:
        node.right = _delete(node.right, item)
    _pull(node)
    return node


def _stab(root: _Node[K], key: bytes, hits: set[K]) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.max_end is not None and node.max_end <= key:
            continue  # nothing below reaches key
        item = node.item
        if node.left is not None:
            stack.append(node.left)
        if item.start <= key:
            if item.end is None or key < item.end:
                hits.update(item)
            if node.right is not None:
                stack.append(node.right)
