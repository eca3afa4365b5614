"""The Sans-I/O sync session, driven directly: no sockets, a virtual clock."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from reactor.sync import (
    FATAL_CLOSE_CODE,
    ActionResponse,
    AuthError,
    CheckAuth,
    Command,
    FatalError,
    MutationResponse,
    Outcome,
    Ping,
    QueryFailed,
    QueryRemoved,
    QueryUpdated,
    RunAction,
    RunMutation,
    ServerMessage,
    SessionLimits,
    StateVersion,
    Subscribe,
    SyncSession,
    Transition,
    Unsubscribe,
    encode_query_updated_fragment,
    encode_query_updated_value,
    parse_client_message,
    parse_server_message,
)


class Result:
    """A live-query result: a new object whenever the value changes."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def fragment(self, query_id: int) -> bytes:
        return encode_query_updated_fragment(query_id, encode_query_updated_value(self.value))


class View:
    def __init__(self, ts: int = 100) -> None:
        self.ts = ts
        self.results: dict[int, Result] = {}

    def result(self, token: int) -> Result | None:
        return self.results.get(token)


class Driver:
    """A session plus the server-side bookkeeping a test needs."""

    def __init__(self, limits: SessionLimits | None = None) -> None:
        self.session = SyncSession(limits=limits)
        self.view = View()
        self.now = 0.0
        self.commands: list[Command] = []
        self.tokens: dict[int, Subscribe] = {}
        self.version = StateVersion.initial()
        self.query_set = 0

    def send(self, message: dict[str, Any], **kwargs: Any) -> list[Command]:
        self.session.receive(parse_client_message(orjson.dumps(message).decode()), **kwargs)
        return self.take()

    def take(self) -> list[Command]:
        commands = self.session.take_commands()
        for command in commands:
            if isinstance(command, Subscribe):
                self.tokens[command.token] = command
            if isinstance(command, Unsubscribe):
                del self.tokens[command.token]
        self.commands.extend(commands)
        return commands

    def connect(self, latest_ts: int | None = None, **fields: Any) -> None:
        base = {"type": "Connect", "sessionId": "s1", "connectionCount": 0, "lastCloseReason": None}
        self.send({**base, **fields}, latest_ts=latest_ts)

    def modify(self, *modifications: dict[str, Any]) -> list[Command]:
        self.query_set += 1
        return self.send(
            {
                "type": "ModifyQuerySet",
                "baseVersion": self.query_set - 1,
                "newVersion": self.query_set,
                "modifications": list(modifications),
            }
        )

    def add(self, query_id: int, path: str = "q:list") -> int:
        (command,) = self.modify(
            {"type": "Add", "queryId": query_id, "udfPath": path, "args": [{}]}
        )
        assert isinstance(command, Subscribe)
        return command.token

    def frame(self) -> ServerMessage | None:
        raw = self.session.next_frame(self.view, self.now)
        self.take()
        if raw is None:
            return None
        message = parse_server_message(raw)
        if isinstance(message, Transition):
            # What every official client checks (PROTOCOL.md §6).
            assert message.start_version == self.version
            assert message.end_version.ts >= self.version.ts
            self.version = message.end_version
        return message

    def transition(self) -> Transition:
        message = self.frame()
        assert isinstance(message, Transition), message
        return message

    def frames(self) -> list[ServerMessage]:
        out = []
        while (message := self.frame()) is not None:
            out.append(message)
        return out


@pytest.fixture
def d() -> Driver:
    driver = Driver()
    driver.connect()
    return driver


def updated(t: Transition) -> dict[int, Any]:
    return {m.query_id: m.value for m in t.modifications if isinstance(m, QueryUpdated)}


def test_version_chaining_from_zero(d: Driver) -> None:
    t0 = d.add(0)
    assert d.frame() is None  # no result yet: nothing to send
    d.view.results[t0] = Result([1])
    first = d.transition()
    assert first.start_version == StateVersion(0, 0, 0)
    assert first.end_version == StateVersion(1, 0, 100)
    assert updated(first) == {0: [1]}

    t1 = d.add(1, "q:other")
    d.view.results[t1] = Result("x")
    d.view.ts = 150
    second = d.transition()
    assert second.start_version == first.end_version
    assert second.end_version == StateVersion(2, 0, 150)
    assert updated(second) == {1: "x"}  # q0 did not change: not resent
    assert d.frame() is None


def test_only_changed_results_are_sent(d: Driver) -> None:
    t0, t1 = d.add(0), d.add(1, "q:b")
    d.view.results.update({t0: Result(0), t1: Result(0)})
    d.transition()
    d.view.results[t1] = Result(1)
    d.view.ts = 200
    assert updated(d.transition()) == {1: 1}
    d.view.ts = 300  # the timestamp moves, nothing changes, nothing is due: no frame
    assert d.frame() is None


