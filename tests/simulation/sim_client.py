"""A simulated client that speaks the sync protocol as the npm client does, and
checks every frame it gets against the protocol's rules and the model.

What it does (PROTOCOL.md §4-8): one ``sessionId`` for its whole life, kept
across reconnects; query ids chosen by the client and kept across reconnects;
per connection a query-set version counter from 0; on reconnect ``Connect``
with ``maxObservedTimestamp``, ``Authenticate`` if it is logged in, one
``ModifyQuerySet`` re-adding every query with the last journal it got, then a
re-send of every mutation not yet resolved (and of requests never sent).
Actions in flight when a connection drops fail and are never re-sent.

What it checks, on every frame:

* a Transition starts exactly at the version the last one ended at, its ts
  never goes down (across reconnects too), and afterwards the queries it holds
  results for are exactly the query set of the version it was moved to;
* every result it holds equals the model's result for that query at the
  Transition's ts, for the identity of the Transition's identity version (a
  paginated query: with the end its journal pinned, a journal that never
  changes once given);
* a MutationResponse answers a request sent on this connection; a successful
  one carries the ts of (or after) the commit that recorded it, and the same
  value as any earlier response to the same request;
* a mutation resolves only on a Transition with ``endVersion.ts >=`` its ts
  arriving after its response (the completion rule), and at quiescence every
  response has been followed by such a Transition.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NoReturn

from sim_model import PAGINATED, Expected, QuerySpec
from sim_network import Link, SimSocket

from reactor.sync import (
    NO_ERROR_DATA,
    Action,
    ActionResponse,
    Authenticate,
    ClientMessage,
    Connect,
    ModifyQuerySet,
    Mutation,
    MutationResponse,
    Ping,
    ProtocolError,
    QueryAdd,
    QueryFailed,
    QueryRemove,
    QueryRemoved,
    QueryUpdated,
    StateVersion,
    Transition,
    encode_client_message,
    parse_server_message,
)

if TYPE_CHECKING:
    from sim_harness import Simulation

__all__ = ["CHANNELS", "COUNTERS", "QUERIES", "ClientConn", "Request", "SimClient"]

CHANNELS = ("a", "b")
COUNTERS = ("a", "x")  # "a" is also a channel: messages:head reads it
BODIES = ("hello", "hi")
USERS = (None, "alice", "bob")
QUERIES: tuple[QuerySpec, ...] = (
    *(QuerySpec.of("messages:list", channel=c) for c in CHANNELS),
    *(QuerySpec.of("messages:latest", channel=c, k=k) for c in CHANNELS for k in (1.0, 2.0)),
    QuerySpec.of("messages:count", channel="a"),
    *(QuerySpec.of("messages:strict", channel=c) for c in CHANNELS),
    QuerySpec.of("messages:head", channel="a"),
    QuerySpec.of("messages:with_body", body="edited"),
    QuerySpec.of("messages:constant"),
    QuerySpec.of("messages:whoami"),
    *(QuerySpec.of("messages:mine", channel=c) for c in CHANNELS),
    *(QuerySpec.of("messages:maybe_mine", channel=c) for c in CHANNELS),
    *(
        QuerySpec.of("messages:page", channel=c, paginationOpts={"numItems": 2.0, "cursor": None})
        for c in CHANNELS
    ),
    *(QuerySpec.of("counters:get", name=n) for n in COUNTERS),
    QuerySpec.of("counters:total"),
    QuerySpec.of("messages:slow_list", channel="a", pause=0.05),
    QuerySpec.of("messages:slow_list", channel="b", pause=0.004),
    QuerySpec.of("counters:slow_total", pause=0.02),
)


class ClientViolation(AssertionError):
    """A frame broke the protocol or disagreed with the model."""


@dataclass(slots=True)
class Request:
    rid: int
    kind: str  # "mutation" | "action"
    path: str
    args: dict[str, Any]
    status: str = "queued"
    """queued (not sent on the current connection) | sent | responded | resolved | lost"""
    results: list[Any] = field(default_factory=list)
    """Every successful response's value (re-sends must repeat the first)."""
    ts: int | None = None
    """The ts of the latest successful MutationResponse."""
    error: Any = None
    """The errorData of a failure response."""
    succeeded: bool = False


