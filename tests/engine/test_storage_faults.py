"""Storage faults under a mutation are the server's fault, not the function's
(SEMANTICS.md FN-11, ERR-04): the mutation re-runs with backoff, and one whose
fault persists ends with ``InternalServerError``, never as a failed function.
An exception the function's own code raises fails it at once, and its writes
are discarded.

The faults are injected by small wrappers around a real SQLite store: its
snapshots, its snapshots' reads, its commit writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw
import pytest
from pymongo.errors import AutoReconnect

from reactor.engine import Engine, RetryPolicy, is_system_error
from reactor.errors import InternalServerError
from reactor.storage import Commit, Snapshot, SnapshotExpiredError, StoreError
from reactor.sync import exactly_once, outcome_of
from reactor.sync._outcome import describe_error, is_unanswerable
from reactor.testing import ReactorTest

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(initial_backoff_s=0.001, max_backoff_s=0.002, fault_retries=3)


@pytest.fixture
async def core(apps_dir: Path, tmp_path: Path) -> AsyncIterator[ReactorTest]:
    test = ReactorTest(apps_dir / "core", data_dir=tmp_path, retry=FAST)
    try:
        yield test
    finally:
        await test.close()


class Faults:
    """Raises ``error`` from the next ``count`` calls it wraps (forever with None)."""

    def __init__(self, error: BaseException, count: int | None = 1) -> None:
        self.error = error
        self.count = count
        self.raised = 0

    def due(self) -> bool:
        if self.count is not None and self.raised >= self.count:
            return False
        self.raised += 1
        return True

    def wrap(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapped(*args: Any, **kwargs: Any) -> Any:
            if self.due():
                raise self.error
            return await fn(*args, **kwargs)

        return wrapped


@contextmanager
def failing_snapshots(engine: Engine, faults: Faults) -> Iterator[None]:
    """Taking a snapshot fails."""
    store = engine.store
    with pytest.MonkeyPatch.context() as patch:
        for name in ("snapshot", "reusable_snapshot"):
            patch.setattr(store, name, faults.wrap(getattr(store, name)))
        yield


@contextmanager
def failing_reads(engine: Engine, faults: Faults) -> Iterator[None]:
    """Snapshots are taken, but their reads (``ctx.db`` underneath) fail."""
    store = engine.store

    def reads_fail(take: Callable[[], Awaitable[Snapshot]]) -> Callable[[], Awaitable[Snapshot]]:
        async def snapshot() -> Snapshot:
            snap = await take()
            for name in ("get", "scan"):
                setattr(snap, name, faults.wrap(getattr(snap, name)))
            return snap

        return snapshot

    with pytest.MonkeyPatch.context() as patch:
        for name in ("snapshot", "reusable_snapshot"):
            patch.setattr(store, name, reads_fail(getattr(store, name)))
        yield


@contextmanager
def failing_writes(engine: Engine, faults: Faults) -> Iterator[None]:
    """The store fails to write the committer's batch."""
    store = engine.store

    with pytest.MonkeyPatch.context() as patch:
        write = store.write

        async def flaky_write(commits: Sequence[Commit]) -> None:
            if faults.due():
                raise faults.error
            await write(commits)

        patch.setattr(store, "write", flaky_write)
        yield


async def test_a_transient_snapshot_error_reruns_the_mutation(core: ReactorTest) -> None:
    engine = await core.engine()
    faults = Faults(StoreError("injected"))
    with failing_snapshots(engine, faults):
        result = await engine.run_mutation("counters:increment", {"name": "n"})
    assert faults.raised == 1
    assert result.error is None and result.value == 1
    assert result.attempts == 2
    assert engine.metrics["fault_retries"] == 1
    assert await core.query("counters:get", {"name": "n"}) == 1


@pytest.mark.parametrize(
    "error",
    [apsw.BusyError("injected"), AutoReconnect("injected"), StoreError("injected")],
    ids=["apsw", "pymongo", "store"],
)
async def test_a_storage_error_through_ctx_db_reruns_the_mutation(
    core: ReactorTest, error: Exception
) -> None:
    """The handler's read raised it, but the handler's author did not: a re-run."""
    engine = await core.engine()
    faults = Faults(error, count=2)
    with failing_reads(engine, faults):
        result = await engine.run_mutation("counters:increment", {"name": "n"})
    assert faults.raised == 2
    assert result.error is None and result.value == 1
    assert result.attempts == 3
    assert await core.query("counters:get", {"name": "n"}) == 1


