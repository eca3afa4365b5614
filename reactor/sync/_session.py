"""One WebSocket connection's side of the sync protocol, as a Sans-I/O state machine.

Feed it what happens (``receive`` a parsed client message, ``mutation_done``,
``action_done``, ``auth_succeeded``/``auth_failed``, ``protocol_error``);
drain what it wants done (``take_commands``); and whenever the socket can take
a frame, ask ``next_frame(view, now)``. The session keeps (PROTOCOL.md §13.2)
the received query-set and identity versions, the last StateVersion sent,
the query set, and which result each query last got.

Transitions are built lazily, when the socket is ready: each one moves all of
the client's queries to the view's single timestamp and carries only the
results that changed since the last frame, so updates pending for a slow
client collapse into one frame instead of queueing. A query-set change is
shown to the client only once every query it adds has its first result at
that timestamp; until then Transitions keep the previous query-set version.

After a MutationResponse (success or failure) or an ActionResponse a
Transition always follows, after the response, with ``ts`` at least the
mutation's commit timestamp (PROTOCOL.md §6, "Mutation completion rule").
Mutations run one at a time in arrival order; actions run in parallel.
"""

from __future__ import annotations

from collections import deque

from reactor.sync._codec import encode_server_message, encode_transition_frame
from reactor.sync._messages import (
    Action,
    ActionResponse,
    Authenticate,
    AuthError,
    ClientMessage,
    Connect,
    Event,
    FatalError,
    ModifyQuerySet,
    Mutation,
    MutationResponse,
    Ping,
    StateVersion,
)
from reactor.sync._outcome import Outcome
from reactor.sync._session_calls import Calls
from reactor.sync._session_queries import QuerySet
from reactor.sync._session_types import (
    CheckAuth,
    Command,
    Identity,
    ResultView,
    SessionLimits,
)

__all__ = ["FATAL_CLOSE_CODE", "SyncSession"]

FATAL_CLOSE_CODE = 1002
"""Close code after a FatalError (protocol violation); the reason repeats the error."""
AUTH_CLOSE_CODE = 1000
INTERNAL_CLOSE_CODE = 1011
_MAX_REASON_BYTES = 123  # RFC 6455: a close reason fits in a control frame
_PING = encode_server_message(Ping())


def _reason(text: str) -> str:
    return text.encode()[:_MAX_REASON_BYTES].decode(errors="ignore")


