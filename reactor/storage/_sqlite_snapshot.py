"""Snapshots of the SQLite store: read-only connections, each inside a read transaction.

In WAL mode a read transaction sees the database as of its first read, however
many commits the writer makes meanwhile; that is the whole snapshot mechanism.
Reads run directly on the event loop: they are indexed lookups of a few pages,
cheaper than a hop to a worker thread. A long-open snapshot keeps the WAL from
being checkpointed past it, so close snapshots promptly.

Because reads are short synchronous calls, many callers can read one snapshot
at once: ``ReaderPool.shared_snapshot`` hands out views of one read transaction
until the next write makes it stale, which saves every transaction that starts
between two commits its own ``BEGIN``, read of ``max_ts`` and ``COMMIT``.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import apsw

from reactor.storage._contract import IndexEntry, IndexName, Snapshot
from reactor.storage._errors import StoreError
from reactor.storage._sqlite_schema import read_max_ts

__all__ = ["ReaderPool", "SqliteSnapshot"]

MAX_IDLE_READERS = 16
"""Idle connections kept for reuse; more are opened on demand and closed when returned."""

BUSY_TIMEOUT_MS = 5_000
"""How long SQLite retries a lock. WAL readers almost never wait (only during WAL
recovery after a crash, or if an outside tool holds an exclusive lock)."""

_SCAN = {
    (False, True): "AND e.key < ? ORDER BY e.key ASC LIMIT ?",
    (True, True): "AND e.key < ? ORDER BY e.key DESC LIMIT ?",
    (False, False): "ORDER BY e.key ASC LIMIT ?",
    (True, False): "ORDER BY e.key DESC LIMIT ?",
}
_SCAN_HEAD = (
    "SELECT e.key, e.doc_id, d.value FROM index_entries AS e "
    "LEFT JOIN documents AS d ON d.id = e.doc_id WHERE e.idx = ? AND e.key >= ? "
)


class _SharedRead:
    """One read transaction that several ``SqliteSnapshot`` views read."""

    __slots__ = ("conn", "ts", "users")

    def __init__(self, conn: apsw.Connection, ts: int) -> None:
        self.conn = conn
        self.ts = ts
        self.users = 0


class ReaderPool:
    """Read-only connections to one file, opened lazily and reused when idle."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._idle: list[apsw.Connection] = []
        self._busy: set[apsw.Connection] = set()
        self._shared: _SharedRead | None = None
        """The read transaction ``shared_snapshot`` hands out, until a write makes it stale."""
        self._sharing = True
        self.closed = False

    def acquire(self) -> apsw.Connection:
        if self.closed:
            raise StoreError(f"the store {self._path} is closed")
        conn = self._idle.pop() if self._idle else self._connect()
        self._busy.add(conn)
        return conn

    def release(self, conn: apsw.Connection) -> None:
        """Take back a connection; it must not be inside a transaction any more."""
        self._busy.discard(conn)
        if self.closed or len(self._idle) >= MAX_IDLE_READERS or not conn.get_autocommit():
            conn.close()
        else:
            self._idle.append(conn)

    def close(self) -> None:
        """Close every connection, including those open snapshots still hold."""
        self.closed = True
        self._shared = None
        conns = [*self._idle, *self._busy]
        self._idle.clear()
        self._busy.clear()
        for conn in conns:
            conn.close()

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    def _connect(self) -> apsw.Connection:
        # Read-only: a snapshot can never write, even by mistake.
        conn = apsw.Connection(str(self._path), flags=apsw.SQLITE_OPEN_READONLY)
        conn.set_busy_timeout(BUSY_TIMEOUT_MS)
        return conn

    def snapshot(self) -> SqliteSnapshot:
        conn, ts = self._begin()
        return SqliteSnapshot(self, conn, ts)

    def shared_snapshot(self) -> SqliteSnapshot:
        """A view of the current shared read transaction (begun now if there is none).

        The same as ``snapshot()`` for its reader: the shared transaction sees
        every write that completed before it began, and ``write_done`` retires
        it as soon as another one completes.
        """
        if not self._sharing:
            return self.snapshot()
        shared = self._shared
        if shared is None:
            shared = self._shared = _SharedRead(*self._begin())
        shared.users += 1
        return SqliteSnapshot(self, shared.conn, shared.ts, shared)

    def write_done(self) -> None:
        """A write completed: later ``shared_snapshot`` calls must see it."""
        self._sharing = True
        self._retire()

    def pause_sharing(self) -> None:
        """Until ``write_done``, ``shared_snapshot`` hands out snapshots of their own,
        and the shared one ends as soon as it is unused: no read transaction stays
        open but those in use (for the store's checkpoint, see ``WAL_CHECKPOINT_PAGES``)."""
        self._sharing = False
        self._retire()

    def _retire(self) -> None:
        shared, self._shared = self._shared, None
        if shared is not None and shared.users == 0:
            self._end(shared.conn)

    def _unshare(self, shared: _SharedRead) -> None:
        shared.users -= 1
        # The current one stays open for the next transaction, even unused.
        if shared.users == 0 and shared is not self._shared:
            self._end(shared.conn)

    def _begin(self) -> tuple[apsw.Connection, int]:
        conn = self.acquire()
        try:
            # BEGIN is deferred: the snapshot is fixed by the first read, which is
            # the read of max_ts, so ts is exactly the state the snapshot sees.
            conn.execute("BEGIN")
            ts = read_max_ts(conn)
        except BaseException:
            if not conn.get_autocommit():
                conn.execute("ROLLBACK")
            self.release(conn)
            raise
        return conn, ts

    def _end(self, conn: apsw.Connection) -> None:
        if self.closed:
            return  # the pool closed every connection itself
        try:
            conn.execute("COMMIT")  # ends the read transaction; nothing to write
        finally:
            self.release(conn)


