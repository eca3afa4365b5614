"""System errors: which failures are the server's fault, not the function's.

SEMANTICS.md ERR-04 sorts errors into three classes: application errors
(``ConvexError``), developer errors (bugs, validation, limits: deterministic,
never retried) and internal or system errors, which queries and mutations
re-run automatically (FN-11). A function's code is the author's; what fails
*under* it is reactor's:

* a **storage fault**: ``StoreError`` (but ``SnapshotExpiredError``: the
  function ran longer than the store lets a snapshot live, which a re-run would
  meet again), a MongoDB driver error (``PyMongoError``), a SQLite error
  (``apsw.Error``). It is a storage fault whether the store raised it to the
  engine (taking a snapshot, writing the commit) or through ``ctx.db`` inside
  the handler: the author's code did not raise it, it let it through. An
  exception the author's code raises itself (even one it raised while handling
  a storage error) is the function's failure, and its writes are discarded.
* ``OccConflictError``, when a mutation keeps conflicting, and
  ``InternalServerError``, when a storage fault persisted through the retries.
"""

from __future__ import annotations

import apsw
from pymongo.errors import PyMongoError

from reactor.errors import InternalServerError, OccConflictError
from reactor.storage import SnapshotExpiredError, StoreError

__all__ = ["is_storage_fault", "is_system_error"]

_STORAGE_ERRORS = (StoreError, PyMongoError, apsw.Error)


def is_storage_fault(exc: BaseException) -> bool:
    """A storage failure that a re-run of the function may well not meet again."""
    return isinstance(exc, _STORAGE_ERRORS) and not isinstance(exc, SnapshotExpiredError)


def is_system_error(exc: BaseException) -> bool:
    """An internal error: the client is told of a server error, not of a failed function."""
    return isinstance(exc, (OccConflictError, InternalServerError)) or is_storage_fault(exc)
