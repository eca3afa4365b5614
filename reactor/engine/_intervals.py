"""Byte intervals over index keys, and the read set built from them.

Every index entry is an order-preserving byte key, so whatever a transaction
read in an index is a set of half-open byte intervals. The committer checks
written keys against a read set (OCC) and live queries register theirs with
the subscription index.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

__all__ = ["IndexName", "Interval", "IntervalSet", "ReadSet"]

IndexName = str
"""Qualified index name, e.g. ``"messages.by_channel"``."""


@dataclass(frozen=True, slots=True)
class Interval:
    """The keys ``k`` with ``start <= k < end``; ``end=None`` means no upper bound."""

    start: bytes
    end: bytes | None

    @staticmethod
    def point(key: bytes) -> Interval:
        # key + NUL is the smallest byte string above key.
        return Interval(key, key + b"\x00")

    @staticmethod
    def all() -> Interval:
        return Interval(b"", None)

    @property
    def is_empty(self) -> bool:
        return self.end is not None and self.end <= self.start

    @property
    def is_point(self) -> bool:
        """True when exactly one key lies in the interval."""
        return self.end == self.start + b"\x00"

    def contains(self, key: bytes) -> bool:
        return self.start <= key and (self.end is None or key < self.end)


class IntervalSet:
    """A union of intervals, kept sorted, merged and free of empty intervals.

    Stored as two parallel lists so that membership is one C-level bisect.
    Touching intervals are merged too, so the representation is canonical and
    equality is structural.
    """

    __slots__ = ("_ends", "_starts")

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        self._starts: list[bytes] = []
        # Strictly increasing; only the last one may be None (unbounded).
        self._ends: list[bytes | None] = []
        for interval in intervals:
            self.add(interval)

    def add(self, interval: Interval) -> None:
        if interval.is_empty:
            return
        start, end = interval.start, interval.end
        starts, ends = self._starts, self._ends
        lo = bisect_left(starts, start)
        if lo > 0:
            previous_end = ends[lo - 1]
            if previous_end is None or previous_end >= start:
                lo -= 1
        # Every interval starting at or before `end` overlaps or touches.
        hi = len(starts) if end is None else bisect_right(starts, end)
        if lo < hi:
            start = min(start, starts[lo])
            last_end = ends[hi - 1]
            if end is not None and (last_end is None or last_end > end):
                end = last_end
        starts[lo:hi] = [start]
        ends[lo:hi] = [end]

    @classmethod
    def point(cls, key: bytes) -> IntervalSet:
        """The set of the one key ``key`` (what a ``db.get`` reads), built directly."""
        result = cls()
        result._starts.append(key)
        result._ends.append(key + b"\x00")
        return result

    def contains(self, key: bytes) -> bool:
        i = bisect_right(self._starts, key) - 1
        if i < 0:
            return False
        end = self._ends[i]
        return end is None or key < end

    def overlaps(self, interval: Interval) -> bool:
        """Whether some key lies both in this set and in ``interval``."""
        if interval.is_empty:
            return False
        # The only candidates: the last interval starting at or before
        # interval.start, and the first one starting after it.
        i = bisect_right(self._starts, interval.start)
        if i > 0:
            end = self._ends[i - 1]
            if end is None or end > interval.start:
                return True
        return i < len(self._starts) and (interval.end is None or self._starts[i] < interval.end)

    def union(self, other: IntervalSet) -> IntervalSet:
        result = self.copy()
        result.update(other)
        return result

    def update(self, other: IntervalSet) -> None:
        """In-place union."""
        for interval in other:
            self.add(interval)

    def copy(self) -> IntervalSet:
        result = IntervalSet()
        result._starts = self._starts.copy()
        result._ends = self._ends.copy()
        return result

    @property
    def intervals(self) -> tuple[Interval, ...]:
        return tuple(self)

    def __iter__(self) -> Iterator[Interval]:
        return map(Interval, self._starts, self._ends)

    def __len__(self) -> int:
        return len(self._starts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntervalSet):
            return NotImplemented
        return self._starts == other._starts and self._ends == other._ends

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"IntervalSet({list(self)!r})"


class ReadSet(Mapping[IndexName, IntervalSet]):
    """What a function consumed: per index, the intervals of keys it depends on.

    Indexes map only to non-empty interval sets, so ``len`` and truthiness
    count the indexes actually read.
    """

    __slots__ = ("_sets",)

    def __init__(self) -> None:
        self._sets: dict[IndexName, IntervalSet] = {}

    def record(self, index: IndexName, interval: Interval) -> None:
        if interval.is_empty:
            return
        intervals = self._sets.get(index)
        if intervals is None:
            intervals = self._sets[index] = IntervalSet()
        intervals.add(interval)

    def record_point(self, index: IndexName, key: bytes) -> None:
        intervals = self._sets.get(index)
        if intervals is None:
            self._sets[index] = IntervalSet.point(key)
        else:
            intervals.add(Interval.point(key))

    def contains(self, index: IndexName, key: bytes) -> bool:
        intervals = self._sets.get(index)
        return intervals is not None and intervals.contains(key)

    def conflicts_with(self, writes: Mapping[IndexName, Iterable[bytes]]) -> IndexName | None:
        """The first index (in ``writes`` order) where a written key was read, if any."""
        if len(self._sets) < len(writes):
            # Walk the smaller side: a small read set against a wide commit.
            hit = [
                index
                for index, intervals in self._sets.items()
                if (keys := writes.get(index)) is not None
                and any(intervals.contains(key) for key in keys)
            ]
            if not hit:
                return None
            return next(index for index in writes if index in hit)
        for index, keys in writes.items():
            intervals = self._sets.get(index)
            if intervals is not None and any(intervals.contains(key) for key in keys):
                return index
        return None

    def merge(self, other: ReadSet) -> None:
        """Add everything ``other`` read (a nested query's reads belong to its caller)."""
        for index, intervals in other._sets.items():
            mine = self._sets.get(index)
            if mine is None:
                self._sets[index] = intervals.copy()
            else:
                mine.update(intervals)

    def copy(self) -> ReadSet:
        result = ReadSet()
        result._sets = {index: intervals.copy() for index, intervals in self._sets.items()}
        return result

    def indexes(self) -> tuple[IndexName, ...]:
        return tuple(self._sets)

    def interval_count(self) -> int:
        return sum(len(intervals) for intervals in self._sets.values())

    def __getitem__(self, index: IndexName) -> IntervalSet:
        return self._sets[index]

    def __iter__(self) -> Iterator[IndexName]:
        return iter(self._sets)

    def __len__(self) -> int:
        return len(self._sets)

    def __bool__(self) -> bool:
        return bool(self._sets)

    def __repr__(self) -> str:
        return f"ReadSet({self._sets!r})"
