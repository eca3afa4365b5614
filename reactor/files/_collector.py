"""Reclaiming the bytes of deleted files.

``ctx.storage.delete`` in a mutation only deletes the ``_storage`` row, inside
the mutation's transaction: the bytes must stay until that commits (and stay
for good if it rolls back). The engine has no after-commit hook, so the
collector polls: ids noted by deletes are removed once their row is gone at
the latest snapshot. A slower sweep of the whole folder removes what polling
cannot see: blobs left by a crash between link and commit, rows deleted by
another process sharing the store, and stale temporary files.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING

import anyio.to_thread

from reactor.files._rows import existing_ids

if TYPE_CHECKING:
    from reactor.engine import Engine

__all__ = ["FileCollector"]

log = logging.getLogger("reactor.files")

_BATCH = 256


class FileCollector:
    def __init__(
        self,
        engine: Engine,
        *,
        interval_s: float = 1.0,
        sweep_interval_s: float = 600.0,
        grace_s: float = 3600.0,
        forget_after_s: float = 60.0,
    ) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.sweep_interval_s = sweep_interval_s
        self.grace_s = grace_s
        """A rowless blob or temporary file younger than this may belong to an
        upload still committing (here or in another process): keep it."""
        self.forget_after_s = forget_after_s
        """A deleted id whose row is still there this long after was rolled back."""

    async def run(self) -> None:
        """Forever: deleted ids every ``interval_s``, the whole folder every
        ``sweep_interval_s`` (first at start). Errors are logged, not raised."""
        next_sweep = 0.0
        while True:
            try:
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.sweep_interval_s
                    await self.sweep()
                await self.collect_deleted()
            except Exception:
                log.exception("reclaiming deleted files failed")
            await asyncio.sleep(self.interval_s)  # a timer, not a sync point

    async def collect_deleted(self) -> int:
        """Remove the bytes of noted ids whose rows are gone; how many were removed."""
        files = self.engine.files
        if not files.deleted:
            return 0
        noted = dict(files.deleted)
        alive = await existing_ids(self.engine, noted)
        removed = 0
        now = time.monotonic()
        for storage_id, when in noted.items():
            if storage_id not in alive:
                await files.remove(storage_id)
                removed += 1
            elif now - when > self.forget_after_s:
                files.deleted.pop(storage_id, None)
        return removed

    async def sweep(self) -> int:
        """Remove rowless blobs and temporary files older than ``grace_s``."""
        files = self.engine.files
        cutoff = time.time() - self.grace_s

        def old_entries(folder: str) -> list[str]:
            found: list[str] = []
            for dirpath, _, names in os.walk(files.root / folder):
                for name in names:
                    path = os.path.join(dirpath, name)
                    try:
                        if os.stat(path).st_mtime < cutoff:
                            found.append(path)
                    except FileNotFoundError:
                        continue
            return found

        for path in await anyio.to_thread.run_sync(old_entries, "tmp"):
            await anyio.Path(path).unlink(missing_ok=True)
        candidates = [
            os.path.basename(path)
            for path in await anyio.to_thread.run_sync(old_entries, "blobs")
            if os.path.basename(path) not in files.in_flight
        ]
        removed = 0
        for start in range(0, len(candidates), _BATCH):
            batch = candidates[start : start + _BATCH]
            alive = await existing_ids(self.engine, batch)
            for storage_id in batch:
                if storage_id not in alive and storage_id not in files.in_flight:
                    await files.remove(storage_id)
                    removed += 1
        if removed:
            log.info("removed %d files whose _storage rows are gone", removed)
        return removed
