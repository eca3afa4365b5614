"""Minimal reproductions of what the simulation found, kept as regression tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sim_harness import EPOCH_NS, sim_app

from reactor.engine import Engine
from reactor.storage import SqliteStore


def test_clock_step_back_keeps_creation_order(tmp_path: Path) -> None:
    """A transaction that saw a document creates later documents than it.

    Found by the simulation, whose virtual clock stands still while code runs:
    ``_creationTime`` was the wall clock at the transaction's start, so when the
    clock did not move, or stepped back (an NTP step, a resumed VM), a message
    sent after reading the newest one sorted before it, and ``order("desc")
    .first()`` no longer returned the newest message. Now a transaction begins
    after every commit in its snapshot, whatever the clock says.
    """
    now = [EPOCH_NS]

    async def run() -> list[tuple[str, float]]:
        engine = Engine(
            sim_app(),
            SqliteStore(tmp_path / "data.db", durability="off"),
            run_scheduler=False,
            clock_ns=lambda: now[0],
        )
        await engine.start()
        try:
            for tag in ("first", "second"):
                args = {"channel": "a", "tag": tag, "body": "", "pause": 0.0}
                assert (await engine.run_mutation("messages:send", args)).error is None
                now[0] -= 1_000_000_000  # the wall clock steps back a second
            rows = (await engine.run_query("messages:list", {"channel": "a"})).unwrap()
        finally:
            await engine.stop()
        return [(row["tag"], row["n"]) for row in rows]

    # "second" read "first" as the newest (n = 2): it must sort after it.
    assert asyncio.run(run()) == [("first", 1.0), ("second", 2.0)]