def test_query_set_version_waits_for_new_results(d: Driver) -> None:
    t0 = d.add(0)
    d.view.results[t0] = Result("a")
    d.transition()
    t1 = d.add(1, "q:slow")
    d.view.results[t0] = Result("b")  # q0 changes while q1 is computed
    d.view.ts = 200
    t = d.transition()
    assert t.end_version.query_set == 1  # q1's Add is not shown yet
    assert updated(t) == {0: "b"}
    d.view.results[t1] = Result("c")
    t = d.transition()
    assert t.end_version == StateVersion(2, 0, 200)
    assert updated(t) == {1: "c"}


def test_remove_answers_with_query_removed(d: Driver) -> None:
    t0 = d.add(0)
    d.view.results[t0] = Result(1)
    d.transition()
    commands = d.modify({"type": "Remove", "queryId": 0})
    assert commands == [Unsubscribe(t0)]
    t = d.transition()
    assert t.modifications == (QueryRemoved(0),)
    assert t.end_version.query_set == 2


def test_add_then_remove_before_a_result_does_not_block(d: Driver) -> None:
    d.add(0)
    d.modify({"type": "Remove", "queryId": 0})
    t = d.transition()
    assert t.end_version.query_set == 2
    assert t.modifications == (QueryRemoved(0),)
    assert d.tokens == {}


def test_mutations_run_one_at_a_time_in_order(d: Driver) -> None:
    for request_id in range(3):
        d.send({"type": "Mutation", "requestId": request_id, "udfPath": "m:f", "args": [{}]})
    running = [c for c in d.commands if isinstance(c, RunMutation)]
    assert [c.request_id for c in running] == [0]
    assert running[0].session_id == "s1"
    d.session.mutation_done(0, Outcome(True, "r0", ts=90))
    d.take()
    running = [c for c in d.commands if isinstance(c, RunMutation)]
    assert [c.request_id for c in running] == [0, 1]
    with pytest.raises(RuntimeError):
        d.session.mutation_done(2, Outcome(True, None, ts=90))  # not the one running


def test_actions_run_in_parallel(d: Driver) -> None:
    d.send({"type": "Mutation", "requestId": 0, "udfPath": "m:f", "args": [{}]})
    for request_id in (1, 2):
        d.send({"type": "Action", "requestId": request_id, "udfPath": "a:f", "args": [{}]})
    assert [c.request_id for c in d.commands if isinstance(c, RunAction)] == [1, 2]
    d.session.action_done(2, Outcome(True, "two"))
    response, transition = d.frames()
    assert response == ActionResponse(2, True, "two")
    assert isinstance(transition, Transition)  # the reference sends one after actions too


def test_transition_follows_mutation_response_and_covers_its_ts(d: Driver) -> None:
    t0 = d.add(0)
    d.view.results[t0] = Result([])
    d.transition()
    d.send({"type": "Mutation", "requestId": 0, "udfPath": "m:send", "args": [{}]})
    d.session.mutation_done(0, Outcome(True, "id1", ts=250))
    assert d.frame() == MutationResponse(0, True, "id1", 250)
    assert d.frame() is None  # the view is at 100: the covering Transition must wait
    assert d.session.waiting_for_ts(d.view.ts) == 250
    d.view.ts = 250
    d.view.results[t0] = Result(["id1"])
    t = d.transition()
    assert t.end_version.ts >= 250
    assert updated(t) == {0: ["id1"]}
    assert d.session.waiting_for_ts(d.view.ts) is None
    assert d.frame() is None


def test_failed_mutation_gets_a_transition_even_with_nothing_changed(d: Driver) -> None:
    d.send({"type": "Mutation", "requestId": 0, "udfPath": "m:fail", "args": [{}]})
    d.session.mutation_done(0, Outcome(False, "Uncaught ConvexError: 1", error_data=1.0))
    response, transition = d.frames()
    assert response == MutationResponse(0, False, "Uncaught ConvexError: 1", None, (), 1.0)
    assert isinstance(transition, Transition)
    assert transition.modifications == ()
    assert transition.end_version == StateVersion(0, 0, 100)


def test_pending_updates_collapse_for_a_slow_client(d: Driver) -> None:
    t0 = d.add(0)
    d.view.results[t0] = Result(0)
    d.transition()
    for value in range(1, 50):  # 49 updates while the socket was busy
        d.view.results[t0] = Result(value)
        d.view.ts += 10
    t = d.transition()
    assert updated(t) == {0: 49}
    assert t.end_version.ts == d.view.ts
    assert d.frame() is None


