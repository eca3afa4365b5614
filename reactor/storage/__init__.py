"""Where reactor keeps its data: the storage contract and its stores.

``Store`` and ``Snapshot`` are the contract the engine programs against
(``_contract``); ``SqliteStore`` is the embedded default; ``open_store`` picks
a store from a URL or a path.
"""

from reactor.errors import StoreLockedError
from reactor.storage._contract import (
    Commit,
    DocumentWrite,
    IndexEntry,
    IndexMeta,
    IndexName,
    IndexState,
    IndexWrite,
    Snapshot,
    Store,
    StoreMetadata,
)
from reactor.storage._errors import StoreError, StoreVersionError
from reactor.storage._open import open_store
from reactor.storage._sqlite import Durability, SqliteStore

__all__ = [
    "Commit",
    "DocumentWrite",
    "Durability",
    "IndexEntry",
    "IndexMeta",
    "IndexName",
    "IndexState",
    "IndexWrite",
    "Snapshot",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreLockedError",
    "StoreMetadata",
    "StoreVersionError",
    "open_store",
]
