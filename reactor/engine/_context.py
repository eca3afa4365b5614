"""The ``ctx`` objects handed to queries, mutations and actions.

Capabilities follow the shape of ctx: a query's ``db`` is a reader, a
mutation's a writer, an action has no ``db`` at all; only mutations and
actions get a scheduler; ``ctx.storage`` grows the same way (``reactor.files``).
Nested ``run_query``/``run_mutation`` in a query or mutation share the
caller's transaction; from an action each call is a transaction of its own.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from reactor.engine._database import DatabaseReader, DatabaseWriter, SystemWriter
from reactor.engine._env import Env
from reactor.engine._query import PaginationState
from reactor.errors import LimitExceededError
from reactor.files import ActionStorage, StorageReader, StorageWriter

if TYPE_CHECKING:
    from reactor.engine._engine import Engine
    from reactor.engine._transaction import Transaction

__all__ = ["ActionCtx", "Auth", "MutationCtx", "QueryCtx"]


class Auth:
    """``ctx.auth``: who is calling. Reading it makes a live query per-user."""

    def __init__(self, identity: Mapping[str, Any] | None) -> None:
        self._identity = dict(identity) if identity is not None else None
        self.read = False

    async def get_user_identity(self) -> dict[str, Any] | None:
        self.read = True
        return dict(self._identity) if self._identity is not None else None

    @property
    def identity(self) -> dict[str, Any] | None:
        return self._identity


class _Ctx:
    def __init__(self, engine: Engine, auth: Auth, depth: int, now: float) -> None:
        self._engine = engine
        self.auth = auth
        self._depth = depth
        self.now = now
        self._random: random.Random | None = None

    @property
    def random(self) -> random.Random:
        """A ``random.Random`` seeded for this run (use it, not the ``random`` module)."""
        if self._random is None:
            self._random = random.Random(self._seed())
        return self._random

    def _seed(self) -> int:
        return random.getrandbits(64)

    def _nested_depth(self) -> int:
        depth = self._depth + 1
        if depth > self._engine.limits.nesting_depth:
            raise LimitExceededError(
                "MaxCallDepth",
                f"function calls nest deeper than {self._engine.limits.nesting_depth}",
            )
        return depth


class QueryCtx(_Ctx):
    def __init__(
        self,
        engine: Engine,
        tx: Transaction,
        auth: Auth,
        *,
        depth: int = 0,
        pagination: PaginationState | None = None,
    ) -> None:
        super().__init__(engine, auth, depth, tx_now(tx))
        self._tx = tx
        self._pagination = pagination or PaginationState()
        self.db: DatabaseReader = self._make_db()

    def _make_db(self) -> DatabaseReader:
        return DatabaseReader(self._tx, self._pagination)

    # The rest is made on first use: most functions touch only ``db``, and every
    # mutation pays for what its ctx builds.

    @cached_property
    def env(self) -> Env:
        return Env(self._engine, self._tx, self._pagination)

    @cached_property
    def storage(self) -> StorageReader:
        return StorageReader(self._engine, self.db.system)

    def _seed(self) -> int:
        return self._tx.rng.getrandbits(64)

    async def run_query(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        fn = self._engine.app.lookup(ref)
        _expect(fn.kind, "query", "run_query")
        ctx = QueryCtx(
            self._engine,
            self._tx,
            self.auth,
            depth=self._nested_depth(),
            pagination=PaginationState(top_level=False),
        )
        return await self._engine.call_handler(fn, ctx, args or {})


class MutationCtx(QueryCtx):
    db: DatabaseWriter  # made by _make_db

    def _make_db(self) -> DatabaseWriter:
        return DatabaseWriter(self._tx, self._pagination, self._engine)

    @cached_property
    def scheduler(self) -> Any:
        return self._engine.make_scheduler(self._tx, self)

    @cached_property
    def storage(self) -> StorageWriter:
        return StorageWriter(self._engine, SystemWriter(self._tx, self._pagination, self._engine))

    async def run_mutation(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        """Run a mutation inside this transaction; if it raises, only its writes roll back."""
        fn = self._engine.app.lookup(ref)
        _expect(fn.kind, "mutation", "run_mutation")
        ctx = MutationCtx(
            self._engine,
            self._tx,
            self.auth,
            depth=self._nested_depth(),
            pagination=PaginationState(top_level=False),
        )
        savepoint = self._tx.savepoint()
        try:
            return await self._engine.call_handler(fn, ctx, args or {})
        except BaseException:
            self._tx.rollback_to(savepoint)
            raise


class ActionCtx(_Ctx):
    """An action's ctx: no ``db``; every ``run_*`` is its own transaction."""

    def __init__(self, engine: Engine, auth: Auth, *, depth: int = 0, now: float) -> None:
        super().__init__(engine, auth, depth, now)
        self.scheduler = engine.make_scheduler(None, self)
        self.env = Env(engine, None)
        self.storage = ActionStorage(engine)

    async def run_query(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        result = await self._engine.run_query(
            ref, args or {}, identity=self.auth.identity, allow_internal=True
        )
        return result.unwrap()

    async def run_mutation(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        result = await self._engine.run_mutation(
            ref, args or {}, identity=self.auth.identity, allow_internal=True
        )
        return result.unwrap()

    async def run_action(self, ref: Any, args: dict[str, Any] | None = None) -> Any:
        result = await self._engine.run_action(
            ref,
            args or {},
            identity=self.auth.identity,
            allow_internal=True,
            depth=self._nested_depth(),
        )
        return result.unwrap()


def tx_now(tx: Transaction) -> float:
    return tx.begin_ms


def _expect(kind: str, wanted: str, via: str) -> None:
    if kind != wanted:
        raise TypeError(f"{via} calls a {wanted}, but the reference names a {kind}")
