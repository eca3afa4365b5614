"""A lease lock that serializes write transactions, for wire servers whose transactions
cannot be trusted to conflict.

Real MongoDB detects write conflicts and commits atomically, so the store's
protocol (every writer inserts the next seq and updates the sequencer) is
enough. jongodb, the wire server CI uses, merges a committing transaction
collection by collection and raises its write conflict midway, leaving the
collections merged before it applied: a conflict there can corrupt the store.
With this lock held around each write transaction, two of them never overlap
on such a server, so they never conflict. The price: a process that dies
holding the lock blocks every commit until its lease expires.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

__all__ = ["CommitLock"]

_LOCK_ID = "commit_lock"


class CommitLock:
    def __init__(self, meta: AsyncCollection[dict[str, Any]], *, lease: float = 30.0) -> None:
        self._meta = meta
        self._lease_ns = int(lease * 1e9)

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        owner = uuid.uuid4().hex
        pause = 0.002
        while True:
            now = time.time_ns()
            try:
                # A plain insert: one atomic check of _id, outside any transaction.
                await self._meta.insert_one(
                    {"_id": _LOCK_ID, "owner": owner, "expires": now + self._lease_ns}
                )
                break
            except DuplicateKeyError:
                holder = await self._meta.find_one({"_id": _LOCK_ID})
                if holder is not None and holder["expires"] < now:
                    # Its holder died: take the lock over (the owner filter makes
                    # sure only that stale lease is removed).
                    await self._meta.delete_one({"_id": _LOCK_ID, "owner": holder["owner"]})
                    continue
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.05)
        try:
            yield
        finally:
            await self._meta.delete_one({"_id": _LOCK_ID, "owner": owner})
