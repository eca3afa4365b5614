"""The MongoDB store's writes: a commit plan, schema, tables, indexes, the sequencer, pruning.

Functions over the store's collections, each run by ``MongoStore`` (inside a
transaction when it takes a ``session``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from reactor.storage._contract import IndexMeta, IndexName
from reactor.storage._errors import StoreError, StoreVersionError
from reactor.storage._mongo_commit import Plan, Sequencer
from reactor.storage._mongo_layout import (
    COMMITS,
    ENTRIES,
    META,
    PRUNED,
    SCHEMA,
    SCHEMA_VERSION,
    SEQUENCER,
    net_effect,
    write_ops,
)
from reactor.storage._mongo_txn import CommitConflict

__all__ = [
    "apply_plan",
    "create_table",
    "drop_index",
    "is_jongodb",
    "load_catalog",
    "prepare",
    "prune_commits",
    "put_index",
    "read_sequencer",
]

Doc = dict[str, Any]
Database = AsyncDatabase[Doc]
Collection = AsyncCollection[Doc]


async def prepare(db: Database) -> None:
    """Check the schema version; create indexes and the singleton documents if new."""
    meta = db[META]
    schema = await meta.find_one({"_id": SCHEMA})
    if schema is not None and schema["version"] > SCHEMA_VERSION:
        raise StoreVersionError(
            f"the MongoDB database {db.name!r} has store schema version "
            f"{schema['version']}, but this reactor only knows versions up to "
            f"{SCHEMA_VERSION}: upgrade reactor to open it"
        )
    await db[ENTRIES].create_index([("idx", 1), ("k", 1)], unique=True)
    await db[COMMITS].create_index("ts")
    await db[COMMITS].create_index("commit_id")
    for key, initial in (
        (SCHEMA, {"version": SCHEMA_VERSION}),
        (SEQUENCER, {"ts": 0, "seq": 0}),
        (PRUNED, {"ts": 0, "seq": 0}),
    ):
        # Two processes opening a new database at once may both insert.
        with contextlib.suppress(DuplicateKeyError):
            await meta.update_one({"_id": key}, {"$setOnInsert": initial}, upsert=True)


async def is_jongodb(db: Database) -> bool:
    info = await db.client.admin.command("buildInfo")
    return "jongodb" in f"{info.get('version', '')} {info.get('gitVersion', '')}"


async def read_sequencer(meta: Collection, session: AsyncClientSession) -> Sequencer:
    doc = await meta.find_one({"_id": SEQUENCER}, session=session)
    if doc is None:
        raise StoreError("the sequencer document is missing: not a reactor store?")
    return Sequencer(int(doc["ts"]), int(doc["seq"]))


async def load_catalog(
    meta: Collection, session: AsyncClientSession
) -> tuple[dict[str, int], dict[IndexName, IndexMeta]]:
    tables = {
        doc["name"]: doc["number"] async for doc in meta.find({"kind": "table"}, session=session)
    }
    indexes = {
        doc["name"]: IndexMeta(doc["name"], doc["table"], tuple(doc["fields"]), doc["state"])
        async for doc in meta.find({"kind": "index"}, session=session)
    }
    return tables, indexes


async def create_table(
    meta: Collection, session: AsyncClientSession, name: str, number: int
) -> None:
    by_name = await meta.find_one({"_id": f"table:{name}"}, session=session)
    if by_name is not None:
        if by_name["number"] == number:
            return  # already recorded: idempotent
        raise StoreError(f"table {name!r} already has number {by_name['number']}, not {number}")
    by_number = await meta.find_one({"_id": f"table#{number}"}, session=session)
    if by_number is not None:
        raise StoreError(
            f"table number {number} already belongs to table {by_number['name']!r}, "
            f"so it cannot be given to {name!r}"
        )
    # Two documents, so that both the name and the number are unique by _id.
    await meta.insert_many(
        [
            {"_id": f"table:{name}", "kind": "table", "name": name, "number": number},
            {"_id": f"table#{number}", "name": name},
        ],
        session=session,
    )


async def put_index(meta: Collection, session: AsyncClientSession, index: IndexMeta) -> None:
    doc: Doc = {"kind": "index", "name": index.name, "table": index.table}
    doc |= {"fields": list(index.fields), "state": index.state}
    await meta.replace_one({"_id": f"index:{index.name}"}, doc, upsert=True, session=session)


async def drop_index(db: Database, session: AsyncClientSession, name: IndexName) -> None:
    await db[ENTRIES].delete_many({"idx": name}, session=session)
    await db[META].delete_one({"_id": f"index:{name}"}, session=session)


async def prune_commits(db: Database, session: AsyncClientSession, older_than_ts: int) -> int:
    """Delete the records with ``ts < older_than_ts`` but the newest, and raise the prune mark.

    Keeping the newest record means a feed reader behind the prune mark always
    finds a record past its next seq, which is what makes it look at the mark.
    """
    commits, meta = db[COMMITS], db[META]
    sequencer = await read_sequencer(meta, session)
    where = {"ts": {"$lt": older_than_ts}, "_id": {"$lt": sequencer.seq}}
    newest = await commits.find(where, session=session).sort("_id", -1).limit(1).to_list(1)
    if not newest:
        return 0
    upto = {"_id": {"$lte": newest[0]["_id"]}}
    top = await commits.find(upto, session=session).sort("ts", -1).limit(1).to_list(1)
    deleted = await commits.delete_many(upto, session=session)
    # Computed here rather than with $max, which jongodb lacks.
    mark = await meta.find_one({"_id": PRUNED}, session=session) or {"seq": 0, "ts": 0}
    seq, ts = max(mark["seq"], newest[0]["_id"]), max(mark["ts"], top[0]["ts"])
    await meta.update_one({"_id": PRUNED}, {"$set": {"seq": seq, "ts": ts}}, session=session)
    return deleted.deleted_count


async def apply_plan(
    db: Database, session: AsyncClientSession, commit_id: str, plan: Plan, before: Sequencer
) -> None:
    """Write a plan's commit records, documents, index entries and sequencer."""
    if plan.sequencer == before:
        return
    # Commit records first: a transaction that raced us for the same seqs fails
    # here (or at commit), before it writes anything else.
    records = [record | {"commit_id": commit_id} for record in plan.records]
    try:
        await db[COMMITS].insert_many(records, session=session)
    except (DuplicateKeyError, BulkWriteError) as exc:
        if isinstance(exc, BulkWriteError) and not _only_duplicates(exc):
            raise
        raise CommitConflict(f"commit records {records[0]['_id']}... were taken") from exc
    documents, entries = net_effect(plan.commits)
    for name, ops in write_ops(documents, entries).items():
        await db[name].bulk_write(ops, session=session)
    # The sequencer last: every process writes it, so hold it the shortest time.
    after = plan.sequencer
    updated = await db[META].update_one(
        {"_id": SEQUENCER, "seq": before.seq},
        {"$set": {"ts": after.ts, "seq": after.seq}},
        session=session,
    )
    if updated.matched_count != 1:
        raise CommitConflict("the sequencer moved during the transaction")


def _only_duplicates(exc: BulkWriteError) -> bool:
    errors = exc.details.get("writeErrors", [])
    return bool(errors) and all(error.get("code") == 11000 for error in errors)
