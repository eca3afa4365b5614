"""The engine: runs queries, mutations and actions of an app against a store.

A query reads one snapshot. A mutation runs in a transaction and commits
through the committer; a conflict re-runs it with backoff, and a mutation
that keeps conflicting finally runs exclusively (no other commit in
between), so contention alone never fails it. A storage fault under a
mutation (``_faults``: taking the snapshot, a read through ``ctx.db``,
writing the commit) re-runs it with backoff too; one that persists ends it
with ``InternalServerError``, never as a failure of the function. An action
runs outside any transaction and reaches the database through ``ctx.run_*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reactor.engine._catalog import SYSTEM_TABLES, Catalog
from reactor.engine._committer import Committer
from reactor.engine._context import ActionCtx, Auth, MutationCtx, QueryCtx
from reactor.engine._database import SystemWriter
from reactor.engine._env import MAX_VARIABLES as MAX_ENV_VARIABLES
from reactor.engine._env import TABLE as ENV_TABLE
from reactor.engine._env import check_env_name, check_env_value, read_env
from reactor.engine._faults import is_storage_fault
from reactor.engine._limits import TransactionLimits, Usage
from reactor.engine._logs import capture_logs
from reactor.engine._query import PaginationState, Query
from reactor.engine._results import FunctionResult
from reactor.engine._schema_sync import sync_schema
from reactor.engine._transaction import Transaction
from reactor.errors import (
    InternalServerError,
    InvalidValueError,
    LimitExceededError,
    OccConflictError,
    ReactorError,
)
from reactor.files import FileStore
from reactor.functions import App, FunctionDefinition, function_path
from reactor.storage import Snapshot, Store
from reactor.values import checked_size, normalize
from reactor.values._fast import normalize_checked

if TYPE_CHECKING:
    from reactor.scheduler import SchedulerWorker

__all__ = ["Engine", "RetryPolicy"]

log = logging.getLogger("reactor.engine")

MAX_ARGUMENTS_SIZE = 16 << 20
MAX_RETURN_SIZE = 16 << 20


@dataclass(frozen=True)
class RetryPolicy:
    """How a conflicting mutation is re-run (SEMANTICS.md TX-03, LIM-06), and one
    that met a storage fault (FN-11, ERR-04)."""

    retries: int = 4
    initial_backoff_s: float = 0.01
    max_backoff_s: float = 0.5
    shared_extra_retries: int = 16
    """With a store several processes commit to, running exclusively only holds
    off this process's commits: keep retrying this many more times."""
    fault_retries: int = 6
    """Re-runs after storage faults (with the same backoff: about 0.6 s in all by
    default) before the mutation ends with ``InternalServerError``."""

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.max_backoff_s, self.initial_backoff_s * (2**attempt))
        draw = rng.uniform if rng is not None else random.uniform
        return draw(ceiling / 2, ceiling)


MutationHook = Callable[[MutationCtx], Awaitable[Any]]
"""Runs first inside a mutation's transaction. It may return a ``FunctionResult``
(the answer: the handler does not run), or an ``after(value)`` coroutine
function that runs after the handler, still inside the transaction."""


