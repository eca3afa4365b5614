"""A live query's result, encoded once and spliced into every subscriber's Transition."""

from __future__ import annotations

import orjson

from reactor.engine import FunctionResult
from reactor.errors import InvalidValueError
from reactor.sync._codec import (
    encode_query_failed_fragment,
    encode_query_updated_fragment,
    encode_query_updated_value,
)
from reactor.sync._messages import NO_ERROR_DATA
from reactor.sync._outcome import Outcome, outcome_of
from reactor.values import convex_to_json

__all__ = ["QueryResult", "failed_result", "query_result"]

_MAX_FRAGMENTS = 16
_SMALL_FRAGMENT = 64 * 1024


class QueryResult:
    """Immutable: a changed result is a new object, so ``is`` tells a session what to resend."""

    __slots__ = ("_fragments", "_value_json", "digest", "outcome")

    def __init__(self, outcome: Outcome, digest: bytes, value_json: bytes | None) -> None:
        self.outcome = outcome
        self.digest = digest
        """Equal digests mean the same result: a re-run that gives it is not resent."""
        self._value_json = value_json
        self._fragments: dict[int, bytes] = {}
        """By query id: clients of one app number their queries alike, so the
        subscribers of a shared query mostly need the same few fragments."""

    def fragment(self, query_id: int) -> bytes:
        """This result as one client's ``QueryUpdated``/``QueryFailed`` modification."""
        fragment = self._fragments.get(query_id)
        if fragment is None:
            fragment = self._encode(query_id)
            cached = len(self._fragments)
            # A large result keeps one copy beside its value, never sixteen.
            if cached == 0 or (cached < _MAX_FRAGMENTS and len(fragment) <= _SMALL_FRAGMENT):
                self._fragments[query_id] = fragment
        return fragment

    def _encode(self, query_id: int) -> bytes:
        o = self.outcome
        if self._value_json is not None:
            return encode_query_updated_fragment(query_id, self._value_json, o.log_lines, o.journal)
        return encode_query_failed_fragment(query_id, o.value, o.log_lines, o.journal, o.error_data)

    def __repr__(self) -> str:
        return f"QueryResult({self.outcome!r})"


def query_result(
    result: FunctionResult, previous: QueryResult | None, *, dev_errors: bool
) -> QueryResult:
    """The result of a run, or ``previous`` itself when nothing a client sees changed."""
    journal = orjson.dumps(result.journal)
    value_json: bytes | None = None
    if result.error is None:
        try:
            value_json = encode_query_updated_value(result.value)
        except InvalidValueError as exc:
            result.error = exc
    if value_json is not None:
        digest = b"V" + journal + b"\0" + value_json
    else:
        error = result.error
        data = getattr(error, "data", None)
        try:
            data_json = orjson.dumps(convex_to_json(data))
        except (InvalidValueError, TypeError):
            data_json = repr(data).encode()
        # Built from the exception, not the client message: with dev errors off,
        # the message holds a fresh request id on every run.
        digest = b"E" + journal + b"\0" + f"{type(error).__name__}: {error}".encode() + data_json
    if previous is not None and previous.digest == digest:
        return previous
    return QueryResult(outcome_of(result, dev_errors=dev_errors), digest, value_json)


def failed_result(message: str) -> QueryResult:
    """A failure the server reports itself (a limit), not from running the query."""
    outcome = Outcome(False, message, (), NO_ERROR_DATA)
    return QueryResult(outcome, b"L" + message.encode(), None)
