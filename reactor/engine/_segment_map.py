"""The segment map of the subscription index: ranges over few segments each.

The sorted distinct endpoints of the mapped ranges cut an index's key space
into segments, each holding the ranges that cover it; a stab finds the
segment holding a key and reports the subscribers of its ranges.

The layout is about memory more than operation counts: at 100k endpoints a
stab's cost is its cache misses, not its comparisons.

* Endpoints sit in blocks of ``block_size // 2`` to ``2 * block_size``
  behind a short list of each block's first endpoint (its fence): a stab
  bisects the fences (few, and hit by every stab: cached), then one block.
  Adding or removing an endpoint moves one block, not a list of all of them.
* A block's keys are copies made together when the block is split or
  merged, so they lie side by side in memory; the endpoints themselves are
  the read sets' objects, scattered among everything else a subscription
  allocates, and every late probe of a binary search over them missed.
* A segment's cover sits in a list parallel to its block (one load from
  the position the bisect found, where a dict keyed by endpoint cost two),
  and a segment covered by one range, the usual case, holds that range
  bare; a range is itself the set of its subscribers. From endpoint to
  subscribers is three dependent loads where it was six.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar, cast

__all__ = ["DEFAULT_BLOCK_SIZE", "Cover", "Overlap", "Range", "SegmentMap"]

K = TypeVar("K", bound=Hashable)

DEFAULT_BLOCK_SIZE = 1024
"""Endpoints per block: from half of it to twice it, but for a lone block.

