"""The commit feed of the MongoDB store: every process's commits, in dense seq order.

The reader tails the commits collection by ``_id`` (the seq) with majority
reads, so it never delivers a commit that a failover could roll back. It
never skips a number: a missing seq with later ones present is waited for
(it cannot normally happen, since a transaction's records and the sequencer
become visible together), and raises ``StoreError`` if it persists; a missing
seq below the prune mark raises ``FeedGapError``. ``prune_commits`` always
keeps the newest record, so "something was pruned after me" always shows up
as a record beyond the reader's next seq, and an idle poll is one query.

Wake-ups come from a change stream when the server has them, else from
polling every ``poll_interval``; with a stream, the feed still re-reads every
``stream_poll_interval`` as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.read_concern import ReadConcern

from reactor.storage._contract import FeedEntry, FeedGapError
from reactor.storage._errors import StoreError
from reactor.storage._mongo_changes import ChangeStreamWaker, OpenStream
from reactor.storage._mongo_layout import PRUNED, SEQUENCER, decode_written

__all__ = ["FeedReader"]

Collection = AsyncCollection[dict[str, Any]]


class FeedReader:
    def __init__(
        self,
        commits: Collection,
        meta: Collection,
        *,
        poll_interval: float,
        stream_poll_interval: float = 1.0,
        gap_timeout: float = 60.0,
        batch: int = 256,
        open_stream: OpenStream | None,
        check_open: Callable[[], None],
    ) -> None:
        majority = ReadConcern("majority")
        self._commits = commits.with_options(read_concern=majority)
        self._meta = meta.with_options(read_concern=majority)
        self.poll_interval = poll_interval
        self.stream_poll_interval = stream_poll_interval
        self.gap_timeout = gap_timeout
        self._batch = batch
        self._open_stream = open_stream
        self._check_open = check_open

    async def follow(self, after_seq: int) -> AsyncIterator[FeedEntry]:
        if after_seq < 0:
            raise ValueError(f"after_seq must be >= 0, got {after_seq}")
        self._check_open()
        sequencer = await self._meta.find_one({"_id": SEQUENCER})
        head = 0 if sequencer is None else int(sequencer["seq"])
        if after_seq > head:
            raise StoreError(
                f"the feed was asked for commits after seq {after_seq}, but the store's last "
                f"commit is seq {head}: was the database reset?"
            )
        waker = None if self._open_stream is None else ChangeStreamWaker(self._open_stream)
        task = (
            None if waker is None else asyncio.create_task(waker.run(), name="reactor-feed-waker")
        )
        cursor = after_seq
        gap_since: float | None = None
        try:
            while True:
                self._check_open()
                if waker is not None:
                    if waker.failure is not None:
                        raise waker.failure
                    waker.event.clear()  # before the read, so no wake-up is lost
                records = (
                    await self._commits.find({"_id": {"$gt": cursor}})
                    .sort("_id", 1)
                    .limit(self._batch)
                    .to_list(None)
                )
                delivered = False
                for record in records:
                    if record["_id"] != cursor + 1:
                        break
                    cursor += 1
                    delivered = True
                    yield FeedEntry(cursor, int(record["ts"]), decode_written(record["written"]))
                if delivered:
                    gap_since = None
                    continue
                if records:  # the next seq is missing but later ones exist
                    await self._check_gap(cursor)
                    gap_since = gap_since or time.monotonic()
                    if time.monotonic() - gap_since > self.gap_timeout:
                        raise StoreError(
                            f"commit record {cursor + 1} is missing while later ones exist, "
                            f"for {self.gap_timeout:g} s: the commits collection is damaged"
                        )
                await self._wait(waker)
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if waker is not None and waker.unsupported:
                self._open_stream = None  # this server has no change streams: poll from now on

    async def _check_gap(self, cursor: int) -> None:
        pruned = await self._meta.find_one({"_id": PRUNED})
        if pruned is not None and int(pruned["seq"]) > cursor:
            raise FeedGapError(
                f"the feed reader is at seq {cursor}, but commit records up to seq "
                f"{pruned['seq']} were pruned: resynchronise from a new snapshot"
            )

    async def _wait(self, waker: ChangeStreamWaker | None) -> None:
        if waker is None or not waker.streaming:
            timeout = self.poll_interval
        else:
            timeout = self.stream_poll_interval
        if waker is None or waker.unsupported:
            await asyncio.sleep(timeout)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await waker.event.wait()
