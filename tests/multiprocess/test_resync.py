"""A process that falls behind the commit-record retention window resyncs.

Process B is frozen (SIGSTOP) while A commits and the commit records B has
not read yet are pruned, as ``prune_expired`` does past the retention. When B
runs again its feed finds the gap: it logs a warning, counts a resync in
``GET /health`` (``resyncs``), re-runs every live query on a fresh snapshot,
and follows the feed on from there. Its subscribers end with the right state
and keep getting later commits.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from cluster_helpers import Cluster, Database, ReactorProcess, Watcher, clients

pytestmark = pytest.mark.anyio


async def wait_for_resyncs(process: ReactorProcess, count: int, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while (resyncs := process.health()["resyncs"]) != count:
        assert time.monotonic() < deadline, f"resyncs is {resyncs}, not {count}"
        await asyncio.sleep(0.05)


async def test_a_process_behind_the_retention_window_resyncs(
    cluster: Cluster, database: Database
) -> None:
    a, b = cluster.start(2)
    transfer = {"pair": 0, "amount": 1}
    async with clients([a.url, b.url]) as [on_a, on_b]:
        await on_a.mutation("ledger:setup", {"pairs": 1})
        await on_a.mutation("ledger:transfer", {**transfer, "token": "before"})
        watcher = Watcher(on_b, "ledger:state", {})
        try:
            await watcher.wait_for(lambda state: state["ops"] == 1, within=20)
            assert b.health()["resyncs"] == 0

            b.pause()
            try:
                for i in range(4):
                    await on_a.mutation("ledger:transfer", {**transfer, "token": f"missed{i}"})
                store = database.store()
                await store.open()
                try:
                    async with await store.snapshot() as snapshot:
                        head = snapshot.ts
                    pruned = await store.prune_commits(head + 1)  # all but the newest record
                finally:
                    await store.close()
                assert pruned >= 4
            finally:
                b.resume()

            await wait_for_resyncs(b, 1)
            expected = await on_a.query("ledger:state", {})
            assert expected["ops"] == 5
            assert await watcher.wait_for(lambda state: state == expected, within=20)
            assert "fell behind the retention window" in b.log_text()

            # B follows the feed on from where it resynced.
            await on_a.mutation("ledger:transfer", {**transfer, "token": "after"})
            state = await watcher.wait_for(lambda state: state["ops"] == 6, within=20)
            assert state["accounts"] == [[0, "L", -6, 6], [0, "R", 6, 6]]
            assert await on_b.mutation("ledger:transfer", {**transfer, "token": "from-b"}) == 7
            assert b.health()["resyncs"] == 1
            assert a.health()["resyncs"] == 0
        finally:
            await watcher.close()
