"""Which live queries does a commit invalidate?

Every live query registers its read set; a commit stabs the structure with
the keys it wrote and gets back the queries whose read set holds one of
them, in O(log n + matches) per written key, never O(subscriptions).

Per index, an interval lives in one of three tiers, by shape:

* a point (``db.get``, by far the most common read) sits in a dict:
  O(1) to stab, add or remove;
* a range over few elementary segments sits in a segment map: the sorted
  distinct endpoints cut the key space into segments, each holding the
  ranges that cover it, so a stab is one bisect, O(log n + matches); adding
  or removing a range is a bisect plus a list insert or delete (a memmove,
  O(n) but fast) plus O(span_limit) set updates;
* a range that would cover more than ``span_limit`` segments (nested or
  unbounded ranges, where copying into every segment would cost
  O(subscriptions) per insert) sits in a treap ordered by (start, end) and
  annotated with the greatest end of each subtree, like Convex's IntervalMap:
  O(log n) expected to add or remove, O((1 + matches) log n) to stab.

Identical intervals share one entry holding all their subscribers, so a
thousand clients on the same query cost one range, not a thousand.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

from reactor.engine._intervals import IndexName, Interval, ReadSet

__all__ = ["DEFAULT_SPAN_LIMIT", "SubscriptionIndex"]

K = TypeVar("K", bound=Hashable)

DEFAULT_SPAN_LIMIT = 32
"""Segments a range may cover before it moves to the treap.

