"""The storage contract: what the engine needs from a store.

A store keeps three things: documents by id, index entries (an order-preserving
byte key mapped to a document id, per index), and metadata (tables, indexes,
the timestamp high-water mark). It knows nothing of values, schemas or
conflicts: the engine encodes keys and documents, validates commits, and hands
the store batches that are already decided. Both the embedded SQLite store and
the MongoDB store implement this; one contract test suite runs against both.

Reads happen on a ``Snapshot``: a consistent view of everything committed up to
its ``ts``. Writes happen through ``Store.write``, atomically and durably, one
batch of commits at a time (group commit), only ever from the process's single
committer.

Optional capabilities, for stores that several processes share (``Store.shared``
is True; the MongoDB store): ``write_checked`` validates read sets against the
commits of every process inside the store and assigns timestamps there;
``feed`` yields every commit, from every process, in a dense sequence order;
``prune_commits`` bounds how far back that feed (and validation) reaches.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from reactor.storage._errors import StoreError

__all__ = [
    "CheckedCommit",
    "Commit",
    "DocumentWrite",
    "FeedEntry",
    "FeedGapError",
    "IndexEntry",
    "IndexMeta",
    "IndexName",
    "IndexWrite",
    "ReadSetLike",
    "Snapshot",
    "SnapshotExpiredError",
    "Store",
    "StoreMetadata",
    "WrittenKeys",
]

IndexName = str
"""An index's full name, ``"<table>.<index>"``, e.g. ``"messages.by_channel"``."""

IndexState = Literal["backfilling", "ready"]


@dataclass(frozen=True, slots=True)
class DocumentWrite:
    """Set (``value`` is the encoded document) or delete (``value is None``) one document."""

    table: str
    id: str
    value: bytes | None


@dataclass(frozen=True, slots=True)
class IndexWrite:
    """Set (``doc_id`` given) or remove (``doc_id is None``) one index entry."""

    index: IndexName
    key: bytes
    doc_id: str | None


@dataclass(frozen=True, slots=True)
class Commit:
    """One transaction's writes, at its commit timestamp (u64 ns, strictly increasing).

    Index writes are applied in order, so a removal of a key followed by a set
    of the same key leaves the key set.
    """

    ts: int
    documents: tuple[DocumentWrite, ...] = ()
    index_writes: tuple[IndexWrite, ...] = ()


@dataclass(frozen=True, slots=True)
class IndexEntry:
    key: bytes
    doc_id: str
    value: bytes
    """The encoded document the entry points at."""


@dataclass(frozen=True, slots=True)
class IndexMeta:
    name: IndexName
    table: str
    fields: tuple[str, ...]
    state: IndexState


@dataclass(slots=True)
class StoreMetadata:
    tables: dict[str, int] = field(default_factory=dict)
    """Table name -> table number (the number ids encode)."""
    indexes: dict[IndexName, IndexMeta] = field(default_factory=dict)
    max_ts: int = 0
    """Highest timestamp ever committed (or reserved), persisted across restarts."""


WrittenKeys = Mapping[IndexName, Sequence[bytes]]
"""Per index, the keys a commit wrote (old and new keys of every written document)."""


class ReadSetLike(Protocol):
    """What ``write_checked`` needs of a read set (the engine's ``ReadSet`` is one)."""

    def conflicts_with(self, written: WrittenKeys) -> str | None:
        """The first index where one of ``written`` lies in what was read, or None."""
        ...


@dataclass(frozen=True, slots=True)
class CheckedCommit:
    """A commit for ``Store.write_checked``: validated, then built at the ts the store picks."""

    snapshot_ts: int
    """The ts of the snapshot the transaction read."""
    read_set: ReadSetLike
    written: WrittenKeys
    """Every key the commit writes, per index (what later read sets are checked against)."""
    build: Callable[[int], Commit]
    """Builds the commit at the timestamp the store assigned. Must not fail."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One commit, as ``Store.feed`` delivers it."""

    seq: int
    """Dense commit sequence number: 1, 2, 3, ... with no gaps."""
    ts: int
    written: dict[IndexName, list[bytes]]


class FeedGapError(StoreError):
    """The feed cannot continue: commits after the reader's position were pruned.

    The reader must resynchronise from a fresh snapshot (re-run every live
    query); commits are never skipped silently."""


