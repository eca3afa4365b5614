"""Running one MongoDB transaction to completion, retrying as the driver's labels say.

Like PyMongo's ``with_transaction``: a ``TransientTransactionError`` (or a write
conflict, which some wire servers report without the label) re-runs the whole
body, which re-reads and re-validates; an ``UnknownTransactionCommitResult``
retries only the commit, which the server deduplicates. Unlike it, an attempt
whose commit was ever in doubt is remembered by its ``commit_id``: every later
attempt first looks for that id in the commit records, inside its own
snapshot, and returns the earlier attempt's result if it is there. A doubtful
attempt that lands after that look-up conflicts with the new attempt on the
sequencer (both write it), so at most one of them commits: a batch is never
applied twice.

Each attempt's session is ended through ``_mongo_session.end``: if the attempt
was cancelled half-way (the transaction's state on the server unknown), the
session is discarded, never returned to the driver's pool for reuse.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from reactor.storage._errors import StoreError
from reactor.storage._mongo_session import end, interrupted

__all__ = ["CommitConflict", "TransactionRunner", "is_transient"]

_T = TypeVar("_T")

Body = Callable[[AsyncClientSession, str], Awaitable[_T]]
"""The transaction's work: gets the session and this attempt's ``commit_id``."""

# WriteConflict, LockTimeout, NoSuchTransaction (the server aborted it, e.g. on
# lifetime): all mean the transaction did not commit and may simply run again.
_TRANSIENT_CODES = frozenset({112, 24, 251})
_MAX_TIME_EXPIRED = 50
_COMMIT_TRIES = 3
"""Commits of one attempt before it is left in doubt and the whole transaction re-runs
on a new session (a server that keeps failing one session's commit may not fail the next)."""
_BACKOFF_INITIAL = 0.005
_BACKOFF_MAX = 0.5


class CommitConflict(Exception):
    """Another transaction took the sequence numbers this one was about to use."""


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, CommitConflict):
        return True
    if not isinstance(exc, PyMongoError):
        return False
    if exc.has_error_label("TransientTransactionError"):
        return True
    if not isinstance(exc, OperationFailure):
        return False
    # mongoeco reports its commit conflicts with neither a code nor a label.
    return exc.code in _TRANSIENT_CODES or (
        exc.code is None and "write conflict" in str(exc).lower()
    )


class TransactionRunner(Generic[_T]):
    """Runs bodies in transactions with snapshot reads and majority writes."""

    def __init__(
        self,
        client: AsyncMongoClient[dict[str, Any]],
        commits: AsyncCollection[dict[str, Any]],
        *,
        deadline: float = 120.0,
    ) -> None:
        self._client = client
        self._commits = commits
        self.deadline = deadline
        """Seconds after which retrying stops (PyMongo's convenient API uses 120)."""
        self.retries = 0
        """Whole-transaction re-runs so far (for tests and metrics)."""

    async def commit_session(self, session: AsyncClientSession) -> None:
        """The one place a transaction commits (tests wrap it to inject failures)."""
        await session.commit_transaction()

    async def run(self, body: Body[_T]) -> _T:
        start = time.monotonic()
        doubtful: dict[str, _T] = {}
        last: BaseException | None = None
        attempt = 0
        while True:
            if attempt:
                self.retries += 1
                pause = random.random() * min(_BACKOFF_INITIAL * 1.5**attempt, _BACKOFF_MAX)
                if time.monotonic() + pause - start >= self.deadline:
                    raise StoreError(
                        f"a MongoDB transaction did not commit within {self.deadline:g} s: {last}"
                    ) from last
                await asyncio.sleep(pause)
            attempt += 1
            commit_id = uuid.uuid4().hex
            session = self._client.start_session()
            lost = False
            try:
                await session.start_transaction(
                    read_concern=ReadConcern("snapshot"), write_concern=WriteConcern("majority")
                )
                try:
                    if doubtful:
                        found = await self._commits.find_one(
                            {"commit_id": {"$in": list(doubtful)}},
                            {"commit_id": 1},
                            session=session,
                        )
                        if found is not None:
                            await session.abort_transaction()
                            return doubtful[found["commit_id"]]
                    result = await body(session, commit_id)
                except Exception as exc:
                    if session.in_transaction:
                        await session.abort_transaction()
                    if not is_transient(exc):
                        raise
                    last = exc
                    continue
                outcome, last = await self._commit(session, start, commit_id in doubtful)
                if outcome == "committed":
                    return result
                if outcome == "doubt":
                    doubtful[commit_id] = result
            except BaseException as exc:
                # Cancelled half-way through a command (even the commit): the
                # session's transaction state is unknown, never reuse it.
                lost = interrupted(exc)
                raise
            finally:
                await end(session, lost=lost)

    async def _commit(
        self, session: AsyncClientSession, start: float, in_doubt: bool
    ) -> tuple[str, BaseException | None]:
        """``committed``, ``retry`` (it certainly did not commit) or ``doubt``."""
        for tries in itertools.count(1):
            try:
                await self.commit_session(session)
                return "committed", None
            except PyMongoError as exc:
                unknown = exc.has_error_label("UnknownTransactionCommitResult")
                in_doubt = in_doubt or unknown
                if (
                    unknown
                    and tries < _COMMIT_TRIES
                    and not (isinstance(exc, OperationFailure) and exc.code == _MAX_TIME_EXPIRED)
                    and time.monotonic() - start < self.deadline
                ):
                    continue  # the server deduplicates a retried commit
                if in_doubt:
                    return "doubt", exc
                if is_transient(exc):
                    return "retry", exc
                raise
        raise AssertionError("unreachable")
