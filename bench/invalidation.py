"""Per-commit invalidation cost of the subscription index, against the bisect floor.

Run: .venv/bin/python bench/invalidation.py [--quick]

Each scenario registers n live subscriptions, then times single ``stab`` calls
for commits writing 4 keys across 2 indexes, exactly one of them inside one
subscription's read set. Two baselines are measured in the same run and the
same way, one ``bisect`` per written key:

* over a fresh sorted list of n keys, allocated in order and so laid out
  contiguously in memory: the floor the brief asks for;
* over the subscriptions' own interval endpoints (per index, the same bytes
  objects the index holds), scattered in memory as real read sets are. The
  gap between the two is memory latency, not work: at 100k, every probe of
  a binary search over scattered objects is a cache miss.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import sys
import time
from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reactor.engine._intervals import Interval, ReadSet
from reactor.engine._subscription_index import SubscriptionIndex

INDEXES = ("messages.by_channel", "messages.by_author")
SIZES = (1_000, 10_000, 100_000)
SAMPLES = 20_000
CYCLES = 10_000
STRIDE = 10  # subscription i reads [key(STRIDE*i), key(STRIDE*i + 5)); the rest are gaps

Commit = dict[str, list[bytes]]


def key(n: int) -> bytes:
    return n.to_bytes(8, "big")


def reads(index: str, interval: Interval) -> ReadSet:
    read_set = ReadSet()
    read_set.record(index, interval)
    return read_set


def subscribe_ranges(subs: SubscriptionIndex[int], n: int) -> dict[str, list[bytes]]:
    """n disjoint ranges alternating between the indexes; returns each index's endpoints."""
    endpoints: dict[str, list[bytes]] = {index: [] for index in INDEXES}
    for i in range(n):
        interval = Interval(key(STRIDE * i), key(STRIDE * i + 5))
        subs.add(i, reads(INDEXES[i % 2], interval))
        endpoints[INDEXES[i % 2]] += [interval.start, interval.end or b""]
    return endpoints


def commits(n: int, rng: random.Random, count: int, *, hit_offset: int) -> list[Commit]:
    """Commits writing 2 keys per index, exactly one of the 4 read by subscription ``hit``."""
    result = []
    for _ in range(count):
        hit = rng.randrange(n)
        written: Commit = {index: [] for index in INDEXES}
        written[INDEXES[hit % 2]].append(key(STRIDE * hit + hit_offset))
        for index in (INDEXES[0], INDEXES[1], INDEXES[(hit + 1) % 2]):
            written[index].append(key(STRIDE * rng.randrange(n) + 7))  # in a gap
        result.append(written)
    return result


def timed(call: Callable[[Commit], object], inputs: list[Commit]) -> tuple[float, float]:
    """p50 and p99 of single calls, in µs, GC paused so that no collection lands in a sample."""
    clock = time.perf_counter_ns
    samples: list[int] = []
    gc.disable()
    try:
        for _ in range(SAMPLES // len(inputs)):
            for written in inputs:
                t0 = clock()
                call(written)
                samples.append(clock() - t0)
    finally:
        gc.enable()
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] / 1000, cuts[98] / 1000


def bisect_per_key(lists: dict[str, list[bytes]]) -> Callable[[Commit], None]:
    def baseline(written: Commit) -> None:
        for index, keys in written.items():
            bounds = lists[index]
            for k in keys:
                bisect_right(bounds, k)

    return baseline


def per_op_us(action: Callable[[int], None], count: int) -> float:
    t0 = time.perf_counter()
    for i in range(count):
        action(i)
    return (time.perf_counter() - t0) / count * 1e6


def range_scenario(n: int, rng: random.Random) -> dict[str, float]:
    subs: SubscriptionIndex[int] = SubscriptionIndex()
    t0 = time.perf_counter()
    endpoints = subscribe_ranges(subs, n)
    build = (time.perf_counter() - t0) / n * 1e6
    inputs = commits(n, rng, 2_000, hit_offset=2)
    assert all(len(subs.stab(w)) == 1 for w in inputs[:200])

    fresh = sorted(key(STRIDE * i) for i in range(n))
    stab = timed(subs.stab, inputs)
    floor = timed(bisect_per_key(dict.fromkeys(INDEXES, fresh)), inputs)
    own = timed(bisect_per_key({i: sorted(e) for i, e in endpoints.items()}), inputs)

    # Subscribe/unsubscribe churn on top of the n live subscriptions.
    def range_cycle(i: int) -> None:
        k = STRIDE * rng.randrange(n) + 6
        subs.add(-1, reads(INDEXES[i % 2], Interval(key(k), key(k + 3))))
        subs.remove(-1)

    def point_cycle(i: int) -> None:
        subs.add(-1, reads("messages.by_id", Interval.point(key(i))))
        subs.remove(-1)

    range_us = per_op_us(range_cycle, CYCLES)
    point_us = per_op_us(point_cycle, CYCLES)
    assert len(subs) == n
    return {
        "stab_p50": stab[0],
        "stab_p99": stab[1],
        "floor_p50": floor[0],
        "floor_p99": floor[1],
        "own_p50": own[0],
        "build_us": build,
        "range_cycle_us": range_us,
        "point_cycle_us": point_us,
    }