async def test_a_failed_commit_write_reruns_the_mutation_and_applies_it_once(
    core: ReactorTest,
) -> None:
    engine = await core.engine()
    faults = Faults(apsw.IOError("injected: disk I/O error"))
    with failing_writes(engine, faults):
        result = await engine.run_mutation("messages:send", {"channel": "c", "body": "b"})
    assert faults.raised == 1
    assert result.error is None
    assert result.attempts == 2
    assert [m["body"] for m in await core.query("messages:list", {"channel": "c"})] == ["b"]


async def test_a_failed_commit_write_leaves_no_phantom_conflict(core: ReactorTest) -> None:
    """A read-then-write mutation whose batch failed to write re-runs without a
    conflict: the committer forgets the keys of a batch that was never applied."""
    engine = await core.engine()
    faults = Faults(apsw.IOError("injected: disk I/O error"))
    with failing_writes(engine, faults):
        result = await engine.run_mutation("counters:increment", {"name": "n"})
    assert faults.raised == 1
    assert result.error is None and result.value == 1
    assert result.attempts == 2
    assert engine.committer.conflicts == 0
    assert await core.query("counters:get", {"name": "n"}) == 1


async def test_an_error_the_function_raises_fails_it_at_once(core: ReactorTest) -> None:
    engine = await core.engine()
    result = await engine.run_mutation("messages:crash", {})
    assert isinstance(result.error, RuntimeError)
    assert str(result.error) == "secret internals"
    assert result.attempts == 1
    assert engine.metrics["fault_retries"] == 0
    assert not is_system_error(result.error) and not is_unanswerable(result)
    assert await core.query("messages:list", {"channel": "x"}) == []  # rolled back
    failed = outcome_of(result, dev_errors=True)
    assert not failed.success and failed.value == "Uncaught Error: secret internals"


async def test_a_convex_error_is_not_a_system_error(core: ReactorTest) -> None:
    engine = await core.engine()
    result = await engine.run_mutation("messages:fail", {"code": "E1"})
    assert result.attempts == 1
    assert result.error is not None and not is_system_error(result.error)
    assert engine.metrics["fault_retries"] == 0


async def test_a_persistent_storage_error_ends_with_internal_server_error(
    core: ReactorTest,
) -> None:
    engine = await core.engine()
    faults = Faults(AutoReconnect("injected: connection refused"), count=None)
    with failing_snapshots(engine, faults):
        result = await engine.run_mutation("counters:increment", {"name": "n"})
    assert faults.raised == FAST.fault_retries + 1
    assert isinstance(result.error, InternalServerError)
    assert isinstance(result.error.__cause__, AutoReconnect)
    assert result.attempts == FAST.fault_retries + 1
    assert is_system_error(result.error) and is_unanswerable(result)
    # Described to a client as an internal error, its details hidden in production.
    message, _ = describe_error(result.error, dev_errors=False, request_id="r1")
    assert message == "[Request ID: r1] Server Error"
    assert await core.query("counters:get", {"name": "n"}) is None  # nothing committed


async def test_an_expired_snapshot_is_not_rerun(core: ReactorTest) -> None:
    """The function ran longer than the store lets a snapshot live: a re-run would too."""
    engine = await core.engine()
    faults = Faults(SnapshotExpiredError("injected: too old"), count=None)
    with failing_reads(engine, faults):
        result = await engine.run_mutation("counters:increment", {"name": "n"})
    assert isinstance(result.error, SnapshotExpiredError)
    assert faults.raised == 1 and result.attempts == 1


async def test_a_resent_mutation_is_answered_by_its_record_despite_faults(
    core: ReactorTest,
) -> None:
    """Finding 3 of RELIABILITY.md: the re-run of a committed (session, request)
    meets storage errors before it finds the record; it must still answer with
    the recorded result, and never run the handler again."""
    engine = await core.engine()
    first = await engine.run_mutation(
        "counters:increment", {"name": "n"}, hook=exactly_once("s", 7)
    )
    assert first.error is None and first.value == 1
    faults = Faults(apsw.BusyError("injected"), count=3)
    with failing_reads(engine, faults):
        again = await engine.run_mutation(
            "counters:increment", {"name": "n"}, hook=exactly_once("s", 7)
        )
    assert faults.raised == 3
    answer = outcome_of(again, dev_errors=True)
    assert answer.success and answer.value == 1
    assert await core.query("counters:get", {"name": "n"}) == 1
