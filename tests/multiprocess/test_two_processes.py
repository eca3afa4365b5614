"""Two ``reactor serve`` processes on one MongoDB database behave as one deployment.

What each test proves:

* a subscriber on process B gets a mutation made through process A, pushed by
  B's commit feed (no polling by the client);
* scheduled jobs are claimed by exactly one process: both schedulers race for
  every due job, each job runs once, none is left pending;
* 20 concurrent writers spread over both processes: every acknowledged
  transfer is in the database exactly once and nothing else is, the commits
  form one serial order per pair (no lost update), and every subscriber on
  either process only ever sees consistent snapshots and ends at the same state.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest
from cluster_helpers import (
    Cluster,
    Database,
    Watcher,
    as_ops,
    check_ledger,
    check_state_invariant,
    clients,
)

from reactor.client import FunctionError

pytestmark = pytest.mark.anyio


async def test_a_subscriber_on_b_sees_a_mutation_made_through_a(cluster: Cluster) -> None:
    a, b = cluster.start(2)
    async with clients([a.url, b.url]) as [on_a, on_b]:
        await on_a.mutation("ledger:setup", {"pairs": 1})
        watcher = Watcher(on_b, "ledger:state", {})
        try:
            await watcher.wait_for(lambda state: state["ops"] == 0, within=20)
            assert await on_a.mutation("ledger:transfer", {"pair": 0, "amount": 5, "token": "x"})
            state = await watcher.wait_for(lambda state: state["ops"] == 1, within=20)
            assert state["accounts"] == [[0, "L", -5, 1], [0, "R", 5, 1]]
            # And back: B's mutation reaches a subscriber on A.
            back = Watcher(on_a, "ledger:state", {})
            try:
                await on_b.mutation("ledger:transfer", {"pair": 0, "amount": 2, "token": "y"})
                state = await back.wait_for(lambda state: state["ops"] == 2, within=20)
                assert state["accounts"] == [[0, "L", -7, 2], [0, "R", 7, 2]]
            finally:
                await back.close()
        finally:
            await watcher.close()


async def test_scheduled_jobs_run_exactly_once_across_processes(cluster: Cluster) -> None:
    jobs = 40
    a, b = cluster.start(2)
    async with clients([a.url, b.url]) as [on_a, on_b]:
        # Scheduled through both processes; both schedulers see every job.
        await asyncio.gather(
            on_a.mutation("jobs:schedule", {"first": 0, "count": jobs // 2}),
            on_b.mutation("jobs:schedule", {"first": jobs // 2, "count": jobs - jobs // 2}),
        )
        watcher = Watcher(on_a, "jobs:report", {})
        try:
            report = await watcher.wait_for(
                lambda r: Counter(r["states"]) == {"success": jobs}, within=60
            )
        finally:
            await watcher.close()
        # Give a second run, if there were one, the time to commit; then look again.
        await asyncio.sleep(0.5)
        report = await on_b.query("jobs:report", {})
    runs = Counter(int(n) for n, _ in report["runs"])
    assert runs == dict.fromkeys(range(jobs), 1), f"runs per job: {runs}"
    by_process = Counter(int(pid) for _, pid in report["runs"])
    assert set(by_process) <= {a.pid, b.pid}
    print(f"jobs run by A: {by_process[a.pid]}, by B: {by_process[b.pid]}")
    assert Counter(report["states"]) == {"success": jobs}


async def test_concurrent_writers_on_both_processes_converge(
    cluster: Cluster, database: Database
) -> None:
    # jongodb's writes slow down as collections grow: keep its data small.
    writers, per_writer, pairs = 20, (25 if database.real else 4), 6
    seed = random.randrange(1 << 32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    processes = cluster.start(2)
    urls = [process.url for process in processes]
    acknowledged: list[str] = []
    failed: list[str] = []

    async with clients(urls[:1]) as [setup]:
        await setup.mutation("ledger:setup", {"pairs": pairs})

    async def writer(n: int) -> None:
        plan = [(rng.randrange(pairs), rng.randint(1, 9)) for _ in range(per_writer)]
        async with clients([urls[n % 2]]) as [client]:
            for i, (pair, amount) in enumerate(plan):
                token = f"w{n}.{i}"
                try:
                    await client.mutation(
                        "ledger:transfer", {"pair": pair, "amount": amount, "token": token}
                    )
                except FunctionError:
                    failed.append(token)  # refused for good (a conflict that kept losing)
                else:
                    acknowledged.append(token)

    async with clients(urls * 2) as subscribers:
        watchers = [Watcher(client, "ledger:state", {}) for client in subscribers]
        try:
            await asyncio.gather(*(writer(n) for n in range(writers)))
            assert len(acknowledged) + len(failed) == writers * per_writer
            finals = [
                await watcher.wait_for(lambda s: s["ops"] == len(acknowledged), within=60)
                for watcher in watchers
            ]
        finally:
            for watcher in watchers:
                await watcher.close()
        ops = as_ops(await subscribers[0].query("ledger:ops", {}))
        state = await subscribers[1].query("ledger:state", {})

    assert all(final == state for final in finals), "subscribers ended in different states"
    for watcher in watchers:
        for seen in watcher.values:  # every snapshot a subscriber was shown is consistent
            check_state_invariant(seen)
        assert [s["ops"] for s in watcher.values] == sorted(s["ops"] for s in watcher.values)
    assert sorted(op[0] for op in ops) == sorted(acknowledged), "lost or unacknowledged commits"
    counts = check_ledger(ops, state, pairs)
    print(f"per pair: {counts}; refused: {len(failed)}")
