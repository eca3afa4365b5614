"""How the MongoDB store lays reactor's data out in collections.

* ``docs.<table number>``: one collection per table, ``{_id: <reactor id>, v:
  <encoded document as BinData>}``. Reactor ids encode their table number, so a
  read by id finds its collection with no lookup; ids that are not reactor ids
  (tools, tests) live in ``docs._other``.
* ``index_entries``: ``{_id: "<idx>|<k>", idx, k, d}`` (``d`` the document id),
  unique on ``(idx, k)`` (and so on ``_id``, see ``entry_key``). ``k`` is the key
  as lowercase hex, never BinData: MongoDB orders BinData by length first, so
  byte keys stored as BinData would not range-scan in byte order. Hex keeps
  both byte order and prefixes (the hex of a prefix is a prefix of the hex),
  and MongoDB compares strings bytewise when no collation is set.
* ``meta``: the sequencer ``{_id: "sequencer", ts, seq}`` (``ts`` is max_ts:
  the highest commit or reserved timestamp; ``seq`` the last commit record),
  the prune mark ``{_id: "pruned", seq, ts}``, the schema version, tables
  (``table:<name>`` and ``table#<number>``, so that both name and number are
  unique through ``_id`` alone) and indexes (``index:<name>``).
* ``commits``: one record per commit, ``{_id: seq, ts, written: [{i: index, k:
  [hex keys]}], commit_id}``. ``written`` is a list, not a document keyed by
  index name, because index names contain dots. ``commit_id`` is shared by
  every record of one MongoDB transaction attempt, to recognise that attempt
  after an unknown commit result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import DeleteOne, ReplaceOne

from reactor.storage._contract import Commit, IndexName
from reactor.values import decode_id

__all__ = [
    "COMMITS",
    "ENTRIES",
    "META",
    "OTHER_DOCS",
    "PRUNED",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SEQUENCER",
    "WriteOp",
    "decode_written",
    "docs_collection",
    "encode_written",
    "entry_key",
    "key_str",
    "net_effect",
    "write_ops",
    "written_of",
]

META = "meta"
ENTRIES = "index_entries"
COMMITS = "commits"
OTHER_DOCS = "docs._other"
SEQUENCER = "sequencer"
PRUNED = "pruned"
SCHEMA = "schema"
SCHEMA_VERSION = 1
"""Kept in ``meta`` as ``{_id: "schema", version}``; bump it (and migrate) on a layout change."""

WriteOp = ReplaceOne[dict[str, Any]] | DeleteOne


def key_str(key: bytes) -> str:
    """The order-preserving string form of an index key."""
    return key.hex()


def entry_key(index: IndexName, k: str) -> str:
    """An index entry's ``_id``, a function of ``(idx, k)``.

    The ``k`` part is hex, which never holds ``|``, so the last ``|`` splits it
    back: one ``_id`` per ``(idx, k)``. Two transactions adding the same entry
    then collide on ``_id``, which every wire server reports as a write
    conflict (jongodb drops the connection on a secondary unique-index clash
    found at commit).
    """
    return f"{index}|{k}"


def docs_collection(doc_id: str) -> str:
    number = decode_id(doc_id)
    return OTHER_DOCS if number is None else f"docs.{number}"


def encode_written(written: Mapping[IndexName, Sequence[bytes]]) -> list[dict[str, Any]]:
    return [{"i": index, "k": [key.hex() for key in keys]} for index, keys in written.items()]


def decode_written(raw: Sequence[Mapping[str, Any]]) -> dict[IndexName, list[bytes]]:
    return {item["i"]: [bytes.fromhex(k) for k in item["k"]] for item in raw}


def written_of(commit: Commit) -> dict[IndexName, list[bytes]]:
    """The keys a plain ``write`` commit touched: every set or removed entry.

    The engine sets an entry for every index of every written document and
    removes the old key when it changed, so these are the keys it would
    report as written.
    """
    keys: dict[IndexName, set[bytes]] = {}
    for entry in commit.index_writes:
        keys.setdefault(entry.index, set()).add(entry.key)
    return {index: sorted(found) for index, found in keys.items()}


def net_effect(
    commits: Sequence[Commit],
) -> tuple[dict[str, bytes | None], dict[tuple[IndexName, bytes], str | None]]:
    """Per document id and per (index, key), the last write of the batch.

    Every write sets or deletes one key, so applying only the last one per key
    leaves exactly the state of applying all of them in order. Also checks the
    types, so a malformed batch fails before any MongoDB operation.
    """
    documents: dict[str, bytes | None] = {}
    entries: dict[tuple[IndexName, bytes], str | None] = {}
    for commit in commits:
        for doc in commit.documents:
            if not isinstance(doc.id, str) or not isinstance(doc.value, bytes | None):
                raise TypeError(f"malformed document write {doc!r}")
            documents[doc.id] = doc.value
        for entry in commit.index_writes:
            if not isinstance(entry.key, bytes) or not isinstance(entry.doc_id, str | None):
                raise TypeError(f"malformed index write {entry!r}")
            entries[entry.index, entry.key] = entry.doc_id
    return documents, entries


def write_ops(
    documents: Mapping[str, bytes | None],
    entries: Mapping[tuple[IndexName, bytes], str | None],
) -> dict[str, list[WriteOp]]:
    """The bulk operations per collection that apply a batch's net effect."""
    ops: dict[str, list[WriteOp]] = {}
    for doc_id, value in documents.items():
        bucket = ops.setdefault(docs_collection(doc_id), [])
        if value is None:
            bucket.append(DeleteOne({"_id": doc_id}))
        else:
            bucket.append(ReplaceOne({"_id": doc_id}, {"_id": doc_id, "v": value}, upsert=True))
    for (index, key), target in entries.items():
        bucket = ops.setdefault(ENTRIES, [])
        k = key_str(key)
        entry_id = entry_key(index, k)
        if target is None:
            bucket.append(DeleteOne({"_id": entry_id}))
        else:
            entry = {"_id": entry_id, "idx": index, "k": k, "d": target}
            bucket.append(ReplaceOne({"_id": entry_id}, entry, upsert=True))
    return ops
