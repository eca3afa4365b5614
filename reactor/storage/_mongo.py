"""The scale-out store: MongoDB, shared by any number of reactor processes.

Layout in ``_mongo_layout``; snapshots in ``_mongo_snapshot``; the commit
feed in ``_mongo_feed``. Every write is one MongoDB transaction run by
``_mongo_txn`` (snapshot reads, majority writes, retries by error label, never
applied twice). Each transaction that commits inserts one commit record per
reactor commit, with dense sequence numbers continuing the sequencer's, and
updates the sequencer last. Two transactions that read the same sequencer
both write it and both insert the next seq, so at most one of them commits:
that serializes the commits of all processes. On a wire server that cannot
be trusted with conflicts (jongodb, in CI), a lease lock serializes the
write transactions instead (``_mongo_lock``).

Needs transactions, so a replica set or sharded cluster (MongoDB 5.0+), or a
wire server with transactions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import unquote

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure
from pymongo.read_concern import ReadConcern

from reactor.storage._contract import (
    CheckedCommit,
    Commit,
    FeedEntry,
    IndexMeta,
    IndexName,
    Snapshot,
    Store,
    StoreMetadata,
)
from reactor.storage._errors import StoreError
from reactor.storage._mongo_changes import EventStream
from reactor.storage._mongo_commit import CommitRecord, Plan, Sequencer, plan_checked, plan_plain
from reactor.storage._mongo_feed import FeedReader
from reactor.storage._mongo_layout import COMMITS, META, PRUNED, decode_written, net_effect
from reactor.storage._mongo_lock import CommitLock
from reactor.storage._mongo_meta import (
    apply_plan,
    create_table,
    drop_index,
    is_jongodb,
    load_catalog,
    prepare,
    prune_commits,
    put_index,
    read_sequencer,
)
from reactor.storage._mongo_snapshot import MongoSnapshot
from reactor.storage._mongo_txn import TransactionRunner

__all__ = ["MongoStore"]

MAX_TS = 2**63 - 1
"""Timestamps are BSON int64."""

Doc = dict[str, Any]


class MongoStore(Store):
    """A reactor store in one MongoDB database (``database``, else the URL's, else "reactor").

    ``snapshot_lifetime``: seconds a snapshot may be read (see ``_mongo_snapshot``).
    ``poll_interval``: how often an idle feed polls when there is no change stream.
    ``change_streams``: None tries them and falls back to polling where the
    server has none; False always polls. ``clock`` gives ns for timestamps.
    ``retention``: seconds of commit records ``prune_expired`` keeps (feed
    readers further behind get ``FeedGapError``; snapshots that old cannot commit).
    """

    shared = True

    def __init__(
        self,
        url: str,
        *,
        database: str | None = None,
        snapshot_lifetime: float = 55.0,
        poll_interval: float = 0.05,
        change_streams: bool | None = None,
        retry_deadline: float = 120.0,
        clock: Callable[[], int] = time.time_ns,
        commit_lock: bool | None = None,
        retention: float = 600.0,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.database = database or _database_in(url) or "reactor"
        self.snapshot_lifetime = snapshot_lifetime
        self.poll_interval = poll_interval
        self.change_streams = change_streams
        self.retry_deadline = retry_deadline
        self.retention = retention
        self._clock = clock
        self._client_options = dict(client_options or {})
        self._client: AsyncMongoClient[Doc] | None = None
        self._runner: TransactionRunner[Any] | None = None
        self._feed: FeedReader | None = None
        self._state: Literal["new", "open", "closed"] = "new"
        # This process's own transactions would only conflict with each other on
        # the sequencer: run them one at a time and leave conflicts to other processes.
        self._write_lock = asyncio.Lock()
        self.commit_lock = commit_lock
        """Serialize write transactions across processes with a lease lock (``_mongo_lock``):
        None decides at open, on for servers known to mishandle conflicts (jongodb)."""
        self._lock: CommitLock | None = None

    def __repr__(self) -> str:
        return f"MongoStore({self.url!r}, database={self.database!r})"

    # -- lifecycle -------------------------------------------------------------

    async def open(self) -> StoreMetadata:
        if self._state != "new":
            raise StoreError(f"{self!r} was already opened; open a new MongoStore instead")
        client: AsyncMongoClient[Doc] = AsyncMongoClient(self.url, **self._client_options)
        try:
            self._client = client
            self._runner = TransactionRunner(
                client, self._collection(COMMITS), deadline=self.retry_deadline
            )
            self._feed = FeedReader(
                self._collection(COMMITS),
                self._collection(META),
                poll_interval=self.poll_interval,
                open_stream=None if self.change_streams is False else self._watch,
                check_open=self._check_open,
            )
            database = client[self.database]
            await prepare(database)
            if self.commit_lock is None:
                self.commit_lock = await is_jongodb(database)
            self._lock = CommitLock(database[META]) if self.commit_lock else None
            self._state = "open"
            return await self._load_metadata()
        except BaseException:
            self._client = None
            self._state = "new"
            await client.close()
            raise

    async def _load_metadata(self) -> StoreMetadata:
        async with await self.snapshot() as snap:
            assert isinstance(snap, MongoSnapshot)
            tables, indexes = await load_catalog(self._collection(META), snap.session)
            return StoreMetadata(tables=tables, indexes=indexes, max_ts=snap.ts)

    async def close(self) -> None:
        if self._state == "closed":
            return
        self._state = "closed"
        client, self._client = self._client, None
        if client is not None:
            await client.close()  # ends every session, so open snapshots too

    # -- reads -----------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        client = self._live_client()
        session = client.start_session()
        snap = MongoSnapshot(
            session,
            self._collection,
            lifetime=self.snapshot_lifetime,
            store_closed=lambda: self._state == "closed",
        )
        try:
            await session.start_transaction(read_concern=ReadConcern("snapshot"))
            with snap.operation():
                sequencer = await self._read_sequencer(session)
        except OperationFailure as exc:
            await snap.close()
            if exc.code == 20:  # IllegalOperation: transactions on a standalone server
                raise StoreError(
                    f"{self.url}: the MongoDB store needs transactions, so a replica set or "
                    f"a sharded cluster, not a standalone server ({exc})"
                ) from exc
            raise
        except BaseException:
            await snap.close()
            raise
        snap.ts, snap.seq = sequencer.ts, sequencer.seq
        return snap

    def feed(self, after_seq: int) -> AsyncIterator[FeedEntry]:
        self._check_open()
        assert self._feed is not None
        return self._feed.follow(after_seq)

    # -- writes ----------------------------------------------------------------

    async def write(self, commits: Sequence[Commit]) -> None:
        """Apply commits whose timestamps the caller chose (a single committer).

        With several processes, commit through ``write_checked``: this only
        records the commits (so feeds see them), it validates nothing.
        """
        if not commits:
            return
        last = -1
        for commit in commits:
            if not 0 <= commit.ts <= MAX_TS:
                raise ValueError(f"timestamp {commit.ts} is outside 0..2**63-1")
            if commit.ts <= last:
                raise ValueError(
                    f"commit timestamps must strictly increase within a batch: {commit.ts} "
                    f"follows {last}"
                )
            last = commit.ts
        net_effect(commits)  # type-checks the batch before any transaction starts

        async def body(session: AsyncClientSession, commit_id: str) -> None:
            sequencer = await self._read_sequencer(session)
            await self._apply(session, commit_id, plan_plain(commits, sequencer), sequencer)

        await self._run(body)

    async def write_checked(self, requests: Sequence[CheckedCommit]) -> list[int | str]:
        if not requests:
            return []
        oldest = min(request.snapshot_ts for request in requests)

        async def body(session: AsyncClientSession, commit_id: str) -> list[int | str]:
            sequencer = await self._read_sequencer(session)
            pruned = await self._collection(META).find_one({"_id": PRUNED}, session=session)
            records = [
                CommitRecord(doc["_id"], doc["ts"], decode_written(doc["written"]))
                async for doc in self._collection(COMMITS)
                .find({"ts": {"$gt": oldest}}, {"commit_id": 0}, session=session)
                .sort("_id", 1)
            ]
            pruned_ts = 0 if pruned is None else int(pruned["ts"])
            plan = plan_checked(requests, sequencer, pruned_ts, records, self._clock)
            await self._apply(session, commit_id, plan, sequencer)
            return plan.results

        results: list[int | str] = await self._run(body)
        return results

    async def reserve_ts(self, ts: int) -> None:
        """Raise max_ts to ``ts``, recorded as an empty commit: every change of the
        sequencer is a commit record, so the sequencer and the feed always agree, and
        two concurrent changes always collide on the next seq."""
        if not 0 <= ts <= MAX_TS:
            raise ValueError(f"timestamp {ts} is outside 0..2**63-1")

        async def body(session: AsyncClientSession, commit_id: str) -> None:
            sequencer = await self._read_sequencer(session)
            if ts > sequencer.ts:
                await self._apply(
                    session, commit_id, plan_plain([Commit(ts)], sequencer), sequencer
                )

        await self._run(body)

    async def prune_commits(self, older_than_ts: int) -> int:
        """Delete commit records with ``ts < older_than_ts``, except the newest one."""
        database = self._live_client()[self.database]
        pruned: int = await self._run(lambda s, _: prune_commits(database, s, older_than_ts))
        return pruned

    async def prune_expired(self) -> int:
        """Prune the commit records older than ``retention`` (call it every minute or so)."""
        return await self.prune_commits(self._clock() - int(self.retention * 1e9))

    async def create_table(self, name: str, number: int) -> None:
        meta = self._collection(META)
        await self._run(lambda s, _: create_table(meta, s, name, number))

    async def put_index(self, meta: IndexMeta) -> None:
        collection = self._collection(META)
        await self._run(lambda s, _: put_index(collection, s, meta))

    async def drop_index(self, name: IndexName) -> None:
        database = self._live_client()[self.database]
        await self._run(lambda s, _: drop_index(database, s, name))

    # -- helpers ---------------------------------------------------------------

    async def _apply(
        self, session: AsyncClientSession, commit_id: str, plan: Plan, before: Sequencer
    ) -> None:
        await apply_plan(self._live_client()[self.database], session, commit_id, plan, before)

    async def _read_sequencer(self, session: AsyncClientSession) -> Sequencer:
        return await read_sequencer(self._collection(META), session)

    async def _run(self, body: Callable[[AsyncClientSession, str], Any]) -> Any:
        self._live_client()
        assert self._runner is not None
        async with self._write_lock:
            if self._lock is None:
                return await self._runner.run(body)
            async with self._lock.held():
                return await self._runner.run(body)

    async def _watch(self, pipeline: list[Doc], options: dict[str, Any]) -> EventStream:
        return await self._collection(COMMITS).watch(pipeline, **options)

    def _collection(self, name: str) -> AsyncCollection[Doc]:
        if self._client is None:
            raise StoreError(f"the store {self.url} is closed")
        return self._client[self.database][name]

    def _live_client(self) -> AsyncMongoClient[Doc]:
        self._check_open()
        assert self._client is not None
        return self._client

    def _check_open(self) -> None:
        if self._state == "new":
            raise StoreError(f"the store {self.url} is not open: await store.open() first")
        if self._state == "closed":
            raise StoreError(f"the store {self.url} is closed")


def _database_in(url: str) -> str | None:
    """The database a MongoDB URL names (``mongodb://host/app?opts`` -> ``app``), if any."""
    _, _, rest = url.partition("://")
    _, slash, path = rest.partition("?")[0].partition("/")
    return unquote(path) if slash and path else None
