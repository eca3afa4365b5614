"""What only the SQLite store promises: its file, pragmas, lock file and failure modes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import cast

import anyio
import apsw
import pytest

from reactor.storage import (
    Commit,
    DocumentWrite,
    IndexEntry,
    IndexWrite,
    SqliteStore,
    StoreError,
    StoreLockedError,
    StoreVersionError,
)
from reactor.storage._sqlite import WAL_CHECKPOINT_PAGES, Durability

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]


def raw(path: Path) -> apsw.Connection:
    """A plain connection to the file, as an outside tool would open it."""
    return apsw.Connection(str(path))


def put(ts: int, doc_id: str, value: bytes | None, key: bytes | None = None) -> Commit:
    writes = () if key is None else (IndexWrite("t.k", key, doc_id if value else None),)
    return Commit(ts=ts, documents=(DocumentWrite("t", doc_id, value),), index_writes=writes)


@pytest.mark.parametrize(
    ("durability", "synchronous", "fullfsync"), [("full", 2, 1), ("normal", 1, 0), ("off", 0, 0)]
)
async def test_durability_sets_synchronous(
    tmp_path: Path, durability: Durability, synchronous: int, fullfsync: int
) -> None:
    store = SqliteStore(tmp_path / "a.db", durability=durability)
    await store.open()
    try:
        pragmas = await store.pragmas()
    finally:
        await store.close()
    assert pragmas["synchronous"] == synchronous
    assert pragmas["fullfsync"] == fullfsync
    assert pragmas["journal_mode"] == "wal"
    assert cast(int, pragmas["busy_timeout"]) > 0


async def test_the_file_is_wal_and_has_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    conn = raw(path)
    try:
        assert conn.pragma("journal_mode") == "wal"  # persistent: it is in the file
        assert conn.pragma("user_version") == 1
        names = {
            name for (name,) in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")
        }
        assert {"documents", "index_entries", "tables", "indexes", "globals"} <= names
        assert conn.execute("SELECT value FROM globals WHERE key='max_ts'").fetchall() == [(0,)]
    finally:
        conn.close()


async def test_close_closes_every_connection(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SqliteStore(path)
    await store.open()
    await store.write([put(1, "a", b"A")])
    snaps = [await store.snapshot() for _ in range(3)]
    await snaps[0].close()
    await store.close()  # two snapshots still open: the store closes them too
    # SQLite removes the WAL only when the last connection to the file closes.
    assert not await anyio.Path(f"{path}-wal").exists()
    for snap in snaps:
        await snap.close()


async def test_idle_readers_are_reused_and_capped(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    await store.open()
    try:
        snaps = [await store.snapshot() for _ in range(40)]
        for snap in snaps:
            await snap.close()
        assert store._readers.idle_count == 16
        async with await store.snapshot():
            assert store._readers.idle_count == 15  # reused, not a new connection
    finally:
        await store.close()


async def test_reusable_snapshots_share_one_read_until_a_write(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    await store.open()
    try:
        await store.write([put(1, "a", b"A")])
        first, second = await store.reusable_snapshot(), await store.reusable_snapshot()
        assert store._readers.idle_count == 0  # one connection serves both
        assert (first.ts, second.ts) == (1, 1)
        await first.close()
        with pytest.raises(StoreError, match="closed"):
            await first.get("a")
        await first.close()  # closing twice is harmless
        assert await second.get("a") == b"A"  # the other view reads on
        await second.close()
        third = await store.reusable_snapshot()  # unused, the read stayed open for reuse
        assert third.ts == 1 and store._readers.idle_count == 0

        await store.write([put(2, "a", b"B")])  # the shared read is stale from here
        fourth = await store.reusable_snapshot()
        assert fourth.ts == 2 and await fourth.get("a") == b"B"
        assert await third.get("a") == b"A"  # an open view keeps its snapshot
        await third.close()  # its last view: the stale read ends, its connection is idle
        assert store._readers.idle_count == 1
        await fourth.close()
        await store.write([put(3, "b", b"C")])  # no view left: ended at once
        assert store._readers.idle_count == 2
        async with await store.reusable_snapshot() as fifth:
            assert fifth.ts == 3 and await fifth.get("b") == b"C"
            async with await store.snapshot() as own:  # snapshot() never shares
                assert own.ts == 3 and store._readers.idle_count == 0
    finally:
        await store.close()


async def test_the_wal_starts_over_while_transactions_share_reads(tmp_path: Path) -> None:
    """Between two writes the shared read stays open, unused, for the next reader: the
    store must still copy the whole WAL back and start it over, or it grows forever."""
    path = tmp_path / "a.db"
    store = SqliteStore(path, durability="off")
    await store.open()
    try:
        for i in range(1, 1201):  # over 3 pages a commit: several times WAL_CHECKPOINT_PAGES
            async with await store.reusable_snapshot() as snap:
                assert snap.ts == i - 1
            await store.write([put(i, f"d{i}", b"x" * 5000, f"k{i}".encode())])
        wal = (await anyio.Path(f"{path}-wal").stat()).st_size
        assert wal < 2 * WAL_CHECKPOINT_PAGES * 4096
        async with await store.reusable_snapshot() as snap:
            assert snap.ts == 1200 and await snap.get("d1") == b"x" * 5000
    finally:
        await store.close()


async def test_a_failed_write_retires_the_shared_read_too(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SqliteStore(path)
    await store.open()
    outside = raw(path)
    try:
        await store.write([put(1, "a", b"A")])
        view = await store.reusable_snapshot()
        # Something the shared read cannot see, then a write that fails.
        outside.execute("INSERT INTO documents (id, tbl, value) VALUES ('x', 't', x'00')")
        outside.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON documents WHEN NEW.id = 'boom' "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
        with pytest.raises(apsw.ConstraintError, match="injected failure"):
            await store.write([put(2, "boom", b"B")])
        assert await view.get("x") is None
        async with await store.reusable_snapshot() as after:
            assert after.ts == 1 and await after.get("x") == b"\x00"
        await view.close()
    finally:
        outside.close()
        await store.close()


async def test_a_sqlite_failure_midway_rolls_the_batch_back(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SqliteStore(path)
    await store.open()
    outside = raw(path)
    try:
        await store.write([put(1, "keep", b"K", b"kk")])
        # A trigger makes SQLite itself fail on one row, after the batch's other
        # statements (the delete of "keep", the insert of "a") have already run.
        outside.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON documents WHEN NEW.id = 'boom' "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
        batch = [put(2, "keep", None, b"kk"), put(3, "a", b"A", b"ka"), put(4, "boom", b"B")]
        with pytest.raises(apsw.ConstraintError, match="injected failure"):
            await store.write(batch)
        async with await store.snapshot() as snap:
            assert snap.ts == 1
            assert (await snap.get("keep"), await snap.get("a")) == (b"K", None)
            assert await snap.scan("t.k", b"", None) == [IndexEntry(b"kk", "keep", b"K")]
        outside.execute("DROP TRIGGER boom")
        await store.write(batch)
        async with await store.snapshot() as snap:
            assert snap.ts == 4
            assert (await snap.get("keep"), await snap.get("boom")) == (None, b"B")
    finally:
        outside.close()
        await store.close()


async def test_a_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    conn = raw(path)
    conn.pragma("user_version", 99)
    conn.close()
    for _ in range(2):  # the failed open released the lock: the second fails the same way
        with pytest.raises(StoreVersionError, match="version 99"):
            await SqliteStore(path).open()


async def test_a_foreign_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = raw(path)
    conn.execute("CREATE TABLE mine (x)")
    conn.close()
    with pytest.raises(StoreError, match="not a reactor store"):
        await SqliteStore(path).open()
    conn = raw(path)
    try:
        assert conn.pragma("journal_mode") == "delete"
    finally:
        conn.close()


async def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the pages you are looking for" * 100)
    with pytest.raises(StoreError, match="not a SQLite database"):
        await SqliteStore(path).open()


async def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        SqliteStore(tmp_path / "a.db", durability=cast(Durability, "sometimes"))
    store = SqliteStore(tmp_path / "a.db")
    with pytest.raises(StoreError, match="not open"):
        await store.snapshot()
    await store.open()
    try:
        with pytest.raises(StoreError, match="already opened"):
            await store.open()
        with pytest.raises(ValueError, match="outside"):
            await store.write([put(2**63, "a", b"A")])
        with pytest.raises(ValueError, match="outside"):
            await store.reserve_ts(-1)
    finally:
        await store.close()


def test_url_names_the_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    assert store.url == f"sqlite://{tmp_path.resolve()}/a.db"


# The lock file -------------------------------------------------------------


async def test_a_second_store_on_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    (tmp_path / "link.db").symlink_to(path)
    first = SqliteStore(path)
    await first.open()
    try:
        for other in (path, tmp_path / "link.db"):
            with pytest.raises(StoreLockedError) as refused:
                await SqliteStore(other).open()
            assert str(path.resolve()) in str(refused.value)
            assert f"pid {os.getpid()}" in str(refused.value)
    finally:
        await first.close()
    again = SqliteStore(path)  # released on close
    await again.open()
    await again.close()


async def test_a_refused_open_can_be_retried(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    first = SqliteStore(path)
    await first.open()
    second = SqliteStore(path)
    with pytest.raises(StoreLockedError):
        await second.open()
    await first.close()
    await second.open()
    await second.close()


async def test_one_store_opened_twice_at_once(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    outcomes: list[str] = []

    async def try_open() -> None:
        try:
            await store.open()
            outcomes.append("opened")
        except StoreError:
            outcomes.append("refused")

    async with anyio.create_task_group() as tg:
        tg.start_soon(try_open)
        tg.start_soon(try_open)
    await store.close()
    assert sorted(outcomes) == ["opened", "refused"]


TRY_OPEN = """
import asyncio, sys
from reactor.storage import SqliteStore, StoreLockedError