class SnapshotExpiredError(StoreError):
    """A snapshot was used after the store's limit on its lifetime (see the store)."""


class Snapshot(abc.ABC):
    """A consistent read view at ``ts``. Close it when done (it pins resources)."""

    ts: int
    seq: int = 0
    """For stores with a ``feed``: the sequence number of the last commit this
    snapshot sees, so a reader can follow the feed from exactly here. 0 otherwise."""

    @abc.abstractmethod
    async def get(self, doc_id: str) -> bytes | None:
        """The encoded document, or None if it does not exist at this snapshot."""

    @abc.abstractmethod
    async def scan(
        self,
        index: IndexName,
        start: bytes,
        end: bytes | None,
        *,
        reverse: bool = False,
        limit: int = 256,
    ) -> list[IndexEntry]:
        """Entries with ``start <= key < end`` (``end`` None: unbounded), at most ``limit``.

        Ascending by key, or descending when ``reverse``. Callers page through a
        large range by narrowing ``start`` (or ``end`` when reversed) past the
        last key they got.
        """

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> Snapshot:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Store(abc.ABC):
    """A place to keep documents, index entries and metadata."""

    url: str
    shared: bool = False
    """True when several processes may commit to this store at once; such a store
    implements ``write_checked``, ``feed`` and ``prune_commits``, and its users
    commit through ``write_checked`` (``write`` alone cannot see other processes)."""

    @abc.abstractmethod
    async def open(self) -> StoreMetadata:
        """Take ownership of the store (refusing if another process has it) and load metadata."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def snapshot(self) -> Snapshot:
        """A snapshot of the latest durable state."""

    async def reusable_snapshot(self) -> Snapshot:
        """Like ``snapshot()``, but possibly one that other callers in this process
        read at the same time; ``close()`` gives up this caller's use of it.

        A store whose snapshot reads are short synchronous calls (SQLite) hands
        every caller between two writes the same read transaction, which saves
        opening one per transaction. The default is a fresh ``snapshot()``: a
        store must not share a snapshot that cannot serve overlapping reads (a
        MongoDB session runs one operation at a time).
        """
        return await self.snapshot()

    @abc.abstractmethod
    async def write(self, commits: Sequence[Commit]) -> None:
        """Apply the commits atomically and durably, in order; raise if nothing was applied.

        Also persists ``max_ts = commits[-1].ts``. When this returns, the
        commits survive a crash (at the store's configured durability).
        """

    @abc.abstractmethod
    async def create_table(self, name: str, number: int) -> None:
        """Record a table and its number. Idempotent for the same pair."""

    @abc.abstractmethod
    async def put_index(self, meta: IndexMeta) -> None:
        """Create or update an index's metadata (e.g. backfilling -> ready)."""

    @abc.abstractmethod
    async def drop_index(self, name: IndexName) -> None:
        """Delete an index's metadata and all its entries."""

    @abc.abstractmethod
    async def reserve_ts(self, ts: int) -> None:
        """Persist ``max_ts >= ts`` without a commit (so timestamps stay monotonic)."""

    # -- optional: stores shared by several processes (``shared`` is True) ------

    async def write_checked(self, requests: Sequence[CheckedCommit]) -> list[int | str]:
        """Validate and apply commits atomically, against the commits of every process.

        Per request, in order: its commit timestamp, or the name of the index on
        which its read set conflicts with a commit after its snapshot (including
        requests accepted earlier in the same call). Conflicting requests are not
        applied; the accepted ones are applied together, durably.
        """
        raise NotImplementedError(f"{type(self).__name__} is not a shared store")

    def feed(self, after_seq: int) -> AsyncIterator[FeedEntry]:
        """Every commit with ``seq > after_seq``, in seq order, waiting for new ones.

        Raises ``FeedGapError`` if commits the reader needs were pruned. Close it
        (``contextlib.aclosing``) when done.
        """
        raise NotImplementedError(f"{type(self).__name__} is not a shared store")

    async def prune_commits(self, older_than_ts: int) -> int:
        """Forget the commit records with ``ts < older_than_ts``; returns how many."""
        raise NotImplementedError(f"{type(self).__name__} is not a shared store")
