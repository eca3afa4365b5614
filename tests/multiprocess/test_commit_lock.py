"""The lease lock that serializes write transactions on jongodb (``_mongo_lock``).

A holder keeps the lock for as long as it holds it, renewing its lease, even
far past one lease; a holder that is gone loses it once its lease expires.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from cluster_helpers import Database
from pymongo import AsyncMongoClient

from reactor.storage._mongo_lock import CommitLock

pytestmark = pytest.mark.anyio


async def test_a_live_holder_keeps_the_lock_past_its_lease(database: Database) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(database.uri)
    try:
        meta = client[database.name]["meta"]
        first, second = CommitLock(meta, lease=0.2), CommitLock(meta, lease=0.2)
        events: list[str] = []

        async def hold_long() -> None:
            async with first.held():
                events.append("first in")
                await asyncio.sleep(1.0)  # five leases
                events.append("first out")

        async def wait_turn() -> None:
            await asyncio.sleep(0.1)
            async with second.held():
                events.append("second in")

        await asyncio.gather(hold_long(), wait_turn())
        assert events == ["first in", "first out", "second in"]
        assert await meta.find_one({"_id": "commit_lock"}) is None

        # A holder that died (its lease no longer renewed) is taken over once it expires.
        await meta.insert_one(
            {"_id": "commit_lock", "owner": "dead", "expires": time.time_ns() + 300_000_000}
        )
        started = time.monotonic()
        async with second.held():
            waited = time.monotonic() - started
        assert 0.2 < waited < 5
    finally:
        await client.close()