def point_scenario(n: int, rng: random.Random) -> tuple[float, float]:
    """n db.get subscriptions: each reads one key."""
    subs: SubscriptionIndex[int] = SubscriptionIndex()
    for i in range(n):
        subs.add(i, reads(INDEXES[i % 2], Interval.point(key(STRIDE * i))))
    inputs = commits(n, rng, 2_000, hit_offset=0)
    assert all(len(subs.stab(w)) == 1 for w in inputs[:200])
    return timed(subs.stab, inputs)


def nested_scenario(n: int, rng: random.Random) -> dict[str, float]:
    """Adversarial overlap: n nested unbounded ranges [key(i), +inf), all in the tree."""
    index = INDEXES[0]
    subs: SubscriptionIndex[int] = SubscriptionIndex()
    order = list(range(n))
    rng.shuffle(order)
    t0 = time.perf_counter()
    for i in order:
        subs.add(i, reads(index, Interval(key(STRIDE * i), None)))
    build = (time.perf_counter() - t0) / n * 1e6
    # Just above the 4th lowest start: exactly 4 subscriptions match.
    inputs = [{index: [key(STRIDE * 3 + 1)], INDEXES[1]: [key(rng.randrange(n))]}]
    assert subs.stab(inputs[0]) == {0, 1, 2, 3}
    p50, p99 = timed(subs.stab, inputs)

    def cycle(i: int) -> None:
        subs.add(-1, reads(index, Interval(key(STRIDE * rng.randrange(n) + 1), None)))
        subs.remove(-1)

    return {
        "stab_p50": p50,
        "stab_p99": p99,
        "build_us": build,
        "cycle_us": per_op_us(cycle, 2_000),
    }


def main() -> None:
    console = Console(width=120)
    # At 100k a stab is memory-bound: other processes' cache and memory
    # traffic move its figures far more than the 1k ones. Print the load so
    # that a disturbed run can be told apart.
    console.print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    sizes = SIZES[:2] if "--quick" in sys.argv else SIZES
    rng = random.Random(42)
    ranges = {n: range_scenario(n, rng) for n in sizes}

    table = Table(
        title="stab of a commit writing 4 keys over 2 indexes, 1 hit, n disjoint ranges (µs)"
    )
    columns = ("subscriptions", "stab p50", "stab p99", "floor p50", "floor p99", "stab/floor")
    for column in (*columns, "own-endpoints bisect p50"):
        table.add_column(column, justify="right")
    for n, r in ranges.items():
        table.add_row(
            f"{n:,}",
            f"{r['stab_p50']:.2f}",
            f"{r['stab_p99']:.2f}",
            f"{r['floor_p50']:.2f}",
            f"{r['floor_p99']:.2f}",
            f"{r['stab_p50'] / r['floor_p50']:.1f}x",
            f"{r['own_p50']:.2f}",
        )
    console.print(table)
    small, large = ranges[sizes[0]], ranges[sizes[-1]]
    growth = large["stab_p50"] / small["stab_p50"]
    verdict = "[green]met[/]" if growth <= 2 else "[red]missed[/]"
    console.print(
        f"growth {sizes[-1]:,} / {sizes[0]:,}: stab p50 {growth:.2f}x (target <= 2x: {verdict}); "
        f"floor {large['floor_p50'] / small['floor_p50']:.2f}x; "
        f"own-endpoints bisect {large['own_p50'] / small['own_p50']:.2f}x"
    )

    table = Table(title="the same commits against n point (db.get) subscriptions (µs)")
    for column in ("subscriptions", "stab p50", "stab p99"):
        table.add_column(column, justify="right")
    for n in sizes:
        p50, p99 = point_scenario(n, rng)
        table.add_row(f"{n:,}", f"{p50:.2f}", f"{p99:.2f}")
    console.print(table)

    table = Table(title=f"churn next to the n live ranges (µs per op; {CYCLES:,} cycles each)")
    for column in ("subscriptions", "add, building", "range add+remove", "point add+remove"):
        table.add_column(column, justify="right")
    for n, r in ranges.items():
        table.add_row(
            f"{n:,}",
            f"{r['build_us']:.1f}",
            f"{r['range_cycle_us']:.1f}",
            f"{r['point_cycle_us']:.1f}",
        )
    console.print(table)

    table = Table(title="adversarial: n nested unbounded ranges, 4 matches (µs)")
    for column in ("subscriptions", "stab p50", "stab p99", "add, building", "add+remove"):
        table.add_column(column, justify="right")
    for n in sizes:
        r = nested_scenario(n, rng)
        table.add_row(
            f"{n:,}",
            f"{r['stab_p50']:.2f}",
            f"{r['stab_p99']:.2f}",
            f"{r['build_us']:.1f}",
            f"{r['cycle_us']:.1f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