def test_ping_after_15_seconds_of_virtual_silence(d: Driver) -> None:
    d.now = 14.999
    assert d.frame() is None
    d.now = 15.0
    assert d.frame() == Ping()
    assert d.session.ping_at == 30.0
    t0 = d.add(0)
    d.view.results[t0] = Result(1)
    d.now = 20.0
    d.transition()  # sending anything resets the idle clock
    d.now = 34.9
    assert d.frame() is None
    d.now = 35.0
    assert d.frame() == Ping()


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            {"type": "ModifyQuerySet", "baseVersion": 3, "newVersion": 4, "modifications": []},
            "BaseVersionMismatch",
        ),
        (
            {"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 0, "modifications": []},
            "InvalidQuerySetVersion",
        ),
        (
            {
                "type": "ModifyQuerySet",
                "baseVersion": 0,
                "newVersion": 1,
                "modifications": [{"type": "Remove", "queryId": 7}],
            },
            "QueryNotFound",
        ),
        ({"type": "Authenticate", "tokenType": "None", "baseVersion": 2}, "BaseVersionMismatch"),
        (
            {"type": "Connect", "sessionId": "x", "connectionCount": 0, "lastCloseReason": None},
            "Connect was sent twice",
        ),
    ],
)
def test_protocol_violations_are_fatal(d: Driver, message: dict[str, Any], error: str) -> None:
    d.send(message)
    (fatal,) = d.frames()
    assert isinstance(fatal, FatalError) and error in fatal.error
    assert d.session.finished
    code, reason = d.session.close or (0, "")
    assert code == FATAL_CLOSE_CODE and error in reason
    d.send({"type": "Mutation", "requestId": 0, "udfPath": "m:f", "args": [{}]})
    assert d.frames() == []  # nothing is taken after a fatal error


def test_duplicate_query_id_is_fatal(d: Driver) -> None:
    d.add(0)
    d.send(
        {
            "type": "ModifyQuerySet",
            "baseVersion": 1,
            "newVersion": 2,
            "modifications": [{"type": "Add", "queryId": 0, "udfPath": "q:x", "args": [{}]}],
        }
    )
    (fatal,) = d.frames()
    assert isinstance(fatal, FatalError) and "DuplicateQueryId" in fatal.error


def test_first_message_must_be_connect() -> None:
    d = Driver()
    d.send({"type": "Mutation", "requestId": 0, "udfPath": "m:f", "args": [{}]})
    (fatal,) = d.frames()
    assert isinstance(fatal, FatalError) and "Connect" in fatal.error


def test_a_client_ahead_of_the_server_is_refused() -> None:
    d = Driver()
    d.send(
        {
            "type": "Connect",
            "sessionId": "s",
            "connectionCount": 1,
            "lastCloseReason": None,
            "maxObservedTimestamp": "AAAAAAAAAAE=",  # 2**56
        },
        latest_ts=5,
    )
    assert d.frames() == []
    code, reason = d.session.close or (0, "")
    assert code == 1011 and "ClientTimestampTooNew" in reason
    ok = Driver()
    ok.connect(maxObservedTimestamp="BQAAAAAAAAA=", latest_ts=5)  # 5: seen here before
    assert not ok.session.finished


def test_subscription_limit_fails_the_extra_query() -> None:
    d = Driver(SessionLimits(max_subscriptions=1))
    d.connect()
    t0 = d.add(0)
    assert d.modify({"type": "Add", "queryId": 1, "udfPath": "q:x", "args": [{}]}) == []
    d.view.results[t0] = Result(1)
    t = d.transition()
    failed = [m for m in t.modifications if isinstance(m, QueryFailed)]
    assert [(m.query_id, "TooManySubscriptions" in m.error_message) for m in failed] == [(1, True)]


def test_in_flight_limit_fails_the_extra_request() -> None:
    d = Driver(SessionLimits(max_in_flight=2))
    d.connect()
    for request_id in range(3):
        d.send({"type": "Mutation", "requestId": request_id, "udfPath": "m:f", "args": [{}]})
    response = d.frame()
    assert isinstance(response, MutationResponse) and response.request_id == 2
    assert not response.success and "TooManyConcurrentRequests" in response.result


def test_authenticate_none_bumps_the_identity_version(d: Driver) -> None:
    t0 = d.add(0)
    d.view.results[t0] = Result(1)
    d.transition()
    (check,) = d.send({"type": "Authenticate", "tokenType": "None", "baseVersion": 0})
    assert check == CheckAuth("None", None)
    with pytest.raises(RuntimeError):  # the answer must come before the next message
        d.send({"type": "Event", "eventType": "x", "event": None})
    d.session.auth_succeeded(None)
    assert d.take() == []  # same identity: queries keep their subscriptions
    t = d.transition()
    assert t.end_version == StateVersion(1, 1, 100)
    assert t.modifications == ()


def test_a_new_identity_reruns_queries_before_it_is_shown(d: Driver) -> None:
    t0 = d.add(0)
    d.view.results[t0] = Result("anonymous")
    d.transition()
    d.send({"type": "Authenticate", "tokenType": "User", "value": "jwt", "baseVersion": 0})
    d.session.auth_succeeded({"subject": "u1"})
    (resubscribe,) = d.take()
    assert isinstance(resubscribe, Subscribe) and resubscribe.identity == {"subject": "u1"}
    assert d.frame() is None  # waits for the query's result under the new identity
    d.view.results[resubscribe.token] = Result("u1")
    t = d.transition()
    assert t.end_version.identity == 1
    assert updated(t) == {0: "u1"}
    assert Unsubscribe(t0) in d.commands  # the old identity's subscription is released


def test_refused_token_sends_auth_error_and_closes(d: Driver) -> None:
    d.send({"type": "Authenticate", "tokenType": "User", "value": "jwt", "baseVersion": 0})
    d.session.auth_failed("no auth providers are configured")
    (error,) = d.frames()
    assert error == AuthError("no auth providers are configured", 0, True)
    assert d.session.close is not None
