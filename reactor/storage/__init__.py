"""Where reactor keeps its data: the storage contract and its stores.

``Store`` and ``Snapshot`` are the contract the engine programs against
(``_contract``); ``SqliteStore`` is the embedded default; ``MongoStore`` the
scale-out store several processes share; ``open_store`` picks a store from a
URL or a path.
"""

from reactor.errors import StoreLockedError
from reactor.storage._contract import (
    CheckedCommit,
    Commit,
    DocumentWrite,
    FeedEntry,
    FeedGapError,
    IndexEntry,
    IndexMeta,
    IndexName,
    IndexState,
    IndexWrite,
    ReadSetLike,
    Snapshot,
    SnapshotExpiredError,
    Store,
    StoreMetadata,
    WrittenKeys,
)
from reactor.storage._errors import StoreError, StoreVersionError
from reactor.storage._mongo import MongoStore
from reactor.storage._mongo_commit import SNAPSHOT_TOO_OLD
from reactor.storage._open import open_store
from reactor.storage._sqlite import Durability, SqliteStore

__all__ = [
    "SNAPSHOT_TOO_OLD",
    "CheckedCommit",
    "Commit",
    "DocumentWrite",
    "Durability",
    "FeedEntry",
    "FeedGapError",
    "IndexEntry",
    "IndexMeta",
    "IndexName",
    "IndexState",
    "IndexWrite",
    "MongoStore",
    "ReadSetLike",
    "Snapshot",
    "SnapshotExpiredError",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreLockedError",
    "StoreMetadata",
    "StoreVersionError",
    "WrittenKeys",
    "open_store",
]
