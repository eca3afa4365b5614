"""The embedded store: one SQLite file in WAL mode, on apsw.

Threads and connections:

* One writer connection. Every write (``write``, ``create_table``,
  ``put_index``, ``drop_index``, ``reserve_ts``) takes an async lock, then runs
  its whole transaction in the store's one writer thread, so ``fsync`` never
  blocks the event loop and the writer is only ever used by one thread at a time.
* A pool of read-only connections for snapshots (see ``_sqlite_snapshot``).
  Reads run on the event loop; WAL lets them proceed while the writer commits.
* A lock file beside the database, so only one store (one process) commits to
  a file; see ``_lockfile``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_args

import anyio
import apsw
import orjson

from reactor.storage._contract import (
    Commit,
    IndexMeta,
    IndexName,
    Snapshot,
    Store,
    StoreMetadata,
)
from reactor.storage._errors import StoreError
from reactor.storage._lockfile import LockFile
from reactor.storage._sqlite_schema import create_schema_if_new, load_metadata, prepare_schema
from reactor.storage._sqlite_snapshot import BUSY_TIMEOUT_MS, ReaderPool

__all__ = ["Durability", "SqliteStore"]

log = logging.getLogger("reactor.storage")

Durability = Literal["full", "normal", "off"]

_SYNCHRONOUS: dict[Durability, str] = {"full": "FULL", "normal": "NORMAL", "off": "OFF"}

WAL_CHECKPOINT_PAGES = 1000
"""Copy the WAL back into the database once it holds this many pages (SQLite's
own threshold), before the next write. Not SQLite's automatic checkpoint, which
runs at the end of a commit: the snapshot transactions share (``ReaderPool``)
still reads the WAL then, so the checkpoint could never copy all of it, and a
WAL is only started over once all of it is copied; it would grow without end.
Before a write, with sharing paused, the WAL is copied whole and the write
starts it over."""

MAX_TS = 2**63 - 1
"""SQLite integers are signed 64-bit; 2**63 ns after the epoch is in the year 2262."""

_T = TypeVar("_T")


class SqliteStore(Store):
    """A reactor store in one SQLite file (plus its ``-wal``, ``-shm`` and ``.lock`` files).

    ``durability`` chooses what an acknowledged ``write`` survives:

    * ``"full"`` (default): ``synchronous=FULL``. The WAL is fsynced at every
      commit, so a write that returned is on disk and survives a process crash,
      an OS crash and a power loss. Group commit amortizes the fsync.
    * ``"normal"``: ``synchronous=NORMAL``. The WAL is fsynced only at
      checkpoints: a process crash loses nothing, but an OS crash or a power
      loss may lose the last acknowledged commits (the file stays consistent).
    * ``"off"``: ``synchronous=OFF``. SQLite never fsyncs. A process crash loses
      nothing; an OS crash or power loss may lose commits and may corrupt the
      file. For tests and throwaway data only.
    """

    def __init__(
        self, path: str | Path, *, durability: Durability = "full", writer_thread: bool = True
    ) -> None:
        """``writer_thread=False`` runs the writer's work on the event loop itself,
        blocking it for every write and fsync. Only for deterministic simulations,
        where a worker thread's timing would make runs unrepeatable."""
        if durability not in get_args(Durability):
            raise ValueError(f"durability must be 'full', 'normal' or 'off', not {durability!r}")
        # Resolve symlinks so two spellings of one file share one lock file.
        self.path = Path(path).resolve()
        self.url = f"sqlite://{self.path}"
        self.durability: Durability = durability
        self._lock_file = LockFile(self.path.with_name(self.path.name + ".lock"), self.path)
        # fast_acquire: an uncontended write goes to the writer thread without first
        # yielding to the event loop (see _off_loop).
        self._write_lock = anyio.Lock(fast_acquire=True)
        self._writer_thread = writer_thread
        # The writer's own thread (started on first use): a commit never queues
        # behind other users of a shared worker pool, and the writer's work runs
        # strictly one call after another, even when a caller gave up waiting.
        self._thread: _WriterThread | None = None
        self._writer: apsw.Connection | None = None
        self._readers = ReaderPool(self.path)
        self._wal_pages = 0
        """Pages in the WAL after the last commit (see ``WAL_CHECKPOINT_PAGES``)."""
        self._state: Literal["new", "opening", "open", "closed"] = "new"

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r}, durability={self.durability!r})"

    async def open(self) -> StoreMetadata:
        if self._state != "new":
            raise StoreError(f"{self!r} was already opened; open a new SqliteStore instead")
        self._state = "opening"
        try:
            self._lock_file.acquire()
            async with self._write_lock:
                metadata = await self._off_loop(self._connect_writer)
        except BaseException:
            # Also on cancellation: the thread still finished, and may have
            # connected, so close what it opened.
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.close()
            thread, self._thread = self._thread, None
            if thread is not None:
                thread.stop()
            self._lock_file.release()
            self._state = "new"
            raise
        if self._state == "opening":  # not closed meanwhile
            self._state = "open"
        return metadata

    def _connect_writer(self) -> StoreMetadata:
        """Connect, check or create the schema, load metadata; sets ``self._writer``."""
        conn = apsw.Connection(str(self.path))
        try:
            conn.set_busy_timeout(BUSY_TIMEOUT_MS)
            prepare_schema(conn, self.path)  # before WAL: a foreign file stays untouched
            mode = conn.pragma("journal_mode", "wal")
            if mode != "wal":
                raise StoreError(f"{self.path}: SQLite refused WAL mode (got {mode!r})")
            conn.pragma("synchronous", _SYNCHRONOUS[self.durability])
            if self.durability == "full":
                # Only matters on macOS, where plain fsync does not reach the platter.
                conn.pragma("fullfsync", True)
            create_schema_if_new(conn)
            metadata = load_metadata(conn)
            # Replaces SQLite's automatic checkpoints, which _with_writer runs instead.
            conn.set_wal_hook(self._wal_grew)
        except BaseException:
            conn.close()
            raise
        self._writer = conn
        return metadata

    async def close(self) -> None:
        if self._state == "closed":
            return
        self._state = "closed"
        # Shielded: a cancelled close must still release the file and the lock.
        with anyio.CancelScope(shield=True):
            async with self._write_lock:  # wait for an in-flight write to finish
                writer, self._writer = self._writer, None
                try:
                    self._readers.close()
                    if writer is not None:
                        # The last connection to close checkpoints the WAL into
                        # the database: file I/O, so off the event loop.
                        await self._off_loop(writer.close)
                finally:
                    self._lock_file.release()
                    thread, self._thread = self._thread, None
                    if thread is not None:
                        thread.stop()

    async def snapshot(self) -> Snapshot:
        self._check_open()
        return self._readers.snapshot()

    async def reusable_snapshot(self) -> Snapshot:
        self._check_open()
        return self._readers.shared_snapshot()

    async def write(self, commits: Sequence[Commit]) -> None:
        if not commits:
            return
        last = -1
        for commit in commits:
            _check_ts(commit.ts)
            if commit.ts <= last:
                raise ValueError(
                    f"commit timestamps must strictly increase within a batch: {commit.ts} "
                    f"follows {last}"
                )
            last = commit.ts
        await self._transaction(lambda conn: _apply(conn, commits))

    async def create_table(self, name: str, number: int) -> None:
        def create(conn: apsw.Connection) -> None:
            for have_name, have_number in conn.execute(
                "SELECT name, number FROM tables WHERE name = ? OR number = ?", (name, number)
            ):
                if have_name == name and have_number == number:
                    return  # already recorded: idempotent
                if have_name == name:
                    raise StoreError(
                        f"table {name!r} already has number {have_number}, not {number}"
                    )
                raise StoreError(
                    f"table number {number} already belongs to table {have_name!r}, "
                    f"so it cannot be given to {name!r}"
                )
            conn.execute("INSERT INTO tables (name, number) VALUES (?, ?)", (name, number))

        await self._transaction(create)

    async def put_index(self, meta: IndexMeta) -> None:
        fields = orjson.dumps(list(meta.fields)).decode()

        def put(conn: apsw.Connection) -> None:
            conn.execute(
                "INSERT INTO indexes (name, tbl, fields, state) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET "
                "tbl = excluded.tbl, fields = excluded.fields, state = excluded.state",
                (meta.name, meta.table, fields, meta.state),
            )

        await self._transaction(put)

    async def drop_index(self, name: IndexName) -> None:
        def drop(conn: apsw.Connection) -> None:
            conn.execute("DELETE FROM index_entries WHERE idx = ?", (name,))
            conn.execute("DELETE FROM indexes WHERE name = ?", (name,))

        await self._transaction(drop)

    async def reserve_ts(self, ts: int) -> None:
        _check_ts(ts)
        await self._transaction(lambda conn: _raise_max_ts(conn, ts))

    async def pragmas(self) -> dict[str, int | str]:
        """The writer connection's settings, for diagnostics (and the tests that check them)."""

        def read(conn: apsw.Connection) -> dict[str, int | str]:
            names = ("journal_mode", "synchronous", "fullfsync", "busy_timeout", "user_version")
            return {name: cast(int | str, conn.pragma(name)) for name in names}

        return await self._with_writer(read)

    async def _transaction(self, fn: Callable[[apsw.Connection], _T]) -> _T:
        """Run ``fn`` in one ``BEGIN IMMEDIATE`` transaction on the writer, in a worker thread."""
        return await self._with_writer(lambda conn: _in_transaction(conn, fn))

    async def _with_writer(self, fn: Callable[[apsw.Connection], _T]) -> _T:
        self._check_open()
        async with self._write_lock:
            writer = self._writer
            if writer is None:  # closed while we waited for the lock
                raise StoreError(f"the store {self.path} is closed")
            checkpoint = self._wal_pages >= WAL_CHECKPOINT_PAGES
            if checkpoint:
                self._wal_pages = 0
                # Until this write is done, no snapshot outlives its transaction.
                self._readers.pause_sharing()
            # The lock stays held until the thread is done with the writer (see
            # _off_loop), so the next write never overlaps this one.
            return await self._off_loop(lambda: _run(writer, fn, checkpoint=checkpoint))

    def _wal_grew(self, conn: apsw.Connection, name: str, pages: int) -> int:
        """The writer's WAL hook (in the writer's thread, after each commit)."""
        self._wal_pages = pages
        return apsw.SQLITE_OK

    async def _off_loop(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` in the writer's thread (or inline, without ``writer_thread``), then
        retire the shared snapshot (see ``ReaderPool.shared_snapshot``).

        The work is handed to the thread before this first yields to the event
        loop (``anyio.to_thread`` checkpoints first): the committer's batch is
        being written while the mutations its previous batch released run,
        instead of after them.
        """
        if not self._writer_thread:
            try:
                return fn()
            finally:
                self._readers.write_done()
        if self._thread is None:
            self._thread = _WriterThread("reactor-sqlite-writer")
        future = self._thread.submit(fn)
        # When the thread is done (not when the caller stops waiting), whatever it
        # wrote is visible to new snapshots: stop sharing the old one. This runs
        # before the caller resumes, so it never sees a snapshot without its write.
        future.add_done_callback(lambda _: self._readers.write_done())
        # Not abandoned when an anyio cancel scope is cancelled: wait for the
        # thread to be done with the writer (the one thread serializes the
        # writer's work anyway, whatever the caller does).
        with anyio.CancelScope(shield=True):
            result = await future
        return result

    def _check_open(self) -> None:
        if self._state in ("new", "opening"):
            raise StoreError(f"the store {self.path} is not open: await store.open() first")
        if self._state == "closed":
            raise StoreError(f"the store {self.path} is closed")


class _WriterThread:
    """The writer's thread: runs the calls handed to it one after another, and
    answers each on its caller's event loop.

    What a one-worker ``ThreadPoolExecutor`` with ``loop.run_in_executor`` does,
    minus its machinery (a ``concurrent.futures.Future`` chained to the asyncio
    one, an idle semaphore, shutdown locks): one queue put per call, one
    ``call_soon_threadsafe`` per answer, for every batch of commits.

    A daemon thread, so that a store nobody closed does not keep the process
    alive; a write cut short at exit is rolled back by SQLite, and was never
    acknowledged.
    """

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def submit(self, fn: Callable[[], _T]) -> asyncio.Future[_T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        self._calls.put((loop, future, fn))
        return future

    def stop(self) -> None:
        """End the thread once the calls already handed to it are done."""
        self._calls.put(None)

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            loop, future, fn = call
            del call  # hold nothing of a finished call while waiting for the next
            result: Any = None
            error: BaseException | None = None
            try:
                result = fn()
            except BaseException as exc:  # handed over, as ThreadPoolExecutor does
                error = exc
            # A closed event loop refuses the answer: nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, result, error)
            del loop, future, fn, result, error


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def _check_ts(ts: int) -> None:
    if not 0 <= ts <= MAX_TS:
        raise ValueError(f"timestamp {ts} is outside 0..2**63-1")


def _in_transaction(conn: apsw.Connection, fn: Callable[[apsw.Connection], _T]) -> _T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT may already have rolled back; only roll back what is open.
        if not conn.get_autocommit():
            conn.execute("ROLLBACK")
        raise
    return result


def _run(conn: apsw.Connection, fn: Callable[[apsw.Connection], _T], *, checkpoint: bool) -> _T:
    """The writer's work, after a checkpoint if one is due (see ``WAL_CHECKPOINT_PAGES``)."""
    if checkpoint:
        try:
            conn.wal_checkpoint(mode=apsw.SQLITE_CHECKPOINT_PASSIVE)
        except apsw.Error:
            # As with SQLite's automatic checkpoints: a failed checkpoint fails no write.
            log.warning("checkpointing %s failed", conn.filename, exc_info=True)
    return fn(conn)


def _apply(conn: apsw.Connection, commits: Sequence[Commit]) -> None:
    """Apply the batch's net effect: per document id and per (index, key), the last write wins.

    Every write is a set or a delete of one key, so applying only the last write
    to each key inside one transaction leaves exactly the state of applying all
    of them in order, with one ``executemany`` per kind of statement.
    """
    documents: dict[str, tuple[str, bytes | None]] = {}
    entries: dict[tuple[IndexName, bytes], str | None] = {}
    for commit in commits:
        for doc in commit.documents:
            documents[doc.id] = (doc.table, doc.value)
        for entry in commit.index_writes:
            entries[entry.index, entry.key] = entry.doc_id
    conn.executemany(
        "DELETE FROM documents WHERE id = ?",
        [(doc_id,) for doc_id, (_, value) in documents.items() if value is None],
    )
    conn.executemany(
        "INSERT INTO documents (id, tbl, value) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET tbl = excluded.tbl, value = excluded.value",
        [(doc_id, tbl, value) for doc_id, (tbl, value) in documents.items() if value is not None],
    )
    conn.executemany(
        "DELETE FROM index_entries WHERE idx = ? AND key = ?",
        [(idx, key) for (idx, key), doc_id in entries.items() if doc_id is None],
    )
    conn.executemany(
        "INSERT INTO index_entries (idx, key, doc_id) VALUES (?, ?, ?) "
        "ON CONFLICT (idx, key) DO UPDATE SET doc_id = excluded.doc_id",
        [(idx, key, doc_id) for (idx, key), doc_id in entries.items() if doc_id is not None],
    )
    _raise_max_ts(conn, commits[-1].ts)


def _raise_max_ts(conn: apsw.Connection, ts: int) -> None:
    # max(): max_ts never moves backwards, even after a reserve_ts beyond this commit.
    conn.execute("UPDATE globals SET value = max(value, ?) WHERE key = 'max_ts'", (ts,))
