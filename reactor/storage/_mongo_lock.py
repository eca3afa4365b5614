"""A lease lock that serializes write transactions, for wire servers whose transactions
cannot be trusted to conflict.

Real MongoDB detects write conflicts and commits atomically, so the store's
protocol (every writer inserts the next seq and updates the sequencer) is
enough. jongodb, the wire server CI uses, merges a committing transaction
collection by collection and raises its write conflict midway, leaving the
collections merged before it applied: a conflict there can corrupt the store.
With this lock held around each write transaction, two of them never overlap
on such a server, so they never conflict.

The lease is short, and renewed while the lock is held, however long the
transaction (and its retries) takes: a process that dies holding the lock
blocks every commit only until its lease expires, a few seconds, and a live
holder never loses it. Only a holder whose event loop stalls for longer than
the lease can have it taken over; it then logs an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from reactor.storage._mongo_session import interrupted

__all__ = ["CommitLock"]

log = logging.getLogger("reactor.storage")

_LOCK_ID = "commit_lock"


class CommitLock:
    def __init__(self, meta: AsyncCollection[dict[str, Any]], *, lease: float = 10.0) -> None:
        self._meta = meta
        self._lease_ns = int(lease * 1e9)
        self._renew_every = lease / 4

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
                pass
            except BaseException as exc:
                if interrupted(exc):  # the insert may have taken the lock all the same
                    with contextlib.suppress(PyMongoError):
                        await asyncio.shield(self._release(owner))
                raise
            holder = await self._meta.find_one({"_id": _LOCK_ID})
            if holder is not None and holder["expires"] < now:
                # Its holder died: take the lock over. The filter removes only
                # the stale lease seen here, not one its holder just renewed.
                stale = {"owner": holder["owner"], "expires": holder["expires"]}
                await self._meta.delete_one({"_id": _LOCK_ID, **stale})
                continue
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
        renewer = asyncio.create_task(self._renew(owner), name="reactor-commit-lock-lease")
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            # Shielded: a release cut short would keep other processes out for a lease.
            await asyncio.shield(self._release(owner))

    async def _release(self, owner: str) -> None:
        await self._meta.delete_one({"_id": _LOCK_ID, "owner": owner})

    async def _renew(self, owner: str) -> None:
        while True:
            await asyncio.sleep(self._renew_every)
            expires = time.time_ns() + self._lease_ns
            try:
                renewed = await self._meta.update_one(
                    {"_id": _LOCK_ID, "owner": owner}, {"$set": {"expires": expires}}
                )
            except PyMongoError as exc:  # never fail the transaction it guards: retry
                log.warning("renewing the commit lock's lease failed: %s", exc)
                continue
            if renewed.matched_count != 1:
                log.error(
                    "the commit lock's lease expired while it was held (the event loop "
                    "stalled for over %.0f s): another process may be writing at once",
                    self._lease_ns / 1e9,
                )
                return
