"""Per-commit invalidation cost of the subscription index, against the bisect floor.

Run: .venv/bin/python bench/invalidation.py [--quick]

Each scenario registers n live subscriptions, then times single ``stab`` calls
for commits writing 4 keys across 2 indexes, exactly one of them inside one
subscription's range. The baseline, measured in the same run and the same
way, is one ``bisect`` per written key over a sorted list of n keys: the floor
for any comparison-based structure.
"""

from __future__ import annotations

import gc
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


def key(n: int) -> bytes:
    return n.to_bytes(8, "big")


def reads(index: str, interval: Interval) -> ReadSet:
    read_set = ReadSet()
    read_set.record(index, interval)
    return read_set


def ranges_index(n: int) -> SubscriptionIndex[int]:
    subs: SubscriptionIndex[int] = SubscriptionIndex()
    for i in range(n):
        subs.add(i, reads(INDEXES[i % 2], Interval(key(STRIDE * i), key(STRIDE * i + 5))))
    return subs


def commits(n: int, rng: random.Random, count: int) -> list[dict[str, list[bytes]]]:
    """Commits writing 2 keys per index, one of the 4 inside a subscription's range."""
    result = []
    for _ in range(count):
        hit = rng.randrange(n)
        gaps = [key(STRIDE * rng.randrange(n) + 7) for _ in range(3)]
        written: dict[str, list[bytes]] = {index: [] for index in INDEXES}
        written[INDEXES[hit % 2]].append(key(STRIDE * hit + 2))
        for gap, index in zip(gaps, (INDEXES[0], INDEXES[1], INDEXES[(hit + 1) % 2]), strict=True):
            written[index].append(gap)
        result.append(written)
    return result


Commit = dict[str, list[bytes]]


def timed(call: Callable[[Commit], object], inputs: list[Commit]) -> list[int]:
    """Nanoseconds of each call, GC paused so that collections do not land in a sample."""
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
    return samples


def percentiles(samples: list[int]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] / 1000, cuts[98] / 1000


def per_op_us(action: Callable[[int], None], count: int) -> float:
    t0 = time.perf_counter()
    for i in range(count):
        action(i)
    return (time.perf_counter() - t0) / count * 1e6


def stab_scenario(n: int, rng: random.Random) -> dict[str, float]:
    t0 = time.perf_counter()
    subs = ranges_index(n)
    build_us = (time.perf_counter() - t0) / n * 1e6
    inputs = commits(n, rng, 2_000)
    assert all(len(subs.stab(w)) == 1 for w in inputs[:200])

    floor = sorted(key(STRIDE * i) for i in range(n))

    def baseline(written: dict[str, list[bytes]]) -> None:
        for keys in written.values():
            for k in keys:
                bisect_right(floor, k)

    stab_p50, stab_p99 = percentiles(timed(subs.stab, inputs))
    base_p50, base_p99 = percentiles(timed(baseline, inputs))

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
        "stab_p50": stab_p50,
        "stab_p99": stab_p99,
        "base_p50": base_p50,
        "base_p99": base_p99,
        "build_us": build_us,
        "range_cycle_us": range_us,
        "point_cycle_us": point_us,
    }


def overlap_scenario(n: int, rng: random.Random) -> dict[str, float]:
    """Adversarial overlap: n nested unbounded ranges [key(i), +inf), all in the tree."""
    index = INDEXES[0]
    subs: SubscriptionIndex[int] = SubscriptionIndex()
    order = list(range(n))
    rng.shuffle(order)
    t0 = time.perf_counter()
    for i in order:
        subs.add(i, reads(index, Interval(key(STRIDE * i), None)))
    build_us = (time.perf_counter() - t0) / n * 1e6
    # A key just above the 4th lowest start: exactly 4 subscriptions match.
    inputs = [{index: [key(STRIDE * 3 + 1)], INDEXES[1]: [key(rng.randrange(n))]}]
    assert subs.stab(inputs[0]) == {0, 1, 2, 3}
    p50, p99 = percentiles(timed(subs.stab, inputs))

    def cycle(i: int) -> None:
        subs.add(-1, reads(index, Interval(key(STRIDE * rng.randrange(n) + 1), None)))
        subs.remove(-1)

    return {
        "stab_p50": p50,
        "stab_p99": p99,
        "build_us": build_us,
        "cycle_us": per_op_us(cycle, 2_000),
    }


def main() -> None:
    console = Console()
    sizes = SIZES[:2] if "--quick" in sys.argv else SIZES
    rng = random.Random(42)
    results = {n: stab_scenario(n, rng) for n in sizes}

    table = Table(title="stab: commit of 4 keys over 2 indexes, 1 hit, n distinct ranges (µs)")
    for column in (
        "subscriptions",
        "stab p50",
        "stab p99",
        "bisect p50",
        "bisect p99",
        "p50 ratio",
    ):
        table.add_column(column, justify="right")
    for n, r in results.items():
        table.add_row(
            f"{n:,}",
            f"{r['stab_p50']:.2f}",
            f"{r['stab_p99']:.2f}",
            f"{r['base_p50']:.2f}",
            f"{r['base_p99']:.2f}",
            f"{r['stab_p50'] / r['base_p50']:.1f}x",
        )
    console.print(table)
    small, large = results[sizes[0]], results[sizes[-1]]
    growth = large["stab_p50"] / small["stab_p50"]
    base_growth = large["base_p50"] / small["base_p50"]
    verdict = "[green]ok[/]" if growth <= 2 else "[red]over target[/]"
    console.print(
        f"growth {sizes[-1]:,}/{sizes[0]:,}: stab p50 {growth:.2f}x (target <= 2x: {verdict}), "
        f"bisect floor {base_growth:.2f}x"
    )

    table = Table(title="churn on top of n live range subscriptions (µs per op)")
    for column in ("subscriptions", "add (build)", "range add+remove", "point add+remove"):
        table.add_column(column, justify="right")
    for n, r in results.items():
        table.add_row(
            f"{n:,}",
            f"{r['build_us']:.1f}",
            f"{r['range_cycle_us']:.1f}",
            f"{r['point_cycle_us']:.1f}",
        )
    console.print(table)
    for n, r in results.items():
        console.print(
            f"{CYCLES:,} point subscribe/unsubscribe cycles at {n:,}: "
            f"{r['point_cycle_us'] * CYCLES / 1e6:.3f} s; range cycles: "
            f"{r['range_cycle_us'] * CYCLES / 1e6:.3f} s"
        )

    table = Table(title="adversarial: n nested unbounded ranges, 4 matches (µs)")
    for column in ("subscriptions", "stab p50", "stab p99", "add (build)", "add+remove"):
        table.add_column(column, justify="right")
    for n in sizes:
        r = overlap_scenario(n, rng)
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