Blocks this big keep the fences (and the block lists' headers) few enough
to stay cached, about a hundred at 100k endpoints, while moving one on an
insert stays cheap (16 KiB at most). Smaller blocks measured slower stabs.
"""


class Range(set[K], Generic[K]):
    """A distinct non-point interval of one index: the set of subscriptions reading it.

    A set itself rather than an object holding one, to save a stab a hop.
    Ranges are told apart by identity, never by set equality: two ranges
    with the same subscribers are still two ranges.
    """

    __slots__ = ("end", "in_tree", "span", "start")

    __hash__ = object.__hash__  # type: ignore[assignment]
    __eq__ = object.__eq__
    __ne__ = object.__ne__

    def __init__(self, start: bytes, end: bytes | None) -> None:
        super().__init__()
        self.start = start
        self.end = end
        self.span = 0
        """Segments covered, while in the segment map."""
        self.in_tree = False


class Overlap(set[Range[K]], Generic[K]):
    """Two or more mapped ranges containing one segment."""

    __slots__ = ()


Cover = Range[K] | Overlap[K] | None
"""The mapped ranges containing a segment: none, the one range, or an ``Overlap``.

One range is held bare: it is the usual case (disjoint ranges), and it saves
a stab a hop and a set per segment.
"""


def cover_items(cover: Cover[K]) -> set[Range[K]]:
    """The ranges of a cover, as a set (for tests)."""
    if cover is None:
        return set()
    if isinstance(cover, Range):
        return {cover}
    return cover


class SegmentMap(Generic[K]):
    """Ranges of one index by the segments they cover; each covers at most ``span_limit``."""

    __slots__ = ("_refs", "block_size", "blocks", "covers", "fences", "span_limit")

    def __init__(self, span_limit: int, block_size: int = DEFAULT_BLOCK_SIZE) -> None:
        self.span_limit = span_limit
        self.block_size = max(block_size, 1)
        # Segment (j, i) is [blocks[j][i], the next endpoint), the last one
        # unbounded, and covers[j][i] holds the ranges containing it.
        # fences[j] == blocks[j][0]; no block is empty. A block's endpoints
        # are the copies made at its last split or merge (see _compact) and
        # the endpoints inserted since; they compare equal to the originals.
        self.fences: list[bytes] = []
        self.blocks: list[list[bytes]] = []
        self.covers: list[list[Cover[K]]] = []
        # How many mapped ranges start or end at each endpoint.
        self._refs: dict[bytes, int] = {}

    def __bool__(self) -> bool:
        return bool(self._refs)

    def cover_at(self, key: bytes) -> Cover[K]:
        """The ranges containing ``key``.

        ``SubscriptionIndex.stab`` spells this lookup out inline, for speed.
        """
        j = bisect_right(self.fences, key) - 1
        if j < 0:
            return None  # below every endpoint: no range holds it
        return self.covers[j][bisect_right(self.blocks[j], key) - 1]

    def insert(self, item: Range[K]) -> list[Range[K]] | None:
        """Map ``item``; None if it would cover too many segments (it is left out).

        Otherwise the ranges that its new endpoints pushed over the span limit:
        they are unmapped, for the caller to keep elsewhere.
        """
        limit = self.span_limit
        runs = self._runs(item.start, item.end, limit)
        span = sum(stop - first for _, first, stop in runs)
        if span + (item.start not in self._refs) > limit:
            return None
        overflow: list[Range[K]] = []
        self._ref(item.start, overflow)
        if item.end is not None:
            self._ref(item.end, overflow)
        moved = []
        for other in overflow:
            if other.span > limit:  # listed once per split it overflowed on
                self.remove(other)
                other.span = 0
                moved.append(other)
        item.span = 0
        for j, first, stop in self._runs(item.start, item.end):
            covers = self.covers[j]
            for i in range(first, stop):
                cover = covers[i]
                if cover is None:
                    covers[i] = item
                elif isinstance(cover, Range):
                    covers[i] = Overlap((cover, item))
                else:
                    cover.add(item)
            item.span += stop - first
        return moved

    def remove(self, item: Range[K]) -> None:
        for j, first, stop in self._runs(item.start, item.end):
            covers = self.covers[j]
            # Every segment here holds item: bare, or in an Overlap with others.
            overlaps = cast("list[Overlap[K]]", covers)
            for i in range(first, stop):
                if covers[i] is item:
                    covers[i] = None
                    continue
                overlap = overlaps[i]
                overlap.remove(item)
                if len(overlap) == 1:
                    covers[i] = next(iter(overlap))
        self._unref(item.start)
        if item.end is not None:
            self._unref(item.end)

    def segments(self) -> Iterator[tuple[bytes, Cover[K]]]:
        """Every segment's first endpoint and cover, in order (for tests)."""
        for block, covers in zip(self.blocks, self.covers, strict=True):
            yield from zip(block, covers, strict=True)

    def _runs(
        self, start: bytes, end: bytes | None, limit: int | None = None
    ) -> list[tuple[int, int, int]]:
        """The segments inside [start, end) as runs (block, first, stop) of each block.

        ``start`` need not be an endpoint. With ``limit``, the runs stop once
        they hold more than ``limit`` segments: enough to tell that a range is
        too wide, in O(limit) however many segments it would cover.
        """
        blocks, fences = self.blocks, self.fences
        if not blocks:
            return []
        j = bisect_right(fences, start) - 1
        if j < 0:
            j = 0
        first = bisect_left(blocks[j], start)
        if end is None:
            last = len(blocks) - 1
            last_stop = len(blocks[last])
        else:
            last = bisect_right(fences, end, j) - 1
            if last < j:
                last = j
            last_stop = bisect_left(blocks[last], end)
        if j == last:  # the usual case: one block
            return [(j, first, last_stop)] if last_stop > first else []
        runs = []
        count = 0
        while True:
            stop = last_stop if j == last else len(blocks[j])
            if stop > first:
                runs.append((j, first, stop))
                count += stop - first
            if j == last or (limit is not None and count > limit):
                return runs
            j, first = j + 1, 0

    def _ref(self, bound: bytes, overflow: list[Range[K]]) -> None:
        count = self._refs.get(bound, 0)
        self._refs[bound] = count + 1
        if count:
            return
        fences, blocks, covers = self.fences, self.blocks, self.covers
        if not blocks:
            fences.append(bound)
            blocks.append([bound])
            covers.append([None])
            return
        j = max(bisect_right(fences, bound) - 1, 0)
        block = blocks[j]
        i = bisect_left(block, bound)
        # The new segment is the upper part of the one it splits. (i is 0 only
        # below every endpoint, where nothing is covered: fences[j] <= bound.)
        split = covers[j][i - 1] if i else None
        if split is not None:
            for item in (split,) if isinstance(split, Range) else split:
                item.span += 1
                if item.span > self.span_limit:
                    overflow.append(item)
            if isinstance(split, Overlap):
                split = Overlap(split)  # changed in place: each segment has its own
        block.insert(i, bound)
        covers[j].insert(i, split)
        if i == 0:
            fences[j] = bound
        if len(block) > 2 * self.block_size:
            self._halve(j)

    def _unref(self, bound: bytes) -> None:
        count = self._refs[bound] - 1
        if count:
            self._refs[bound] = count
            return
        del self._refs[bound]
        fences, blocks, covers = self.fences, self.blocks, self.covers
        j = bisect_right(fences, bound) - 1
        block = blocks[j]
        i = bisect_left(block, bound)
        del block[i]
        # No mapped range starts or ends here any more, so this segment has the
        # same cover as the one below it (or none, if it was the first).
        gone = covers[j].pop(i)
        if gone is not None:
            for item in (gone,) if isinstance(gone, Range) else gone:
                item.span -= 1
        if not block:
            del blocks[j], covers[j], fences[j]
            return
        if len(block) < self.block_size // 2 and len(blocks) > 1:
            # Merge a shrunk block into a neighbour, so that blocks stay few.
            if j == len(blocks) - 1:
                j -= 1
            blocks[j] = _compact(blocks[j] + blocks.pop(j + 1))
            covers[j] += covers.pop(j + 1)
            del fences[j + 1]
            if len(blocks[j]) > 2 * self.block_size:
                self._halve(j)
        fences[j] = blocks[j][0]

    def _halve(self, j: int) -> None:
        block, covers = self.blocks[j], self.covers[j]
        half = len(block) // 2
        upper = _compact(block[half:])
        block[:] = _compact(block[:half])
        self.blocks.insert(j + 1, upper)
        self.covers.insert(j + 1, covers[half:])
        self.fences[j : j + 1] = block[0], upper[0]
        del covers[half:]


def _compact(keys: list[bytes]) -> list[bytes]:
    """Fresh copies of ``keys``, allocated one after the other.

    Endpoints are the very objects the subscriptions' read sets hold,
    allocated along with everything else a subscription makes; copied in
    order when a block is split or merged, a block's keys sit together in
    memory, and the last probes of a bisect share cache lines and pages
    instead of missing on each. Only locality depends on the copies being
    fresh objects (``join`` of two parts makes one): ordering is by value.
    """
    return [b"".join((key, b"")) for key in keys]