class Engine:
    def __init__(
        self,
        app: App,
        store: Store,
        *,
        limits: TransactionLimits | None = None,
        retry: RetryPolicy | None = None,
        run_scheduler: bool = True,
        clock_ns: Callable[[], int] = time.time_ns,
        rng: random.Random | None = None,
        files: FileStore | None = None,
    ) -> None:
        """``clock_ns`` (nanoseconds since the epoch) and ``rng`` are the engine's only
        sources of time and chance: commit timestamps, ``_creationTime``, ``ctx.now``,
        document ids, ``ctx.random`` and retry backoff. The defaults are the system
        clock and OS entropy; a deterministic simulation passes a virtual clock and a
        seeded ``random.Random``."""
        self.app = app
        self.store = store
        # The bytes behind ctx.storage: by default next to the SQLite file, or in the
        # app's .reactor folder for other stores (files are local to this process).
        self.files = files or FileStore.beside(store, app.directory)
        self.clock_ns = clock_ns
        self._rng = rng
        self.limits = limits or TransactionLimits()
        self.retry = retry or RetryPolicy()
        self.catalog = Catalog(schema=app.schema)
        self._committer: Committer | None = None
        self._table_lock = asyncio.Lock()
        self.scheduler_factory: Callable[[Transaction | None, Any], Any] | None = None
        self.metrics: dict[str, int] = {"occ_retries": 0, "exclusive_runs": 0, "fault_retries": 0}
        self.commit_prune_interval_s = 60.0
        """Shared stores: how often this process prunes commit records past retention."""
        # Scheduler wiring: ctx.scheduler for every mutation and action, and the worker
        # that runs due jobs and crons while the engine runs (unless run_scheduler is
        # False: ReactorTest runs jobs by hand). reactor.scheduler imports the engine,
        # hence the import here.
        from reactor.scheduler import SchedulerWorker, ctx_scheduler_factory

        self.scheduler_factory = ctx_scheduler_factory(self)
        self.scheduler: SchedulerWorker = SchedulerWorker(self)
        self.run_scheduler = run_scheduler

    @property
    def committer(self) -> Committer:
        if self._committer is None:
            raise RuntimeError("the engine is not started")
        return self._committer

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        metadata = await self.store.open()
        try:
            for name, number in metadata.tables.items():
                self.catalog.add_table(name, number)
            for meta in metadata.indexes.values():
                self.catalog.set_index(meta)
            self._committer = Committer(
                self.store,
                metadata.max_ts,
                clock_ns=self.clock_ns,
                prune_interval_s=self.commit_prune_interval_s,
            )
            feed_after_seq = None
            if self.store.shared:
                snapshot = await self.store.snapshot()
                feed_after_seq = snapshot.seq
                await snapshot.close()
            self._committer.start(feed_after_seq=feed_after_seq)
            for name, number in SYSTEM_TABLES.items():
                if name not in self.catalog.tables:
                    await self.store.create_table(name, number)
                    self.catalog.add_table(name, number)
            await sync_schema(self)
            if self.run_scheduler:
                await self.scheduler.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await self.scheduler.stop()  # before the committer: stopping jobs still commit
        if self._committer is not None:
            await self._committer.stop()
            self._committer = None
        await self.store.close()

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def reload(self, app: App) -> None:
        """Serve a new version of the app (``reactor dev``): new functions and schema."""
        previous = self.app, self.catalog.schema
        self.app, self.catalog.schema = app, app.schema
        try:
            await sync_schema(self)
            if self.scheduler.started:
                await self.scheduler.sync_crons(app)  # changes to crons.py take effect
        except BaseException:
            self.app, self.catalog.schema = previous
            raise

    async def ensure_table(self, name: str) -> None:
        if name in self.catalog.tables:
            return
        async with self._table_lock:
            if name in self.catalog.tables:
                return
            number = self.catalog.next_table_number()
            await self.store.create_table(name, number)
            self.catalog.add_table(name, number)

    # -- environment variables -------------------------------------------------

    async def get_env(self, name: str) -> str | None:
        """A variable's value at the latest snapshot (for actions and tooling)."""
        tx = await self._transaction(Usage(self.limits))
        try:
            return await read_env(tx, PaginationState(), check_env_name(name))
        finally:
            await self._close(tx)

    async def list_env(self) -> dict[str, str]:
        async def body(ctx: MutationCtx) -> dict[str, str]:
            rows = await ctx.db.system.query(ENV_TABLE).collect()
            return {row["name"]: row["value"] for row in rows}

        result: dict[str, str] = (await self.run_in_transaction(body)).unwrap()
        return result

    async def set_env(self, name: str, value: str | None) -> None:
        """Set (or with ``None`` remove) a variable, in a transaction of its own."""
        check_env_name(name)
        if value is not None:
            check_env_value(value)

        async def body(ctx: MutationCtx) -> None:
            writer = SystemWriter(ctx._tx, PaginationState(), self)
            row = await (
                writer.query(ENV_TABLE).with_index("by_name", lambda r: r.eq("name", name)).unique()
            )
            if value is None:
                if row is not None:
                    await writer.delete_system(row["_id"])
                return
            if row is not None:
                await writer.patch_system(row["_id"], {"value": value})
                return
            if len(await writer.query(ENV_TABLE).take(MAX_ENV_VARIABLES)) >= MAX_ENV_VARIABLES:
                raise ReactorError(f"at most {MAX_ENV_VARIABLES} environment variables")
            await writer.insert(ENV_TABLE, {"name": name, "value": value})

        (await self.run_in_transaction(body)).unwrap()

    def make_scheduler(self, tx: Transaction | None, ctx: Any) -> Any:
        return None if self.scheduler_factory is None else self.scheduler_factory(tx, ctx)

    # -- running functions -----------------------------------------------------

    async def call_handler(self, fn: FunctionDefinition, ctx: Any, args: Any) -> Any:
        """Validate args, run the handler, check and normalize what it returns."""
        # normalize_checked does normalize and checked_size in one walk; for
        # anything unusual it defers to the two steps (and their errors).
        fast = normalize_checked(args) if type(args) is dict else None
        if fast is not None:
            args, size = fast
        else:
            args = normalize(args)
            size = checked_size(args) if isinstance(args, dict) else 0
        if size > MAX_ARGUMENTS_SIZE:
            raise LimitExceededError(
                "ArgumentsTooLarge",
                f"the arguments of {fn.path} are over {MAX_ARGUMENTS_SIZE} bytes",
            )
        handler_args = fn.args.validate_args(args, self.catalog)
        result = await fn.handler(ctx, handler_args)
        if isinstance(result, Query):
            raise InvalidValueError(
                "Return value is a Query: consume it with collect(), take(), first() or paginate()"
            )
        try:
            fast = normalize_checked(result)
            if fast is not None:
                result, size = fast
            else:
                result = normalize(result)
                size = checked_size(result)
        except InvalidValueError as exc:
            raise InvalidValueError(
                f"{fn.path} returned a value that is not a Convex value: {exc}"
            ) from None
        if size > MAX_RETURN_SIZE:
            raise LimitExceededError(
                "ReturnValueTooLarge", f"{fn.path} returned more than {MAX_RETURN_SIZE} bytes"
            )
        fn.validate_returns(result, self.catalog)
        return result

    def _lookup(self, ref: Any, kind: str, allow_internal: bool) -> FunctionDefinition:
        fn = self.app.lookup(ref, allow_internal=allow_internal)
        if fn.kind != kind:
            raise ReactorError(
                f"{function_path(ref)} is a {fn.kind}, but it was called as a {kind}"
            )
        return fn

    async def _transaction(self, usage: Usage, snapshot: Snapshot | None = None) -> Transaction:
        if snapshot is None:
            # Transactions that start between two commits may read one snapshot.
            snapshot = await self.store.reusable_snapshot()
        self.committer.pin(snapshot.ts)
        if self._rng is None:
            # Seeded from the OS on first use (Transaction.rng): seeding costs
            # more than many a mutation, and only ctx.random needs it.
            rng = id_rng = None
        else:
            rng = id_rng = random.Random(self._rng.getrandbits(64))
        # After every commit the snapshot holds, even if the clock stands still or
        # steps back: a document inserted by a transaction that saw another one is
        # created after it (by _creationTime), as when the begin time is a timestamp.
        after_snapshot = math.nextafter(snapshot.ts / 1_000_000, math.inf)
        return Transaction(
            snapshot,
            self.catalog,
            usage,
            begin_ms=max(self.clock_ns() / 1_000_000, after_snapshot),
            rng=rng,
            id_rng=id_rng,
        )

    async def _close(self, tx: Transaction, *, owned: bool = True) -> None:
        self.committer.unpin(tx.ts)
        if owned:
            await tx.snapshot.close()

    async def run_query(
        self,
        ref: Any,
        args: Mapping[str, Any] | None = None,
        *,
        identity: Mapping[str, Any] | None = None,
        allow_internal: bool = False,
        journal: str | None = None,
        snapshot: Snapshot | None = None,
    ) -> FunctionResult:
        """Run a query on the latest snapshot, or on ``snapshot`` (which the caller
        keeps open and closes; live queries run many queries on one snapshot)."""
        started = time.perf_counter()
        result = FunctionResult(path=_safe_path(ref), kind="query")
        with capture_logs(result.log_lines):
            try:
                fn = self._lookup(ref, "query", allow_internal)
                tx = await self._transaction(Usage(self.limits), snapshot)
                auth = Auth(identity)
                try:
                    pagination = PaginationState(pinned_end=journal)
                    ctx = QueryCtx(self, tx, auth, pagination=pagination)
                    result.value = await self.call_handler(fn, ctx, args or {})
                    result.journal = pagination.journal or journal
                finally:
                    result.ts = tx.ts
                    result.read_set = tx.read_set
                    result.identity_read = auth.read
                    await self._close(tx, owned=snapshot is None)
            except Exception as exc:
                result.error = exc
        result.duration_s = time.perf_counter() - started
        return result

    async def run_mutation(
        self,
        ref: Any,
        args: Mapping[str, Any] | None = None,
        *,
        identity: Mapping[str, Any] | None = None,
        allow_internal: bool = False,
        hook: MutationHook | None = None,
    ) -> FunctionResult:
        """Run a mutation to commit, re-running it on conflicts (see ``MutationHook``)."""
        started = time.perf_counter()
        result = FunctionResult(path=_safe_path(ref), kind="mutation")
        with capture_logs(result.log_lines):
            try:
                fn = self._lookup(ref, "mutation", allow_internal)
                await self._mutate(
                    result,
                    lambda ctx: self.call_handler(fn, ctx, args or {}),
                    identity,
                    hook,
                )
            except Exception as exc:
                result.error = exc
        result.duration_s = time.perf_counter() - started
        return result

    async def run_in_transaction(
        self,
        body: Callable[[MutationCtx], Awaitable[Any]],
        *,
        identity: Mapping[str, Any] | None = None,
    ) -> FunctionResult:
        """Run ``body(ctx)`` as a mutation (for tests and reactor's own system writes)."""
        result = FunctionResult(path="<transaction>", kind="mutation")
        with capture_logs(result.log_lines):
            try:
                await self._mutate(result, body, identity, None)
            except Exception as exc:
                result.error = exc
        return result

    async def _mutate(
        self,
        result: FunctionResult,
        body: Callable[[MutationCtx], Awaitable[Any]],
        identity: Mapping[str, Any] | None,
        hook: MutationHook | None,
    ) -> None:
        attempt = faults = 0  # conflicts and storage faults so far
        while True:
            exclusive = attempt > self.retry.retries
            result.log_lines.clear()
            try:
                if exclusive:
                    self.metrics["exclusive_runs"] += 1
                    async with self.committer.exclusive():
                        await self._attempt(result, body, identity, hook, exclusive=True)
                else:
                    await self._attempt(result, body, identity, hook, exclusive=False)
                result.attempts = attempt + faults + 1
                return
            except OccConflictError:
                if exclusive and not self.store.shared:
                    raise  # cannot happen: nothing else committed in between
                if attempt > self.retry.retries + self.retry.shared_extra_retries:
                    raise  # other processes kept winning: give up, naming the table
                self.metrics["occ_retries"] += 1
                await asyncio.sleep(self.retry.backoff(attempt, self._rng))
                attempt += 1
            except _Fault as fault:
                # The server's fault, not the function's: nothing of this attempt
                # committed, so it may run again (SEMANTICS.md FN-11, ERR-04).
                faults += 1
                if faults > self.retry.fault_retries:
                    result.attempts = attempt + faults
                    raise InternalServerError(
                        f"a storage error persisted through {faults} attempts: {fault.error}",
                        attempts=attempt + faults,
                    ) from fault.error
                self.metrics["fault_retries"] += 1
                log.warning(
                    "re-running a mutation after a storage error (%d of %d): %s",
                    faults,
                    self.retry.fault_retries,
                    fault.error,
                )
                await asyncio.sleep(self.retry.backoff(faults - 1, self._rng))

    async def _attempt(
        self,
        result: FunctionResult,
        body: Callable[[MutationCtx], Awaitable[Any]],
        identity: Mapping[str, Any] | None,
        hook: MutationHook | None,
        *,
        exclusive: bool,
    ) -> None:
        with _storage_faults():
            tx = await self._transaction(Usage(self.limits))
        # The snapshot closes as soon as the handler is done, but its timestamp
        # stays pinned until the commit is validated: the write log must keep
        # every commit after it until then.
        try:
            # A storage error raised through the hook or the handler came from a
            # read (ctx.db), not from the author's code: the server's fault. Any
            # other exception is the function's, and fails it (nothing commits).
            with _storage_faults():
                try:
                    ctx = MutationCtx(self, tx, Auth(identity))
                    after = None
                    if hook is not None:
                        earlier = await hook(ctx)
                        if isinstance(earlier, FunctionResult):
                            result.value, result.error = earlier.value, earlier.error
                            result.ts = earlier.ts if earlier.ts is not None else tx.ts
                            result.log_lines[:] = earlier.log_lines
                            return
                        after = earlier
                    value = await body(ctx)
                    if after is not None:
                        await after(value)
                finally:
                    await tx.snapshot.close()
            if tx.writes:
                # The store failed to write the batch, or the committer stopped (both
                # a StoreError): a store that raises has not applied the commit
                # (MongoStore resolves commits in doubt itself), so it may run again.
                with _storage_faults():
                    result.ts = await self.committer.commit(
                        tx.ts, tx.read_set, tx.written_keys(), tx.to_commit, exclusive=exclusive
                    )
            else:
                result.ts = tx.ts
            result.value = value
        finally:
            self.committer.unpin(tx.ts)

    async def run_action(
        self,
        ref: Any,
        args: Mapping[str, Any] | None = None,
        *,
        identity: Mapping[str, Any] | None = None,
        allow_internal: bool = False,
        depth: int = 0,
    ) -> FunctionResult:
        started = time.perf_counter()
        result = FunctionResult(path=_safe_path(ref), kind="action")
        with capture_logs(result.log_lines):
            try:
                fn = self._lookup(ref, "action", allow_internal)
                ctx = ActionCtx(self, Auth(identity), depth=depth, now=self.clock_ns() / 1_000_000)
                result.value = await self.call_handler(fn, ctx, args or {})
            except Exception as exc:
                result.error = exc
        result.duration_s = time.perf_counter() - started
        return result


class _Fault(Exception):
    """An attempt of a mutation failed through no fault of the function (``error``):
    ``Engine._mutate`` re-runs it, and never lets this escape."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@contextlib.contextmanager
def _storage_faults() -> Iterator[None]:
    """Turn a storage fault raised inside into ``_Fault``."""
    try:
        yield
    except Exception as exc:
        if is_storage_fault(exc):
            raise _Fault(exc) from exc
        raise


def _safe_path(ref: Any) -> str:
    try:
        return function_path(ref)
    except TypeError:
        return repr(ref)
