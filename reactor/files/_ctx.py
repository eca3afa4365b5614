"""``ctx.storage``: what queries, mutations and actions may do with files (API.md).

A query reads ``_storage`` rows inside its own transaction, so a live query
that handed out a URL re-runs (and gets None) once the file is deleted. A
mutation's ``delete`` is part of its transaction; the bytes go once it has
committed. An action's calls are each a transaction of their own.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from reactor.files._rows import (
    TABLE,
    StorageError,
    check_content_type,
    check_storage_id,
    commit_blob,
    delete_row,
    expected_digest,
    metadata_of,
    read_row,
)

if TYPE_CHECKING:
    from reactor.engine import Engine
    from reactor.engine._database import SystemWriter

__all__ = ["ActionStorage", "StorageReader", "StorageWriter"]


class _Rows(Protocol):
    """``ctx.db.system`` of the calling function (a reader or reactor's writer)."""

    async def get(self, *args: Any) -> dict[str, Any] | None: ...


class StorageReader:
    """``ctx.storage`` in a query: ``get_url`` and ``get_metadata``."""

    def __init__(self, engine: Engine, system: _Rows) -> None:
        self._engine = engine
        self._system = system

    async def _row(self, storage_id: str) -> dict[str, Any] | None:
        check_storage_id(self._engine.catalog, storage_id)
        return await self._system.get(TABLE, storage_id)

    async def get_url(self, storage_id: str) -> str | None:
        """A URL serving the file to anyone who holds it, or None once it is deleted."""
        row = await self._row(storage_id)
        return None if row is None else self._engine.files.url_for(storage_id)

    async def get_metadata(self, storage_id: str) -> dict[str, Any] | None:
        """Deprecated in Convex: ``{storageId, sha256 (hex), size, contentType}`` or None.
        Prefer ``ctx.db.system.get(storage_id)`` (sha256 in base64)."""
        row = await self._row(storage_id)
        return None if row is None else metadata_of(row)


class StorageWriter(StorageReader):
    """``ctx.storage`` in a mutation: adds ``generate_upload_url`` and ``delete``."""

    def __init__(self, engine: Engine, system: SystemWriter) -> None:
        super().__init__(engine, system)
        self._writer = system

    async def generate_upload_url(self) -> str:
        """A URL valid for 1 hour: POST the raw bytes (with a Content-Type) to it
        and the answer is ``{"storageId": ...}``."""
        # The wall clock, not ctx.now: the upload route checks expiry against it.
        return self._engine.files.upload_url(time.time() * 1000)

    async def delete(self, storage_id: str) -> None:
        """Delete the file with this mutation's commit; rolled back with it."""
        if await self._row(storage_id) is None:
            raise StorageError(f"Storage id {storage_id} not found")
        await self._writer.delete_system(storage_id)
        self._engine.files.note_deleted(storage_id, time.monotonic())


class ActionStorage:
    """``ctx.storage`` in an action: everything, plus ``store`` and ``get``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def get_url(self, storage_id: str) -> str | None:
        row = await read_row(self._engine, storage_id)
        return None if row is None else self._engine.files.url_for(storage_id)

    async def get_metadata(self, storage_id: str) -> dict[str, Any] | None:
        row = await read_row(self._engine, storage_id)
        return None if row is None else metadata_of(row)

    async def generate_upload_url(self) -> str:
        return self._engine.files.upload_url(time.time() * 1000)

    async def delete(self, storage_id: str) -> None:
        await delete_row(self._engine, storage_id)

    async def store(
        self,
        data: bytes | bytearray | memoryview,
        content_type: str | None = None,
        sha256: str | None = None,
    ) -> str:
        """Store ``data``; its ``_storage`` id. With ``sha256`` (hex or base64) the
        bytes must hash to it, or nothing is stored."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise StorageError(f"store() takes bytes, got {type(data).__name__}")
        content_type = check_content_type(content_type)
        expected = expected_digest(sha256) if sha256 is not None else None
        staged = await self._engine.files.stage_bytes(bytes(data))
        if expected is not None and expected != staged.digest:
            staged.discard()
            raise StorageError(
                f"the data's sha256 is {staged.sha256_b64}, not the expected {sha256}"
            )
        return await commit_blob(self._engine, staged, content_type)

    async def get(self, storage_id: str) -> bytes | None:
        """The file's bytes, or None if it is deleted."""
        row = await read_row(self._engine, storage_id)
        if row is None:
            return None
        return await self._engine.files.read(storage_id)