class SqliteSnapshot(Snapshot):
    """A read transaction on a pooled connection; ``close()`` ends it and returns the connection.

    A view of a shared read transaction (``shared`` given) only gives up its
    share on ``close()``; the pool ends the transaction once it is stale and
    unused.
    """

    def __init__(
        self,
        pool: ReaderPool,
        conn: apsw.Connection,
        ts: int,
        shared: _SharedRead | None = None,
    ) -> None:
        self.ts = ts
        self._pool = pool
        self._conn: apsw.Connection | None = conn
        self._shared = shared

    def _live(self) -> apsw.Connection:
        if self._conn is None:
            raise StoreError("this snapshot is closed")
        if self._pool.closed:
            raise StoreError("this snapshot's store is closed")
        return self._conn

    async def get(self, doc_id: str) -> bytes | None:
        row = self._live().execute("SELECT value FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return None if row is None else cast(bytes, row[0])

    async def scan(
        self,
        index: IndexName,
        start: bytes,
        end: bytes | None,
        *,
        reverse: bool = False,
        limit: int = 256,
    ) -> list[IndexEntry]:
        if limit < 0:
            # SQLite reads a negative LIMIT as "no limit"; refuse rather than scan everything.
            raise ValueError(f"limit must be >= 0, got {limit}")
        conn = self._live()
        if limit == 0:
            return []
        sql = _SCAN_HEAD + _SCAN[reverse, end is not None]
        args = (index, start, end, limit) if end is not None else (index, start, limit)
        entries: list[IndexEntry] = []
        for key, doc_id, value in conn.execute(sql, args):
            if value is None:
                # The engine writes an entry and its document in the same commit, so a
                # dangling entry means a bug or a damaged file: never skip it silently.
                raise StoreError(
                    f"index {index!r} has an entry for document {doc_id!r}, which does not exist"
                )
            entries.append(
                IndexEntry(key=cast(bytes, key), doc_id=cast(str, doc_id), value=cast(bytes, value))
            )
        return entries

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or self._pool.closed:
            return  # already closed, or the store closed every connection itself
        if self._shared is not None:
            self._pool._unshare(self._shared)
        else:
            self._pool._end(conn)