class SyncSession:
    """The protocol state of one connection. Not thread-safe; one per socket."""

    def __init__(self, *, limits: SessionLimits | None = None, now: float = 0.0) -> None:
        self.limits = limits or SessionLimits()
        self.session_id: str | None = None
        self._connected = False
        self._done = False
        self._close: tuple[int, str] | None = None
        self._outbox: deque[str] = deque()
        self._commands: list[Command] = []
        self._queries = QuerySet(self.limits.max_subscriptions)
        self._calls = Calls(self.limits.max_in_flight)
        self._identity_version = 0
        self._identity: Identity | None = None
        self._auth_pending = False
        self._sent = StateVersion.initial()
        self._transition_due = False
        self._min_ts = 0
        self._last_send = now
        self._clock_skew: float | None = None
        self._settled = False

    # -- state the server reads ------------------------------------------------

    @property
    def last_sent(self) -> StateVersion:
        return self._sent

    @property
    def close(self) -> tuple[int, str] | None:
        """(code, reason) once every frame before the close has been taken."""
        return self._close if self._done and not self._outbox else None

    @property
    def queued(self) -> int:
        """Frames (responses, errors) waiting for the socket to take them."""
        return len(self._outbox)

    @property
    def finished(self) -> bool:
        """No more input is taken (after a FatalError, an AuthError or a close)."""
        return self._done

    @property
    def settled(self) -> bool:
        """The last ``next_frame`` returned a Transition: until new input (a
        message, a response, an auth answer) or a change in the view's results
        or timestamp, the next call returns None (or a Ping once one is due), so
        a server woken by those events need not call again to find out."""
        return self._settled

    @property
    def ping_at(self) -> float:
        """When ``next_frame`` will produce a Ping if nothing else is sent first."""
        return self._last_send + self.limits.ping_interval_s

    def waiting_for_ts(self, view_ts: int) -> int | None:
        """The timestamp a due Transition waits for, if ``view_ts`` is not there yet."""
        if self._transition_due and self._min_ts > view_ts:
            return self._min_ts
        return None

    def take_commands(self) -> list[Command]:
        commands, self._commands = self._commands, []
        return commands

    # -- input -------------------------------------------------------------------

    def receive(
        self, msg: ClientMessage, *, now_ms: float | None = None, latest_ts: int | None = None
    ) -> None:
        """One client message, in arrival order.

        ``now_ms`` (server wall clock) gives ``clientClockSkew``; ``latest_ts``
        is the newest timestamp the server knows, checked against the
        client's ``maxObservedTimestamp``.
        """
        if self._done:
            return
        if self._auth_pending:
            raise RuntimeError("answer CheckAuth (auth_succeeded or auth_failed) first")
        if isinstance(msg, Connect):
            self._connect(msg, now_ms, latest_ts)
        elif not self._connected:
            self.protocol_error(f"the first message must be Connect, got {type(msg).__name__}")
        elif isinstance(msg, ModifyQuerySet):
            error = self._queries.check(msg)
            if error is not None:
                self.protocol_error(error)
            else:
                self._commands += self._queries.modify(msg, self._identity, self._identity_version)
        elif isinstance(msg, Mutation | Action):
            self._call(msg)
        elif isinstance(msg, Authenticate):
            self._authenticate(msg)
        else:
            assert isinstance(msg, Event)  # telemetry: nothing to do

    def protocol_error(self, message: str) -> None:
        """A non-retryable protocol violation: FatalError, then close (PROTOCOL.md §5.5)."""
        if self._done:
            return
        self._outbox.append(encode_server_message(FatalError(message)))
        self._finish(FATAL_CLOSE_CODE, message)

    def close_after_queued(self, code: int, reason: str) -> None:
        """Close with ``code`` and ``reason`` once the frames already queued are
        sent, without a FatalError: the server sheds load (1013), not a violation."""
        if not self._done:
            self._finish(code, reason)

    def _finish(self, code: int, reason: str) -> None:
        self._done = True
        self._close = (code, _reason(reason))
        self._transition_due = False

    def _connect(self, msg: Connect, now_ms: float | None, latest_ts: int | None) -> None:
        if self._connected:
            self.protocol_error("Connect was sent twice on one connection")
            return
        self._connected = True
        self.session_id = msg.session_id
        # The Rust client always sends clientTs 0: no skew to report then.
        if msg.client_ts and now_ms is not None:
            self._clock_skew = msg.client_ts - now_ms
        observed = msg.max_observed_timestamp
        if observed is not None and latest_ts is not None and observed > latest_ts:
            # The client saw writes this server does not have (a reset or
            # restored store): serving it would break linearizability. Like the
            # reference backend, refuse as an internal error (it retries).
            self._finish(
                INTERNAL_CLOSE_CODE,
                f"InternalServerError: ClientTimestampTooNew: the client observed ts {observed}, "
                f"newer than this server's latest ts {latest_ts}",
            )

    def _call(self, msg: Mutation | Action) -> None:
        refusal = self._calls.refusal(msg.component_path)
        if refusal is not None:
            self._respond(isinstance(msg, Mutation), msg.request_id, Outcome(False, refusal))
        elif isinstance(msg, Action):
            self._commands.append(self._calls.action(msg, self._identity))
        else:
            assert self.session_id is not None
            command = self._calls.mutation(msg, self._identity, self.session_id)
            if command is not None:
                self._commands.append(command)

    def mutation_done(self, request_id: int, outcome: Outcome) -> None:
        """The running mutation finished (committed, replayed or failed)."""
        command = self._calls.mutation_done(request_id)
        if not self._done:
            self._respond(True, request_id, outcome)
            if command is not None:
                self._commands.append(command)

    def action_done(self, request_id: int, outcome: Outcome) -> None:
        self._calls.action_done(request_id)
        if not self._done:
            self._respond(False, request_id, outcome)

    def _respond(self, mutation: bool, request_id: int, o: Outcome) -> None:
        """Queue the response; a Transition must follow it (PROTOCOL.md §6), after a
        mutation with ts at least its commit ts."""
        if mutation:
            ts = o.ts if o.success else None
            response = MutationResponse(
                request_id, o.success, o.value, ts, o.log_lines, o.error_data
            )
            self._outbox.append(encode_server_message(response))
            self._min_ts = max(self._min_ts, ts or 0)
        else:
            action = ActionResponse(request_id, o.success, o.value, o.log_lines, o.error_data)
            self._outbox.append(encode_server_message(action))
        self._transition_due = True

    def _authenticate(self, msg: Authenticate) -> None:
        if msg.base_version != self._identity_version:
            self.protocol_error(
                f"BaseVersionMismatch: Authenticate.baseVersion is {msg.base_version}, "
                f"but the identity is at version {self._identity_version}"
            )
            return
        self._auth_pending = True
        self._commands.append(CheckAuth(msg.token_type, msg.value))

    def auth_succeeded(self, identity: Identity | None) -> None:
        """The token was accepted: a Transition bumps the identity version. Queries
        re-run under the new identity (results that did not read it stay shared)."""
        self._auth_pending = False
        if self._done:
            return
        self._identity_version += 1
        changed = _plain(identity) != _plain(self._identity)
        self._identity = identity
        self._commands += self._queries.change_identity(
            identity, self._identity_version, rerun=changed
        )

    def auth_failed(self, message: str) -> None:
        """The token was refused: AuthError as the last message, then close (§5.4)."""
        self._auth_pending = False
        if self._done:
            return
        error = AuthError(message, self._identity_version, auth_update_attempted=True)
        self._outbox.append(encode_server_message(error))
        self._finish(AUTH_CLOSE_CODE, "AuthError")

    # -- output ------------------------------------------------------------------

    def next_frame(self, view: ResultView, now: float, *, wall_ns: int | None = None) -> str | None:
        """The next text frame to send, or None if there is nothing to send now."""
        frame = self._outbox.popleft() if self._outbox else None
        self._settled = False
        if frame is None and not self._done:
            frame = self._transition(view, wall_ns)
            self._settled = frame is not None
            if frame is None and now >= self.ping_at:
                frame = _PING
        if frame is not None:
            self._last_send = now
        return frame

    def _transition(self, view: ResultView, wall_ns: int | None) -> str | None:
        ts = view.ts
        if ts < self._sent.ts:
            return None  # a view never goes back; refuse rather than break the chain
        plan = self._queries.plan(view)
        if plan is None:
            return None  # a result is still being computed
        due = self._transition_due and ts >= self._min_ts
        if not (plan.steps or plan.fragments or due):
            return None
        last, released = self._queries.apply(plan)
        self._commands += released
        query_set, identity = (
            (last.query_set, last.identity)
            if last is not None
            else (self._sent.query_set, self._sent.identity)
        )
        end = StateVersion(query_set, identity, ts)
        frame = encode_transition_frame(
            self._sent, end, plan.fragments, self._clock_skew, wall_ns, trusted=True
        )
        self._sent = end
        if due:
            self._transition_due = False
        return frame

    def __repr__(self) -> str:
        queries = len(self._queries.latest)
        return f"SyncSession({self.session_id!r}, sent={self._sent}, queries={queries})"


def _plain(identity: Identity | None) -> dict[str, object] | None:
    return dict(identity) if identity is not None else None
