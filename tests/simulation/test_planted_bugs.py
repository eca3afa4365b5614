"""The simulation's checks bite: with a bug planted in the server, seeds fail.

Each test breaks one guarantee the way a plausible bug would, runs seeds
until one fails, and checks the failure names the broken invariant. A
checker that never fails would pass the sweep for nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest
from sim_harness import SimulationFailed, run_seed

from reactor.engine import FunctionResult, MutationCtx, _subscription_index
from reactor.engine._committer import Committer
from reactor.server import _websocket
from reactor.sync import exactly_once


def _first_failure(seeds: Iterable[int]) -> str:
    for seed in seeds:
        try:
            run_seed(seed)
        except SimulationFailed as exc:
            return str(exc)
    pytest.fail("no seed failed: the simulation did not notice the planted bug")


def test_missed_invalidation_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The subscription index forgets range reads: clients keep stale results."""

    def points_only(self: Any, writes: Mapping[str, Iterable[bytes]]) -> set[Any]:
        hits: set[Any] = set()
        for index, keys in writes.items():
            entries = self._indexes.get(index)
            for key in keys if entries is not None else ():
                hits.update(entries.points.get(key, ()))
        return hits

    monkeypatch.setattr(_subscription_index.SubscriptionIndex, "stab", points_only)
    report = _first_failure(range(20))
    assert "but the model says" in report
    assert "replay: REACTOR_SIM_SEED=" in report


def test_lost_occ_check_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The committer stops validating read sets: lost updates, write skew."""
    monkeypatch.setattr(Committer, "_conflict", lambda self, request: None)
    assert "ModelViolation" in _first_failure(range(20))


def test_duplicate_mutation_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-sent mutation runs again instead of replaying its recorded result."""

    def run_again(session_id: str, request_id: int) -> Callable[[MutationCtx], Any]:
        original = exactly_once(session_id, request_id)

        async def hook(ctx: MutationCtx) -> Any:
            outcome = await original(ctx)
            if isinstance(outcome, FunctionResult):  # a replay: run it again instead
                return await exactly_once(f"{session_id}/again", request_id)(ctx)
            return outcome

        return hook

    monkeypatch.setattr(_websocket, "exactly_once", run_again)
    report = _first_failure(range(40))
    assert "inserted twice" in report or "earlier answers" in report or "incremented" in report
