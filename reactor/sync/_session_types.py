"""What a ``SyncSession`` asks of the server, and what it reads back.

The session is Sans-I/O: it never runs a function or touches a socket. It
returns commands (subscribe, run this mutation, check this token, ...) that
the server carries out, and it reads shared live-query results through a
``ResultView`` when it builds a Transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from reactor.sync._messages import TokenType

__all__ = [
    "CheckAuth",
    "Command",
    "Identity",
    "ResultLike",
    "ResultView",
    "RunAction",
    "RunMutation",
    "SessionLimits",
    "Subscribe",
    "Unsubscribe",
]

Identity: TypeAlias = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SessionLimits:
    max_subscriptions: int = 10_000
    """Queries one connection may hold; more fail with ``TooManySubscriptions``."""
    max_in_flight: int = 1_000
    """Mutations queued or running plus actions running, per connection (as the
    reference backend); more fail with ``TooManyConcurrentRequests``."""
    ping_interval_s: float = 15.0
    """Send a JSON Ping after this long without sending anything (PROTOCOL.md §8)."""


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Start computing a live query; its results are read back by ``token``."""

    token: int
    udf_path: str
    args: dict[str, Any]
    journal: str | None
    identity: Identity | None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    token: int


@dataclass(frozen=True, slots=True)
class RunMutation:
    """Run one mutation; report with ``SyncSession.mutation_done``. At most one at a time."""

    request_id: int
    udf_path: str
    args: dict[str, Any]
    identity: Identity | None
    session_id: str
    """With ``request_id``, the key that makes a re-sent mutation run once."""


@dataclass(frozen=True, slots=True)
class RunAction:
    """Run one action; report with ``SyncSession.action_done``. Actions run in parallel."""

    request_id: int
    udf_path: str
    args: dict[str, Any]
    identity: Identity | None


@dataclass(frozen=True, slots=True)
class CheckAuth:
    """Verify a token; answer with ``auth_succeeded`` or ``auth_failed`` before the
    next client message is fed (the session handles messages strictly in order)."""

    token_type: TokenType
    value: str | None


Command: TypeAlias = Subscribe | Unsubscribe | RunMutation | RunAction | CheckAuth


class ResultLike(Protocol):
    """A live query result; a new object whenever what a client sees changes."""

    def fragment(self, query_id: int) -> bytes: ...


class ResultView(Protocol):
    """The live-query results as of one timestamp."""

    @property
    def ts(self) -> int:
        """Every result ``result`` returns is valid at this timestamp (never decreases)."""
        ...

    def result(self, token: int) -> ResultLike | None:
        """The result for a subscribed token, or None while it is being computed."""
        ...