@dataclass(slots=True)
class ClientConn:
    number: int
    up: Link
    down: Link
    socket: SimSocket
    version: StateVersion = field(default_factory=StateVersion.initial)
    query_set: int = 0
    """The last ``newVersion`` sent."""
    sets: dict[int, dict[int, QuerySpec]] = field(default_factory=lambda: {0: {}})
    """The client's query set as of each version sent."""
    results: dict[int, Expected] = field(default_factory=dict)
    outstanding: set[int] = field(default_factory=set)
    """Requests sent on this connection and not answered yet."""
    awaiting: dict[int, int] = field(default_factory=dict)
    """Request id -> ts a Transition must reach, after a response (completion rule)."""
    identity: int = 0
    """Authenticate messages sent (the identity version the server should reach)."""
    users: dict[int, str | None] = field(default_factory=lambda: {0: None})
    """Who the client is, as of each identity version."""
    open: bool = True


class SimClient:
    def __init__(self, sim: Simulation, index: int) -> None:
        self.sim = sim
        self.index = index
        self.name = f"c{index}"
        self.rng = random.Random(f"{sim.config.seed}:client:{index}")
        self.session_id = f"sim-{sim.config.seed}-{self.name}"
        self.connection_count = 0
        self.last_close_reason = "InitialConnect"
        self.max_observed_ts: int | None = None
        self.last_transition_ts = 0
        self.user: str | None = None
        self.queries: dict[int, QuerySpec] = {}
        self.journals: dict[int, str | None] = {}
        """The last journal each query got (sent back when it is added again)."""
        self.next_query_id = 0
        self.requests: dict[int, Request] = {}
        self.next_request_id = 0
        self.conn: ClientConn | None = None
        self.retries = 0
        self.reconnecting = False
        self.leaving = False

    def __repr__(self) -> str:
        return f"SimClient({self.name})"

    def fail(self, message: str) -> NoReturn:
        raise ClientViolation(f"{self.name}: {message}")

    # -- connections ---------------------------------------------------------------

    def connect(self) -> None:
        self.reconnecting = False
        if self.leaving or self.conn is not None:
            return
        conn = self.sim.open_connection(self)
        self.conn = conn
        self.sim.trace(self.name, "connect", conn.number)
        self._send(
            conn,
            Connect(
                self.session_id,
                self.connection_count,
                self.last_close_reason,
                self.max_observed_ts,
                client_ts=0,  # as the Rust client: no clock skew to compute
            ),
        )
        self.connection_count += 1
        if self.connection_count > 1:
            self.sim.stats["reconnects"] += 1
        if self.user is not None:
            self._authenticate(conn)
        if self.queries:
            adds = tuple(self._add(qid) for qid in sorted(self.queries))
            self._modify(conn, adds)
        for req in sorted(self.requests.values(), key=lambda r: r.rid):
            if req.status in ("queued", "sent", "responded") and (
                req.kind == "mutation" or req.status == "queued"
            ):
                self.sim.stats["resent" if req.status != "queued" else "sent_late"] += 1
                self._send_request(conn, req)

    def dropped(self, reason: str) -> None:
        """The network cut this client's connection."""
        conn = self.conn
        assert conn is not None
        conn.open = False
        self.conn = None
        self.last_close_reason = reason
        for rid in conn.outstanding:
            req = self.requests[rid]
            if req.kind == "action" and req.status == "sent":
                req.status = "lost"  # npm: "Connection lost while action was in flight"
                self.sim.stats["lost_actions"] += 1
        self.sim.trace(self.name, "dropped", conn.number)
        if not self.leaving:
            self.retries += 1
            backoff = self.rng.uniform(0.05, 0.5) * 2 ** min(self.retries, 4)
            self.reconnecting = True
            self.sim.loop.call_later(backoff, self.sim.guard(self.connect))

    def leave(self) -> None:
        self.leaving = True
        if self.conn is not None:
            self.sim.close_connection(self, self.conn)

    # -- operations ------------------------------------------------------------------

    def random_op(self) -> None:
        roll = self.rng.random()
        if roll < 0.4:
            # Query-set changes: an add, a remove, or both in one ModifyQuerySet.
            changes = [
                change
                for change in (
                    self._subscribe() if roll < 0.3 or roll >= 0.35 else None,
                    self._unsubscribe() if roll >= 0.3 else None,
                )
                if change is not None
            ]
            if changes and self.conn is not None:
                self._modify(self.conn, tuple(changes))
        elif roll < 0.46:
            self.user = self.rng.choice(USERS)
            self.sim.trace(self.name, "login", self.user)
            if self.conn is not None:
                self._authenticate(self.conn)
        elif roll < 0.88:
            self._request("mutation", *self._mutation())
        else:
            self._request("action", *self._action())

    def _subscribe(self) -> QueryAdd | None:
        held = set(self.queries.values())
        candidates = [q for q in QUERIES if q not in held]  # clients de-duplicate
        if not candidates:
            return None
        spec = self.rng.choice(candidates)
        qid = self.next_query_id
        self.next_query_id += 1
        self.queries[qid] = spec
        self.sim.trace(self.name, "subscribe", qid, spec)
        return self._add(qid)

    def _unsubscribe(self) -> QueryRemove | None:
        if not self.queries:
            return None
        qid = self.rng.choice(sorted(self.queries))
        del self.queries[qid]
        self.sim.trace(self.name, "unsubscribe", qid)
        return QueryRemove(qid)

    def _authenticate(self, conn: ClientConn) -> None:
        user = self.user
        token = None if user is None else f"user:{user}"
        self._send(conn, Authenticate("None" if user is None else "User", token, conn.identity))
        conn.identity += 1
        conn.users[conn.identity] = user

    def _add(self, qid: int) -> QueryAdd:
        spec = self.queries[qid]
        return QueryAdd(qid, spec.path, spec.args_dict(), journal=self.journals.get(qid))

    def _modify(self, conn: ClientConn, modifications: tuple[QueryAdd | QueryRemove, ...]) -> None:
        base = conn.query_set
        conn.query_set += 1
        conn.sets[conn.query_set] = dict(self.queries)
        self._send(conn, ModifyQuerySet(base, conn.query_set, modifications))

    def _pause(self) -> float:
        if self.rng.random() < self.sim.config.pause_p:
            return self.rng.choice((0.002, 0.02, 0.1))
        return 0.0

    def _mutation(self) -> tuple[str, dict[str, Any]]:
        roll = self.rng.random()
        channel = self.rng.choice(CHANNELS)
        tag = f"{self.name}-r{self.next_request_id}"
        if roll < 0.4:
            body = self.rng.choice(BODIES)
            args = {"channel": channel, "tag": tag, "body": body, "pause": self._pause()}
            return "messages:send", args
        if roll < 0.55:
            return "messages:remove_oldest", {"channel": channel}
        if roll < 0.65:
            return "messages:edit_newest", {"channel": channel, "body": "edited"}
        if roll < 0.92:
            name = self.rng.choice(COUNTERS)
            return "counters:increment", {"name": name, "pause": self._pause()}
        return "messages:fail", {"channel": channel, "tag": tag}

    def _action(self) -> tuple[str, dict[str, Any]]:
        if self.rng.random() < 0.6:
            tag = f"{self.name}-r{self.next_request_id}"
            channel = self.rng.choice(CHANNELS)
            return "actions:send", {"channel": channel, "tag": tag, "pause": self._pause()}
        return "actions:increment", {"name": self.rng.choice(COUNTERS)}

    def _request(self, kind: str, path: str, args: dict[str, Any]) -> None:
        req = Request(self.next_request_id, kind, path, args)
        self.next_request_id += 1
        self.requests[req.rid] = req
        self.sim.trace(self.name, "request", req.rid, kind, path, args)
        if self.conn is not None:
            self._send_request(self.conn, req)

    def _send_request(self, conn: ClientConn, req: Request) -> None:
        message: ClientMessage
        if req.kind == "mutation":
            message = Mutation(req.rid, req.path, req.args)
        else:
            message = Action(req.rid, req.path, req.args)
        req.status = "sent"
        conn.outstanding.add(req.rid)
        self._send(conn, message)

    def _send(self, conn: ClientConn, message: ClientMessage) -> None:
        text = encode_client_message(message)
        self.sim.trace(self.name, "send", conn.number, text)
        conn.up.send(text)

    # -- frames ------------------------------------------------------------------------

    def receive(self, conn: ClientConn, item: tuple[Any, ...]) -> None:
        if not conn.open or conn is not self.conn:
            return
        if item[0] == "close":
            self.fail(f"the server closed connection {conn.number}: code {item[1]}, {item[2]!r}")
        try:
            message = parse_server_message(item[1])
        except ProtocolError as exc:
            self.fail(f"an unparsable frame {item[1]!r}: {exc}")
        if isinstance(message, Transition):
            self.sim.trace(self.name, "recv", conn.number, replace(message, server_ts=None))
            self.sim.stats["transitions"] += 1
            self._transition(conn, message)
        elif isinstance(message, MutationResponse):
            self.sim.trace(self.name, "recv", conn.number, message)
            self._mutation_response(conn, message)
        elif isinstance(message, ActionResponse):
            self.sim.trace(self.name, "recv", conn.number, message)
            self._action_response(conn, message)
        elif isinstance(message, Ping):
            self.sim.trace(self.name, "ping", conn.number)
            self.sim.stats["pings"] += 1
        else:
            self.fail(f"unexpected {message!r}")

    def _observe(self, ts: int) -> None:
        self.max_observed_ts = max(self.max_observed_ts or 0, ts)

    def _transition(self, conn: ClientConn, msg: Transition) -> None:
        start, end = msg.start_version, msg.end_version
        if start != conn.version:
            self.fail(f"Transition starts at {start}, but the client is at {conn.version}")
        if end.ts < start.ts or end.ts < self.last_transition_ts:
            self.fail(f"ts went back: {end.ts} after {max(start.ts, self.last_transition_ts)}")
        if end.ts > self.sim.model.latest_ts:
            self.fail(
                f"Transition to ts {end.ts}, after the last commit {self.sim.model.latest_ts}"
            )
        if not (
            start.query_set <= end.query_set <= conn.query_set
            and start.identity <= end.identity <= conn.identity
        ):
            self.fail(
                f"end version {end} is not one the client asked for (query set "
                f"{conn.query_set}, identity {conn.identity})"
            )
        shown = conn.sets[end.query_set]
        for mod in msg.modifications:
            if isinstance(mod, QueryRemoved):
                if mod.query_id in shown:
                    self.fail(f"QueryRemoved for query {mod.query_id}, still in the query set")
                conn.results.pop(mod.query_id, None)
                continue
            if mod.query_id not in shown:
                self.fail(f"a result for query {mod.query_id}, not in query set {end.query_set}")
            self._journal(shown[mod.query_id], mod.query_id, mod.journal)
            if isinstance(mod, QueryUpdated):
                conn.results[mod.query_id] = (True, mod.value)
            else:
                assert isinstance(mod, QueryFailed)
                if mod.error_data is NO_ERROR_DATA:
                    self.fail(f"query {shown[mod.query_id]} failed: {mod.error_message}")
                conn.results[mod.query_id] = (False, mod.error_data)
                self.sim.stats["query_failed"] += 1
        conn.version = end
        self.last_transition_ts = end.ts
        self._observe(end.ts)
        for old in [v for v in conn.sets if v < end.query_set]:
            del conn.sets[old]
        for old in [v for v in conn.users if v < end.identity]:
            del conn.users[old]
        # Every query of the version has its result, but for those the client has
        # removed since (the server need not compute a result nobody wants).
        wanted = set(shown) & set(self.queries)
        if not wanted <= set(conn.results) <= set(shown):
            self.fail(
                f"holds results for {sorted(conn.results)} at query set {end.query_set}, "
                f"which is {sorted(shown)} (of which {sorted(wanted)} still wanted)"
            )
        self.check_results(conn, end, "Transition")
        for rid, ts in list(conn.awaiting.items()):
            if ts <= end.ts:
                del conn.awaiting[rid]
                req = self.requests[rid]
                if req.status == "responded":
                    req.status = "resolved"
                    self.sim.trace(self.name, "resolved", rid)

    def _journal(self, spec: QuerySpec, qid: int, journal: str | None) -> None:
        held = self.journals.get(qid)
        if spec.path in PAGINATED and held is not None and journal != held:
            self.fail(f"query {qid} {spec} had journal {held!r}, now {journal!r}: its end moved")
        self.journals[qid] = journal

    def check_results(self, conn: ClientConn, version: StateVersion, when: str) -> None:
        """Every result held is the model's, at the version's ts, for its identity."""
        shown, user = conn.sets[version.query_set], conn.users[version.identity]
        for qid, held in sorted(conn.results.items()):
            if qid not in self.queries:
                continue  # removed since: the server stops updating it
            expected = self.sim.model.expected(shown[qid], version.ts, user, self.journals[qid])
            if held != expected:
                self.fail(
                    f"after {when} to ts {version.ts} as {user}, query {qid} {shown[qid]} "
                    f"holds {held!r}, but the model says {expected!r}"
                )

    def _answered(self, conn: ClientConn, rid: int, kind: str) -> Request:
        req = self.requests.get(rid)
        if req is None or req.kind != kind or rid not in conn.outstanding:
            self.fail(f"a {kind} response to request {rid}, which is not in flight here")
        conn.outstanding.discard(rid)
        return req

    def _mutation_response(self, conn: ClientConn, msg: MutationResponse) -> None:
        req = self._answered(conn, msg.request_id, "mutation")
        expect_failure = req.path == "messages:fail"
        if msg.success:
            if expect_failure or msg.ts is None or msg.ts > self.sim.model.latest_ts:
                self.fail(f"mutation {req.rid} ({req.path}) succeeded: {msg}")
            record = self.sim.model.records.get((self.session_id, req.rid))
            if record is None or record.ts > msg.ts:
                self.fail(f"mutation {req.rid} answered at ts {msg.ts}, but recorded {record}")
            if record.result != msg.result or any(r != msg.result for r in req.results):
                self.fail(
                    f"mutation {req.rid} answered {msg.result!r}, but earlier answers were "
                    f"{req.results!r} and the record holds {record.result!r}"
                )
            if req.results:
                self.sim.stats["replayed_responses"] += 1
            req.results.append(msg.result)
            req.succeeded = True
            req.ts = msg.ts
            req.status = "responded"
            self._observe(msg.ts)
            conn.awaiting[req.rid] = msg.ts
        else:
            if not expect_failure or msg.error_data != {"tag": req.args["tag"]}:
                self.fail(f"mutation {req.rid} ({req.path} {req.args}) failed: {msg}")
            req.error = msg.error_data
            req.status = "resolved"  # a failure resolves at once (npm); Python waits for:
            conn.awaiting[req.rid] = 0  # the Transition that must follow any response

    def _action_response(self, conn: ClientConn, msg: ActionResponse) -> None:
        req = self._answered(conn, msg.request_id, "action")
        if not msg.success:
            self.fail(f"action {req.rid} ({req.path} {req.args}) failed: {msg}")
        req.results.append(msg.result)
        req.succeeded = True
        req.status = "resolved"
        conn.awaiting[req.rid] = 0  # a Transition follows every response

    # -- quiescence ----------------------------------------------------------------------

    def settled(self) -> bool:
        """Connected, every request answered and resolved, the query set acknowledged."""
        conn = self.conn
        return (
            conn is not None
            and not conn.outstanding
            and not conn.awaiting
            and conn.version.query_set == conn.query_set
            and conn.version.identity == conn.identity
            and all(r.status in ("resolved", "lost") for r in self.requests.values())
        )

    def describe(self) -> str:
        conn = self.conn
        pending = {r.rid: r.status for r in self.requests.values() if r.status != "resolved"}
        if conn is None:
            return f"{self.name}: disconnected, requests {pending}"
        return (
            f"{self.name}: conn {conn.number} at {conn.version} (sent query set "
            f"{conn.query_set}), outstanding {sorted(conn.outstanding)}, awaiting a "
            f"Transition for {conn.awaiting}, requests {pending}"
        )
