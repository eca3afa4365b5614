"""``_storage`` rows: reading them outside a function, and committing new files.

A row is ``{sha256 (base64), size, contentType?}`` plus ``_id`` and
``_creationTime`` (STO-02; base64 as the current reference backend sends,
SEMANTICS.md discrepancy 7). The blob is named by the row's id, so the row
carries no bookkeeping of ours.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from reactor.errors import ReactorError

if TYPE_CHECKING:
    from reactor.engine import Engine, MutationCtx
    from reactor.engine._catalog import Catalog
    from reactor.files._blobs import StagedBlob

__all__ = [
    "TABLE",
    "StorageError",
    "check_storage_id",
    "commit_blob",
    "delete_row",
    "existing_ids",
    "metadata_of",
    "read_row",
]

TABLE = "_storage"


class StorageError(ReactorError):
    """A storage call that cannot be done: a wrong id, a missing file, a bad hash."""


def check_storage_id(catalog: Catalog, storage_id: Any) -> str:
    """``storage_id`` if it names a ``_storage`` document; an error for anything else."""
    if not isinstance(storage_id, str) or catalog.table_name_for_id(storage_id) != TABLE:
        raise StorageError(f"{storage_id!r} is not a storage id (an Id<'_storage'>)")
    return storage_id


def metadata_of(row: dict[str, Any]) -> dict[str, Any]:
    """The deprecated ``getMetadata`` shape (STO-06): the hash in hex, as it was then."""
    return {
        "storageId": row["_id"],
        "sha256": base64.b64decode(row["sha256"]).hex(),
        "size": row["size"],
        "contentType": row.get("contentType"),
    }


def expected_digest(sha256: str) -> bytes:
    """A caller's expected hash, in hex (64 digits) or base64."""
    try:
        return (
            bytes.fromhex(sha256) if len(sha256) == 64 else base64.b64decode(sha256, validate=True)
        )
    except (ValueError, binascii.Error):
        raise StorageError(f"sha256 must be hex or base64, got {sha256!r}") from None


def check_content_type(content_type: Any) -> str | None:
    if content_type is None:
        return None
    # It goes back out as a response header: printable ASCII only.
    if not isinstance(content_type, str) or not all(" " <= c <= "~" for c in content_type):
        raise StorageError(f"content_type must be a printable ASCII string, got {content_type!r}")
    return content_type or None


def _system(ctx: MutationCtx, engine: Engine) -> Any:
    from reactor.engine._database import SystemWriter
    from reactor.engine._query import PaginationState

    return SystemWriter(ctx._tx, PaginationState(), engine)


async def read_row(engine: Engine, storage_id: str) -> dict[str, Any] | None:
    """The row at the latest snapshot (for actions and the download route)."""
    check_storage_id(engine.catalog, storage_id)

    async def body(ctx: MutationCtx) -> dict[str, Any] | None:
        return await ctx.db.system.get(TABLE, storage_id)

    row: dict[str, Any] | None = (await engine.run_in_transaction(body)).unwrap()
    return row


async def existing_ids(engine: Engine, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` still have a row (ids of other tables count as gone)."""
    wanted = [i for i in ids if engine.catalog.table_name_for_id(i) == TABLE]

    async def body(ctx: MutationCtx) -> set[str]:
        return {i for i in wanted if await ctx.db.system.get(TABLE, i) is not None}

    found: set[str] = (await engine.run_in_transaction(body)).unwrap()
    return found


async def commit_blob(engine: Engine, staged: StagedBlob, content_type: str | None) -> str:
    """Give a staged blob its row; the id of the committed row.

    The blob is linked under the new id *before* the commit, so a row never
    exists without its bytes. An attempt that does not commit (a conflict
    re-run, an error, a crash) leaves at most a rowless blob for the collector.
    """
    files = engine.files
    linked: list[str] = []
    row: dict[str, Any] = {"sha256": staged.sha256_b64, "size": staged.size}
    if content_type is not None:
        row["contentType"] = content_type

    async def body(ctx: MutationCtx) -> str:
        storage_id: str = await _system(ctx, engine).insert(TABLE, dict(row))
        linked.append(storage_id)
        await files.place(staged, storage_id)
        return storage_id

    committed: str | None = None
    try:
        committed = (await engine.run_in_transaction(body)).unwrap()
        return committed
    finally:
        staged.discard()
        for storage_id in linked:
            if storage_id != committed:
                await files.remove(storage_id)
            files.settle(storage_id)


async def delete_row(engine: Engine, storage_id: str) -> None:
    """Delete a file in a transaction of its own (an action's ``delete``), then its bytes."""
    check_storage_id(engine.catalog, storage_id)

    async def body(ctx: MutationCtx) -> None:
        system = _system(ctx, engine)
        if await system.get(TABLE, storage_id) is None:
            raise StorageError(f"Storage id {storage_id} not found")
        await system.delete_system(storage_id)

    (await engine.run_in_transaction(body)).unwrap()
    await engine.files.remove(storage_id)
