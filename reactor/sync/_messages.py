"""The Convex sync protocol's messages, as plain immutable data.

Field names follow the wire (camelCase there, snake_case here); PROTOCOL.md
§4 and §5 describe every field. Values (query results, function arguments,
``errorData``) are decoded Convex values: ``None``, ``bool``, ``float``,
``reactor.Int64``, ``str``, ``bytes``, ``list`` and ``dict``. Timestamps are
plain ``int`` (u64 nanoseconds); the codec turns them into u64-b64 strings.

These classes do no validation: ``_codec`` checks everything that arrives
from the network and refuses to encode what a client could not parse.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

from reactor.errors import ReactorError

__all__ = [
    "NO_ERROR_DATA",
    "Action",
    "ActionResponse",
    "AuthError",
    "Authenticate",
    "ClientMessage",
    "Connect",
    "Event",
    "FatalError",
    "Mutation",
    "MutationResponse",
    "NoErrorData",
    "Ping",
    "ProtocolError",
    "QueryAdd",
    "QueryFailed",
    "QueryRemove",
    "QueryRemoved",
    "QuerySetModification",
    "QueryUpdated",
    "ServerMessage",
    "StateModification",
    "StateVersion",
    "TokenType",
    "Transition",
]


class ProtocolError(ReactorError):
    """A frame that is not a well-formed protocol message.

    The message names the offending field by its wire path, e.g.
    ``ModifyQuerySet.modifications[1].queryId must be a u32, got -3``.
    """


class NoErrorData(enum.Enum):
    """Type of :data:`NO_ERROR_DATA`.

    ``None`` cannot mean "absent": ``ConvexError(None)`` sends
    ``"errorData": null``, which clients turn into a ConvexError, whereas a
    missing ``errorData`` makes them raise a plain error.
    """

    NO_ERROR_DATA = "NO_ERROR_DATA"

    def __repr__(self) -> str:
        return "NO_ERROR_DATA"


NO_ERROR_DATA: Final = NoErrorData.NO_ERROR_DATA
"""The failure carries no ``errorData`` (it was not a ``ConvexError``)."""

TokenType: TypeAlias = Literal["User", "Admin", "None"]

# ---------------------------------------------------------------- client -> server


@dataclass(frozen=True, slots=True)
class Connect:
    session_id: str
    connection_count: int
    last_close_reason: str | None
    max_observed_timestamp: int | None = None
    # Client wall clock in ms; only used for clientClockSkew. The Rust client
    # always sends 0, so never trust it.
    client_ts: float | None = None


@dataclass(frozen=True, slots=True)
class QueryAdd:
    query_id: int
    udf_path: str
    args: dict[str, Any]
    journal: str | None = None
    component_path: str | None = None


@dataclass(frozen=True, slots=True)
class QueryRemove:
    query_id: int


QuerySetModification: TypeAlias = QueryAdd | QueryRemove


@dataclass(frozen=True, slots=True)
class ModifyQuerySet:
    base_version: int
    new_version: int
    modifications: tuple[QuerySetModification, ...]


@dataclass(frozen=True, slots=True)
class Mutation:
    request_id: int
    udf_path: str
    args: dict[str, Any]
    component_path: str | None = None


@dataclass(frozen=True, slots=True)
class Action:
    request_id: int
    udf_path: str
    args: dict[str, Any]
    component_path: str | None = None


@dataclass(frozen=True, slots=True)
class Authenticate:
    token_type: TokenType
    # The JWT or admin key; None exactly when token_type is "None".
    value: str | None
    base_version: int
    # Admin-only identity to act as (plain JSON object, not Convex values).
    impersonating: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """Client telemetry; ``event`` is plain JSON. Servers may ignore it."""

    event_type: str
    event: Any


ClientMessage: TypeAlias = Connect | ModifyQuerySet | Mutation | Action | Authenticate | Event

# ---------------------------------------------------------------- server -> client


@dataclass(frozen=True, slots=True)
class StateVersion:
    query_set: int
    identity: int
    ts: int

    @classmethod
    def initial(cls) -> StateVersion:
        """Where every connection starts (PROTOCOL.md §6)."""
        return cls(0, 0, 0)


@dataclass(frozen=True, slots=True)
class QueryUpdated:
    query_id: int
    value: Any
    log_lines: tuple[str, ...] = ()
    journal: str | None = None


@dataclass(frozen=True, slots=True)
class QueryFailed:
    query_id: int
    error_message: str
    log_lines: tuple[str, ...] = ()
    journal: str | None = None
    error_data: Any | NoErrorData = NO_ERROR_DATA


@dataclass(frozen=True, slots=True)
class QueryRemoved:
    query_id: int


StateModification: TypeAlias = QueryUpdated | QueryFailed | QueryRemoved


@dataclass(frozen=True, slots=True)
class Transition:
    start_version: StateVersion
    end_version: StateVersion
    modifications: tuple[StateModification, ...]
    # Milliseconds (clientTs - server now at Connect). Sent as a JSON integer:
    # the Rust client parses it as i64.
    client_clock_skew: float | None = None
    # Nanoseconds since the epoch when the frame was built.
    server_ts: int | None = None


@dataclass(frozen=True, slots=True)
class MutationResponse:
    request_id: int
    success: bool
    # The function's return value on success, the error message (str) on failure.
    result: Any
    # Commit timestamp; required on success, None on failure.
    ts: int | None = None
    log_lines: tuple[str, ...] = ()
    error_data: Any | NoErrorData = NO_ERROR_DATA


@dataclass(frozen=True, slots=True)
class ActionResponse:
    request_id: int
    success: bool
    result: Any
    log_lines: tuple[str, ...] = ()
    error_data: Any | NoErrorData = NO_ERROR_DATA


@dataclass(frozen=True, slots=True)
class AuthError:
    error: str
    # The identity version before the failed update (optional on the wire).
    base_version: int | None = None
    # True when answering an Authenticate, False when a token expired later.
    auth_update_attempted: bool | None = None


@dataclass(frozen=True, slots=True)
class FatalError:
    error: str


@dataclass(frozen=True, slots=True)
class Ping:
    pass


ServerMessage: TypeAlias = (
    Transition | MutationResponse | ActionResponse | AuthError | FatalError | Ping
)