async def main() -> None:
    store = SqliteStore(sys.argv[1])
    try:
        await store.open()
    except StoreLockedError as exc:
        print("refused:", exc)
        return
    await store.close()
    print("opened")

asyncio.run(main())
"""

HOLD_OPEN = """
import asyncio, sys
from reactor.storage import SqliteStore

asyncio.run(SqliteStore(sys.argv[1]).open())
print("ready", flush=True)
sys.stdin.read()  # hold the store until killed
"""

WRITE_AND_CRASH = """
import asyncio, os, signal, sys
from reactor.storage import Commit, DocumentWrite, SqliteStore

async def main() -> None:
    store = SqliteStore(sys.argv[1], durability=sys.argv[2])
    await store.open()
    await store.write([Commit(ts=7, documents=(DocumentWrite("t", "a", b"survived"),))])
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no cleanup

asyncio.run(main())
"""


def child_env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }


async def python(code: str, *args: str, check: bool = True) -> tuple[int, str]:
    done = await anyio.run_process(
        [sys.executable, "-c", code, *args], env=child_env(), check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(done.stderr.decode())
    return done.returncode, done.stdout.decode()


async def test_another_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SqliteStore(path)
    await store.open()
    try:
        _, out = await python(TRY_OPEN, str(path))
        assert out.startswith("refused:")
        assert f"process {os.getpid()}" in out
    finally:
        await store.close()
    _, out = await python(TRY_OPEN, str(path))
    assert out.strip() == "opened"


async def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with await anyio.open_process(
        [sys.executable, "-c", HOLD_OPEN, str(path)], env=child_env()
    ) as child:
        assert child.stdout is not None
        seen = b""
        with anyio.fail_after(30):
            while b"ready" not in seen:
                seen += await child.stdout.receive()
        with pytest.raises(StoreLockedError, match=f"process {child.pid}"):
            await SqliteStore(path).open()
        child.kill()  # SIGKILL: the kernel drops the flock with the process
        await child.wait()
    store = SqliteStore(path)
    await store.open()
    await store.close()


@pytest.mark.parametrize("durability", ["full", "normal", "off"])
async def test_an_acknowledged_write_survives_a_process_crash(
    tmp_path: Path, durability: Durability
) -> None:
    path = tmp_path / "a.db"
    code, _ = await python(WRITE_AND_CRASH, str(path), durability, check=False)
    assert code == -9
    store = SqliteStore(path)
    meta = await store.open()
    try:
        assert meta.max_ts == 7
        async with await store.snapshot() as snap:
            assert await snap.get("a") == b"survived"
    finally:
        await store.close()