It bounds the memory of a range (and the set a segment split copies), while
staying above what ordinary, mostly disjoint query ranges reach.
"""


class SubscriptionIndex(Generic[K]):
    """Live subscriptions keyed by ``K``, each with the read set it depends on."""

    __slots__ = ("_indexes", "_reads", "_span_limit")

    def __init__(self, *, span_limit: int = DEFAULT_SPAN_LIMIT) -> None:
        self._span_limit = span_limit
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
                entries = self._indexes[index] = _IndexSubscriptions(self._span_limit)
            entries.attach(interval, key)
        self._reads[key] = new

    def remove(self, key: K) -> None:
        """Unsubscribe ``key``; KeyError if it is not subscribed."""
        for index, interval in self._reads.pop(key):
            self._detach(index, interval, key)

    def stab(self, writes: Mapping[IndexName, Iterable[bytes]]) -> set[K]:
        """Every subscription whose read set contains one of the written keys."""
        hits: set[K] = set()
        for index, keys in writes.items():
            entries = self._indexes.get(index)
            if entries is not None:
                entries.stab(keys, hits)
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


class _Range(Generic[K]):
    """A distinct non-point interval of one index and the subscriptions that read it."""

    __slots__ = ("end", "in_tree", "span", "start", "subscribers")

    def __init__(self, start: bytes, end: bytes | None) -> None:
        self.start = start
        self.end = end
        self.subscribers: set[K] = set()
        self.span = 0
        """Segments covered, while in the segment map."""
        self.in_tree = False


class _IndexSubscriptions(Generic[K]):
    __slots__ = ("bounds", "cover", "points", "ranges", "refs", "root", "span_limit")

    def __init__(self, span_limit: int) -> None:
        self.span_limit = span_limit
        self.points: dict[bytes, set[K]] = {}
        self.ranges: dict[Interval, _Range[K]] = {}
        # Segment map. Segment i is [bounds[i], bounds[i + 1]), the last one
        # unbounded; cover maps a segment's first bound to the mapped ranges
        # containing it (absent when none, and a dict rather than a list
        # parallel to bounds, so that a new bound moves one list, not two);
        # refs counts the mapped ranges starting or ending at each bound.
        self.bounds: list[bytes] = []
        self.cover: dict[bytes, set[_Range[K]]] = {}
        self.refs: dict[bytes, int] = {}
        self.root: _Node[K] | None = None

    def __bool__(self) -> bool:
        return bool(self.points or self.ranges)

    def attach(self, interval: Interval, key: K) -> None:
        if interval.is_point:
            self.points.setdefault(interval.start, set()).add(key)
            return
        item = self.ranges.get(interval)
        if item is None:
            item = self.ranges[interval] = _Range(interval.start, interval.end)
            self._insert(item)
        item.subscribers.add(key)

    def detach(self, interval: Interval, key: K) -> None:
        if interval.is_point:
            subscribers = self.points[interval.start]
            subscribers.remove(key)
            if not subscribers:
                del self.points[interval.start]
            return
        item = self.ranges[interval]
        item.subscribers.remove(key)
        if not item.subscribers:
            del self.ranges[interval]
            if item.in_tree:
                self.root = _delete(self.root, item)
            else:
                self._unmap(item)

    def stab(self, keys: Iterable[bytes], hits: set[K]) -> None:
        points, bounds, cover, root = self.points, self.bounds, self.cover, self.root
        for key in keys:
            subscribers = points.get(key)
            if subscribers is not None:
                hits.update(subscribers)
            i = bisect_right(bounds, key)
            if i:
                segment = cover.get(bounds[i - 1])
                if segment is not None:
                    for item in segment:
                        hits.update(item.subscribers)
            if root is not None:
                _stab(root, key, hits)

    def _insert(self, item: _Range[K]) -> None:
        lo, hi = self._segments(item)
        if hi - lo + (item.start not in self.refs) > self.span_limit:
            self._plant(item)
            return
        overflow: list[_Range[K]] = []
        self._ref(item.start, overflow)
        if item.end is not None:
            self._ref(item.end, overflow)
        for other in overflow:
            if not other.in_tree:  # listed once per split it overflowed on
                self._unmap(other)
                self._plant(other)
        lo, hi = self._segments(item)
        for bound in self.bounds[lo:hi]:
            segment = self.cover.get(bound)
            if segment is None:
                segment = self.cover[bound] = set()
            segment.add(item)
        item.span = hi - lo

    def _plant(self, item: _Range[K]) -> None:
        item.in_tree = True
        self.root = _insert(self.root, _Node(item))

    def _unmap(self, item: _Range[K]) -> None:
        lo, hi = self._segments(item)
        for bound in self.bounds[lo:hi]:
            segment = self.cover[bound]
            segment.remove(item)
            if not segment:
                del self.cover[bound]
        self._unref(item.start)
        if item.end is not None:
            self._unref(item.end)

    def _segments(self, item: _Range[K]) -> tuple[int, int]:
        """The slice of segments inside ``item`` (its ends being bounds already or not)."""
        lo = bisect_left(self.bounds, item.start)
        hi = len(self.bounds) if item.end is None else bisect_left(self.bounds, item.end)
        return lo, hi

    def _ref(self, bound: bytes, overflow: list[_Range[K]]) -> None:
        count = self.refs.get(bound, 0)
        self.refs[bound] = count + 1
        if count:
            return
        i = bisect_left(self.bounds, bound)
        # The new segment is the upper part of the one it splits.
        split = self.cover.get(self.bounds[i - 1]) if i else None
        if split is not None:
            self.cover[bound] = set(split)
            for item in split:
                item.span += 1
                if item.span > self.span_limit:
                    overflow.append(item)
        self.bounds.insert(i, bound)

    def _unref(self, bound: bytes) -> None:
        count = self.refs[bound] - 1
        if count:
            self.refs[bound] = count
            return
        del self.refs[bound]
        i = bisect_left(self.bounds, bound)
        del self.bounds[i]
        # No mapped range starts or ends here any more, so this segment has the
        # same cover as the one below it (or none, if it was the first).
        for item in self.cover.pop(bound, ()):
            item.span -= 1


# -- the treap ---------------------------------------------------------------------------


class _Node(Generic[K]):
    __slots__ = ("item", "left", "max_end", "priority", "right")

    def __init__(self, item: _Range[K]) -> None:
        self.item = item
        # A hash, not a random draw: the shape depends only on the contents.
        self.priority = hash((item.start, item.end))
        self.left: _Node[K] | None = None
        self.right: _Node[K] | None = None
        self.max_end = item.end
        """Greatest end in this subtree; None is unbounded."""


def _precedes(a: _Range[K], b: _Range[K]) -> bool:
    if a.start != b.start:
        return a.start < b.start
    return b.end is None or (a.end is not None and a.end < b.end)


def _pull(node: _Node[K]) -> None:
    end = node.item.end
    for child in (node.left, node.right):
        if child is not None and end is not None:
            end = None if child.max_end is None else max(end, child.max_end)
    node.max_end = end


def _split(node: _Node[K] | None, item: _Range[K]) -> tuple[_Node[K] | None, _Node[K] | None]:
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


def _delete(node: _Node[K] | None, item: _Range[K]) -> _Node[K] | None:
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
                hits.update(item.subscribers)
            if node.right is not None:
                stack.append(node.right)
