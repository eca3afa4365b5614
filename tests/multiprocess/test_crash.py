"""SIGKILL of one process under load loses no acknowledged mutation and applies no
commit by halves.

Writers call ``ledger:transfer`` over HTTP on both processes, in closed loops;
each transfer writes both rows of a pair (their balances always sum to zero)
and an op record. At a random moment process A is killed with SIGKILL. Its
writers' requests in flight at that moment are in doubt (committed or not,
no one can say); they move to process B, which must keep committing (on the
jongodb lane, once the dead process's commit-lock lease has expired; on a
real replica set, once MongoDB has aborted the dead process's open
transaction). Then a new process is started on the database, as after a
crash, and the data is checked:

* every acknowledged transfer is there exactly once, an in-doubt one at most
  once, a refused one not at all, and nothing else is;
* each pair's ops form one serial chain (versions 1..n, each moving the
  balances by its amount from the one before), the rows end at the last op,
  and every pair sums to zero: no commit was half-applied;
* a subscriber on B saw only consistent snapshots and ends at the final state.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx2
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

pytestmark = pytest.mark.anyio

PAIRS = 4


async def call(http: httpx2.AsyncClient, url: str, kind: str, path: str, args: Any) -> Any:
    response = await http.post(f"{url}/api/{kind}", json={"path": path, "args": args})
    response.raise_for_status()
    body = response.json()
    if body["status"] != "success":
        raise RuntimeError(body["errorMessage"])
    return body["value"]


async def test_sigkill_under_load_loses_no_acknowledged_mutation(
    cluster: Cluster, database: Database
) -> None:
    seed = random.randrange(1 << 32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    # After the kill, the survivor may wait for the dead process's commit to be
    # given up: the lease of jongodb's commit lock (10 s), or MongoDB's
    # transactionLifetimeLimitSeconds (60 s by default) on a real replica set.
    stall = 150.0 if database.real else 45.0
    a, b = cluster.start(2)
    acknowledged: list[str] = []
    refused: list[str] = []
    in_doubt: list[str] = []
    after_kill: list[str] = []
    loaded = asyncio.Event()
    killed = asyncio.Event()
    enough = asyncio.Event()

    async def writer(n: int, http: httpx2.AsyncClient) -> None:
        target = (a, b)[n % 2]
        i = 0
        while not enough.is_set():
            token = f"w{n}.{i}"
            i += 1
            args = {"pair": rng.randrange(PAIRS), "amount": rng.randint(1, 9), "token": token}
            try:
                await call(http, target.url, "mutation", "ledger:transfer", args)
            except httpx2.TransportError:
                assert target is a and not a.alive, f"{target.url} failed while alive"
                in_doubt.append(token)  # sent to A, which died before answering
                target = b
                continue
            except RuntimeError:
                refused.append(token)
                continue
            acknowledged.append(token)
            if len(acknowledged) >= 5:
                loaded.set()
            if killed.is_set():
                after_kill.append(token)
                if len(after_kill) >= 10:
                    enough.set()

    async with (
        httpx2.AsyncClient(timeout=stall, trust_env=False) as http,
        clients([b.url]) as [on_b],
    ):
        await call(http, a.url, "mutation", "ledger:setup", {"pairs": PAIRS})
        watcher = Watcher(on_b, "ledger:state", {})
        try:
            writers = [asyncio.create_task(writer(n, http)) for n in range(8)]
            try:
                async with asyncio.timeout(30):
                    await loaded.wait()  # the load is running
                await asyncio.sleep(rng.uniform(0.0, 1.5))
                a.kill()
                killed.set()
                async with asyncio.timeout(stall):
                    await enough.wait()
            finally:
                enough.set()
                await asyncio.gather(*writers)
            assert in_doubt, "no mutation was in flight on the killed process"
            # A process started after the crash sees the same, whole database.
            [restarted] = cluster.start(1)
            ops = as_ops(await call(http, restarted.url, "query", "ledger:ops", {}))
            state = await call(http, restarted.url, "query", "ledger:state", {})
            await watcher.wait_for(lambda seen: seen == state, within=30)
        finally:
            await watcher.close()

    tokens = {op[0] for op in ops}
    assert set(acknowledged) <= tokens, f"lost: {set(acknowledged) - tokens}"
    assert not tokens & set(refused), "a refused mutation was applied"
    assert tokens <= set(acknowledged) | set(in_doubt), "an unknown mutation was applied"
    check_ledger(ops, state, PAIRS)
    for seen in watcher.values:  # B's subscriber was only shown whole commits
        check_state_invariant(seen)
    landed = len(tokens & set(in_doubt))
    print(
        f"acknowledged {len(acknowledged)} ({len(after_kill)} after the kill), "
        f"in doubt {len(in_doubt)} ({landed} committed), refused {len(refused)}"
    )
