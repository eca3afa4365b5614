"""Deterministic simulation of the sync stack: many seeds, replay, determinism.

Environment:

* ``REACTOR_SIM_SEED=1234`` (or ``=1,2,3``): what ``test_replay`` runs
  (``REACTOR_SIM_SEED=1234 pytest tests/simulation -k replay``); add
  ``REACTOR_SIM_TRACE=/tmp/trace.txt`` to get every event of the run.
* ``REACTOR_LONG=1``: the sweep runs many thousands of seeds, with longer runs.
* ``REACTOR_SIM_SEEDS=N`` / ``REACTOR_SIM_BASE=B``: the sweep runs seeds
  B..B+N-1 (default 0..239, in chunks so that progress shows).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sim_harness import SimResult, SimulationFailed, run_seed

LONG = os.environ.get("REACTOR_LONG", "") not in ("", "0")
SEEDS = int(os.environ.get("REACTOR_SIM_SEEDS", 6000 if LONG else 240))
BASE = int(os.environ.get("REACTOR_SIM_BASE", 0))
SCALE = float(os.environ.get("REACTOR_SIM_SCALE", 2.0 if LONG else 1.0))
CHUNK = 30


def _sweep(seeds: range) -> list[SimResult]:
    results: list[SimResult] = []
    for seed in seeds:
        try:
            results.append(run_seed(seed, scale=SCALE))
        except SimulationFailed as exc:
            pytest.fail(str(exc), pytrace=False)
    return results


@pytest.mark.parametrize("chunk", range((SEEDS + CHUNK - 1) // CHUNK))
def test_sweep(chunk: int) -> None:
    start = BASE + chunk * CHUNK
    _sweep(range(start, min(start + CHUNK, BASE + SEEDS)))


def test_replay() -> None:
    """The seeds in ``REACTOR_SIM_SEED`` (default: two fixed ones), with their trace hash."""
    raw = os.environ.get("REACTOR_SIM_SEED", "")
    seeds = [int(s) for s in raw.split(",") if s.strip()] or [7, 1234]
    for result in [_replay(seed) for seed in seeds]:
        print(
            f"seed {result.seed}: trace {result.trace_hash}, {result.events} events, "
            f"{result.commits} commits, {result.virtual_s:.2f} virtual s in {result.wall_s:.2f} s"
        )


def _replay(seed: int) -> SimResult:
    try:
        return run_seed(seed, scale=SCALE)
    except SimulationFailed as exc:
        pytest.fail(str(exc), pytrace=False)


_HASH_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from sim_harness import run_seed
print(run_seed(int(sys.argv[2])).trace_hash)
"""


def test_same_seed_same_trace() -> None:
    """A seed replays exactly: in this process, after other runs have changed its
    memory layout (so set orders differ), and in a fresh process with another
    string hash seed."""
    seed = 11
    first = run_seed(seed).trace_hash
    run_seed(seed + 1)
    assert run_seed(seed).trace_hash == first
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    env.pop("REACTOR_SIM_TRACE", None)
    out = subprocess.run(
        [sys.executable, "-c", _HASH_SCRIPT, str(Path(__file__).parent), str(seed)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == first


def test_seeds_differ() -> None:
    """The seed drives the run: two seeds, two traces."""
    assert run_seed(3).trace_hash != run_seed(4).trace_hash


def test_updates_take_both_paths() -> None:
    """Updates go out both ways the server has: written at once from the live
    queries' callback while the socket has room, and through the connection's
    sender task while it is full (a stall). Both must occur, or the sweep tests
    only one of them."""
    results = [run_seed(seed) for seed in range(8)]
    assert sum(r.stats["direct_sends"] for r in results) > 0
    assert sum(r.stats["stalls"] for r in results) > 0
