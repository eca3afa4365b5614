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
from dataclasses import dataclass, field

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
    QueryAdd,
    StateVersion,
)
from reactor.sync._outcome import Outcome
from reactor.sync._session_queries import LocalFailure, Step, TrackedQuery, plan_transition
from reactor.sync._session_types import (
    CheckAuth,
    Command,
    Identity,
    ResultView,
    RunAction,
    RunMutation,
    SessionLimits,
    Subscribe,
    Unsubscribe,
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


@dataclass(slots=True)
class _Request:
    message: Mutation
    identity: Identity | None


@dataclass(slots=True)
class _Requests:
    mutations: deque[_Request] = field(default_factory=deque)
    mutation_running: int | None = None
    actions_running: set[int] = field(default_factory=set)

    def in_flight(self) -> int:
        running = 0 if self.mutation_running is None else 1
        return len(self.mutations) + running + len(self.actions_running)


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
        self._latest: dict[int, TrackedQuery] = {}
        self._view: dict[int, TrackedQuery] = {}
        self._steps: deque[Step] = deque()
        self._query_set = 0
        self._identity_version = 0
        self._identity: Identity | None = None
        self._auth_pending = False
        self._sent = StateVersion.initial()
        self._tokens = 0
        self._requests = _Requests()
        self._transition_due = False
        self._min_ts = 0
        self._last_send = now
        self._clock_skew: float | None = None

    # -- state the server reads ------------------------------------------------

    @property
    def last_sent(self) -> StateVersion:
        return self._sent

    @property
    def close(self) -> tuple[int, str] | None:
        """(code, reason) once every frame before the close has been taken."""
        return self._close if self._done and not self._outbox else None

    @property
    def finished(self) -> bool:
        """No more input is taken (after a FatalError, an AuthError or a close)."""
        return self._done

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
            self._modify_query_set(msg)
        elif isinstance(msg, Mutation):
            self._mutation(msg)
        elif isinstance(msg, Action):
            self._action(msg)
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

    def _finish(self, code: int, reason: str) -> None:
        self._done = True
        self._close = (code, _reason(reason))
        self._steps.clear()
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

    def _new_token(self) -> int:
        self._tokens += 1
        return self._tokens

    def _modify_query_set(self, msg: ModifyQuerySet) -> None:
        if msg.base_version != self._query_set:
            self.protocol_error(
                f"BaseVersionMismatch: ModifyQuerySet.baseVersion is {msg.base_version}, "
                f"but the query set is at version {self._query_set}"
            )
            return
        if msg.new_version <= msg.base_version:
            self.protocol_error(
                f"InvalidQuerySetVersion: newVersion {msg.new_version} must be greater "
                f"than baseVersion {msg.base_version}"
            )
            return
        present = set(self._latest)
        for m in msg.modifications:
            if isinstance(m, QueryAdd):
                if m.query_id in present:
                    self.protocol_error(f"DuplicateQueryId: query {m.query_id} is subscribed")
                    return
                present.add(m.query_id)
            elif m.query_id in present:
                present.remove(m.query_id)
            else:
                self.protocol_error(f"QueryNotFound: Remove of query {m.query_id}, not subscribed")
                return
        step = Step(msg.new_version, self._identity_version)
        for m in msg.modifications:
            if isinstance(m, QueryAdd):
                step.adds.append(self._add(m))
            else:
                query = self._latest.pop(m.query_id)
                self._drop(query)
                step.removes.append(query)
        self._query_set = msg.new_version
        self._steps.append(step)

    def _add(self, m: QueryAdd) -> TrackedQuery:
        query = TrackedQuery(m.query_id, self._new_token(), m.udf_path, m.args, m.journal)
        if m.component_path:
            query.local = LocalFailure("componentPath is not supported by this server")
        elif len(self._latest) >= self.limits.max_subscriptions:
            query.local = LocalFailure(
                f"TooManySubscriptions: a connection may hold at most "
                f"{self.limits.max_subscriptions} subscriptions"
            )
        else:
            self._commands.append(
                Subscribe(query.token, m.udf_path, m.args, m.journal, self._identity)
            )
        self._latest[m.query_id] = query
        return query

    def _drop(self, query: TrackedQuery) -> None:
        query.removed = True
        if query.local is None:
            for token in (query.token, *query.next_tokens):
                self._commands.append(Unsubscribe(token))
        query.next_tokens.clear()

    def _mutation(self, msg: Mutation) -> None:
        refusal = self._refusal(msg.component_path)
        if refusal is not None:
            self._respond_mutation(msg.request_id, Outcome(False, refusal))
            return
        self._requests.mutations.append(_Request(msg, self._identity))
        self._start_next_mutation()

    def _action(self, msg: Action) -> None:
        refusal = self._refusal(msg.component_path)
        if refusal is not None:
            self._respond_action(msg.request_id, Outcome(False, refusal))
            return
        self._requests.actions_running.add(msg.request_id)
        self._commands.append(RunAction(msg.request_id, msg.udf_path, msg.args, self._identity))

    def _refusal(self, component_path: str | None) -> str | None:
        if component_path:
            return "componentPath is not supported by this server"
        if self._requests.in_flight() >= self.limits.max_in_flight:
            return (
                f"TooManyConcurrentRequests: a connection may have at most "
                f"{self.limits.max_in_flight} mutations and actions in flight"
            )
        return None

    def _start_next_mutation(self) -> None:
        requests = self._requests
        if requests.mutation_running is not None or not requests.mutations:
            return
        request = requests.mutations.popleft()
        msg = request.message
        requests.mutation_running = msg.request_id
        assert self.session_id is not None
        self._commands.append(
            RunMutation(msg.request_id, msg.udf_path, msg.args, request.identity, self.session_id)
        )

    def mutation_done(self, request_id: int, outcome: Outcome) -> None:
        """The running mutation finished (committed, replayed or failed)."""
        if self._requests.mutation_running != request_id:
            raise RuntimeError(f"mutation {request_id} is not the one running")
        self._requests.mutation_running = None
        if not self._done:
            self._respond_mutation(request_id, outcome)
            self._start_next_mutation()

    def action_done(self, request_id: int, outcome: Outcome) -> None:
        self._requests.actions_running.discard(request_id)
        if not self._done:
            self._respond_action(request_id, outcome)

    def _respond_mutation(self, request_id: int, o: Outcome) -> None:
        ts = o.ts if o.success else None
        response = MutationResponse(request_id, o.success, o.value, ts, o.log_lines, o.error_data)
        self._outbox.append(encode_server_message(response))
        self._require_transition(ts or 0)

    def _respond_action(self, request_id: int, o: Outcome) -> None:
        response = ActionResponse(request_id, o.success, o.value, o.log_lines, o.error_data)
        self._outbox.append(encode_server_message(response))
        self._require_transition(0)

    def _require_transition(self, ts: int) -> None:
        self._transition_due = True
        self._min_ts = max(self._min_ts, ts)

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
        changed = (dict(identity) if identity is not None else None) != (
            dict(self._identity) if self._identity is not None else None
        )
        self._identity = identity
        step = Step(self._query_set, self._identity_version)
        if changed:
            for query in self._latest.values():
                if query.local is None:
                    token = self._new_token()
                    query.next_tokens.append(token)
                    self._commands.append(
                        Subscribe(token, query.udf_path, query.args, query.journal, identity)
                    )
                    step.rebinds.append((query, token))
        self._steps.append(step)

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
        frame = self._next_frame(view, wall_ns)
        if frame is None and not self._done and now >= self.ping_at:
            frame = _PING
        if frame is not None:
            self._last_send = now
        return frame

    def _next_frame(self, view: ResultView, wall_ns: int | None) -> str | None:
        if self._outbox:
            return self._outbox.popleft()
        if self._done:
            return None
        ts = view.ts
        if ts < self._sent.ts:
            return None  # a view never goes back; refuse rather than break the chain
        plan = plan_transition(self._view, self._steps, view)
        if plan is None:
            return None  # a result is still being computed
        due = self._transition_due and ts >= self._min_ts
        if not (plan.steps or plan.fragments or due):
            return None
        end = self._sent
        for _ in range(plan.steps):
            step = self._steps.popleft()
            end = StateVersion(step.query_set, step.identity, end.ts)
            self._commands.extend(Unsubscribe(token) for token in step.apply(self._view))
        plan.commit()
        end = StateVersion(end.query_set, end.identity, ts)
        frame = encode_transition_frame(self._sent, end, plan.fragments, self._clock_skew, wall_ns)
        self._sent = end
        if due:
            self._transition_due = False
        return frame

    def __repr__(self) -> str:
        return f"SyncSession({self.session_id!r}, sent={self._sent}, queries={len(self._latest)})"
