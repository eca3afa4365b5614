"""The exceptions reactor raises, and the one function authors raise.

Exception tree::

    Exception
    ├── ConvexError                 raised by function code; ``data`` reaches the client
    └── ReactorError                any error reactor itself reports
        ├── ValidationError         a value does not match a validator (has ``path``)
        │   ├── ArgumentValidationError
        │   └── ReturnsValidationError
        ├── InvalidValueError       not a Convex value, or over a structural limit
        ├── SchemaError             a schema definition or schema change is refused
        ├── FunctionNotFoundError   no public function with that path
        ├── LimitExceededError      a transaction or function limit (names the limit)
        ├── InvalidQueryError       a query or index range is malformed
        ├── InvalidCursorError      a pagination cursor does not belong to the query
        ├── DocumentError           a write on a missing document, a bad id, a system table
        ├── EvalError               a filter expression mixes types or divides an int by 0
        ├── AuthError               a token no provider accepts
        ├── StoreLockedError        another process already serves this store
        ├── OccConflictError        internal: a commit's read set was overwritten
        └── InternalServerError     internal: a storage fault persisted through retries

Developer errors (everything under ``ReactorError`` but the two internal ones,
and the storage errors of ``reactor.storage``) are deterministic and never
retried. System errors are the server's fault, not the function's (SEMANTICS.md
ERR-04, FN-11): a storage failure under a mutation (``StoreError``, a driver's
error) re-runs it with backoff, as a conflict does; if it persists the mutation
ends with ``InternalServerError`` (``reactor.engine.is_system_error`` tells them
apart). Clients are told of a server error, never of a failed function: a
WebSocket mutation's connection is closed (1011) so that the client re-sends
it, and the exactly-once record answers it if it had committed.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "ArgumentValidationError",
    "AuthError",
    "ConvexError",
    "DocumentError",
    "EvalError",
    "FunctionNotFoundError",
    "InternalServerError",
    "InvalidCursorError",
    "InvalidQueryError",
    "InvalidValueError",
    "LimitExceededError",
    "OccConflictError",
    "ReactorError",
    "ReturnsValidationError",
    "SchemaError",
    "StoreLockedError",
    "ValidationError",
]


class ConvexError(Exception):
    """An application error whose ``data`` (any Convex value) reaches the client."""

    def __init__(self, data: Any) -> None:
        self.data = data
        super().__init__(data if isinstance(data, str) else _describe(data))


def _describe(data: Any) -> str:
    try:
        from reactor.values import convex_to_json

        return orjson.dumps(convex_to_json(data)).decode()
    except Exception:
        return repr(data)


class ReactorError(Exception):
    """Base of the errors reactor reports."""


class ValidationError(ReactorError):
    """A value does not match its validator. ``path`` is like ``.items[2].qty``."""

    def __init__(self, message: str, path: str = "") -> None:
        self.path = path
        self.detail = message
        super().__init__(f"{message} (at {path})" if path else message)


class ArgumentValidationError(ValidationError):
    pass


class ReturnsValidationError(ValidationError):
    pass


class InvalidValueError(ReactorError):
    pass


class SchemaError(ReactorError):
    pass


class FunctionNotFoundError(ReactorError):
    pass


class LimitExceededError(ReactorError):
    def __init__(self, limit: str, message: str) -> None:
        self.limit = limit
        super().__init__(f"{limit}: {message}")


class InvalidQueryError(ReactorError):
    pass


class InvalidCursorError(ReactorError):
    pass


class DocumentError(ReactorError):
    pass


class EvalError(ReactorError):
    pass


class AuthError(ReactorError):
    pass


class StoreLockedError(ReactorError):
    pass


class OccConflictError(ReactorError):
    """Internal: the transaction read something a later commit overwrote."""

    def __init__(self, table: str | None = None) -> None:
        self.table = table
        super().__init__(
            f'Documents read from or written to the table "{table}" changed while this '
            "mutation was being run"
            if table
            else "a concurrent commit conflicted with this transaction"
        )


class InternalServerError(ReactorError):
    """Internal: the server, not the function, failed to run a mutation.

    A storage error (``__cause__``) persisted through the engine's retries. The
    mutation did not commit in the attempt that failed, but an earlier run of
    the same request may have (a re-sent mutation): never report it to a client
    as a failed function. The WebSocket handler closes the connection (1011)
    instead, so that the client re-sends it."""

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        self.attempts = attempts
        super().__init__(message)
