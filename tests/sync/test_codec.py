"""The sync protocol codec, driven by the frames in PROTOCOL.md §4-§5."""

from __future__ import annotations

import base64
import contextlib
import math
import re
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reactor.sync._codec import (
    ProtocolError,
    encode_client_message,
    encode_modification_fragment,
    encode_query_failed_fragment,
    encode_query_removed_fragment,
    encode_query_updated_fragment,
    encode_query_updated_value,
    encode_server_message,
    encode_transition_frame,
    parse_client_message,
    parse_server_message,
)
from reactor.sync._messages import (
    NO_ERROR_DATA,
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
    QueryFailed,
    QueryRemove,
    QueryRemoved,
    QueryUpdated,
    ServerMessage,
    StateVersion,
    Transition,
)
from reactor.values import Int64

FUZZ = settings(max_examples=300, deadline=None, database=None)


def u64(text: str) -> int:
    """Decode a u64-b64 independently of the code under test."""
    return int.from_bytes(base64.b64decode(text), "little")


def same_json(encoded: str, original: str) -> None:
    assert orjson.loads(encoded) == orjson.loads(original)


# ---------------------------------------------------------------- PROTOCOL.md examples

CLIENT_EXAMPLES: list[tuple[str, ClientMessage]] = [
    (
        '{"type":"Connect","sessionId":"73ef34b0-49c1-4efc-840d-f01a9abf6fe3","connectionCount":0,'
        '"lastCloseReason":"InitialConnect","clientTs":1795654228815}',
        Connect("73ef34b0-49c1-4efc-840d-f01a9abf6fe3", 0, "InitialConnect", None, 1795654228815.0),
    ),
    (
        '{"type":"Connect","sessionId":"dadf49e8-1162-4bf7-848c-ca41224ec03a","connectionCount":1,'
        '"lastCloseReason":"closed with code 1006","clientTs":1795654273351,'
        '"maxObservedTimestamp":"IPn++gpy6xg="}',
        Connect(
            "dadf49e8-1162-4bf7-848c-ca41224ec03a",
            1,
            "closed with code 1006",
            u64("IPn++gpy6xg="),
            1795654273351.0,
        ),
    ),
    (
        '{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add",'
        '"queryId":0,"udfPath":"messages:list","args":[{"channel":"general"}]}]}',
        ModifyQuerySet(0, 1, (QueryAdd(0, "messages:list", {"channel": "general"}),)),
    ),
    (
        '{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,'
        '"modifications":[{"type":"Remove","queryId":0}]}',
        ModifyQuerySet(1, 2, (QueryRemove(0),)),
    ),
    (
        '{"type":"Mutation","requestId":0,"udfPath":"messages:send",'
        '"args":[{"author":"x","body":"hi","channel":"general"}]}',
        Mutation(0, "messages:send", {"author": "x", "body": "hi", "channel": "general"}),
    ),
    (
        '{"type":"Action","requestId":2,"udfPath":"messages:echo",'
        '"args":[{"b":{"$bytes":"+/8AAX8="},"x":{"$integer":"AQAAAAAAAAA="}}]}',
        Action(2, "messages:echo", {"b": b"\xfb\xff\x00\x01\x7f", "x": Int64(1)}),
    ),
    (
        '{"type":"Authenticate","tokenType":"User","value":"<JWT>","baseVersion":0}',
        Authenticate("User", "<JWT>", 0),
    ),
    (
        '{"type":"Authenticate","tokenType":"Admin","value":"<admin key>","baseVersion":1,'
        '"impersonating":{"tokenIdentifier":"...","subject":"...","issuer":"..."}}',
        Authenticate(
            "Admin",
            "<admin key>",
            1,
            {"tokenIdentifier": "...", "subject": "...", "issuer": "..."},
        ),
    ),
    (
        '{"type":"Authenticate","tokenType":"None","baseVersion":2}',
        Authenticate("None", None, 2),
    ),
    (
        '{"type":"Event","eventType":"NetworkRecoveryReconnect","event":{"timeSavedMs":1234}}',
        Event("NetworkRecoveryReconnect", {"timeSavedMs": 1234}),
    ),
]

TS0 = "AAAAAAAAAAA="
T1 = "MviyfgFy6xg="

SERVER_EXAMPLES: list[tuple[str, ServerMessage]] = [
    (
        '{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},'
        '"endVersion":{"querySet":1,"identity":0,"ts":"MviyfgFy6xg="},"modifications":[{"type":'
        '"QueryUpdated","queryId":0,"value":[],"logLines":[],"journal":null}],'
        '"clientClockSkew":224,"serverTs":1795654228594522446}',
        Transition(
            StateVersion(0, 0, 0),
            StateVersion(1, 0, u64(T1)),
            (QueryUpdated(0, [], (), None),),
            224.0,
            1795654228594522446,
        ),
    ),
    (
        # The three modification shapes of §5.1, with the placeholders filled in.
        '{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"MviyfgFy6xg="},'
        '"endVersion":{"querySet":2,"identity":0,"ts":"MviyfgFy6xg="},"modifications":['
        '{"type":"QueryUpdated","queryId":0,"value":{"n":{"$integer":"AQAAAAAAAAA="}},'
        '"logLines":["[LOG] \'x\'"],"journal":null},'
        '{"type":"QueryFailed","queryId":1,"errorMessage":"Uncaught Error: boom","logLines":[],'
        '"journal":null,"errorData":{"code":"BAD"}},'
        '{"type":"QueryRemoved","queryId":2}],"clientClockSkew":null,"serverTs":null}',
        Transition(
            StateVersion(1, 0, u64(T1)),
            StateVersion(2, 0, u64(T1)),
            (
                QueryUpdated(0, {"n": Int64(1)}, ("[LOG] 'x'",), None),
                QueryFailed(1, "Uncaught Error: boom", (), None, {"code": "BAD"}),
                QueryRemoved(2),
            ),
        ),
    ),
    (
        '{"type":"MutationResponse","requestId":0,"success":true,"result":"fcee0b53b7034a7a",'
        '"ts":"eM5A0wFy6xg=","logLines":[]}',
        MutationResponse(0, True, "fcee0b53b7034a7a", u64("eM5A0wFy6xg="), ()),
    ),
    (
        '{"type":"MutationResponse","requestId":1,"success":false,'
        '"result":"Uncaught ConvexError: {\\"code\\":\\"BAD\\"}","ts":null,"logLines":[],'
        '"errorData":{"code":"BAD"}}',
        MutationResponse(
            1, False, 'Uncaught ConvexError: {"code":"BAD"}', None, (), {"code": "BAD"}
        ),
    ),
    (
        '{"type":"ActionResponse","requestId":2,"success":true,'
        '"result":{"b":{"$bytes":"+/8AAX8="},"x":{"$integer":"AQAAAAAAAAA="}},"logLines":[]}',
        ActionResponse(2, True, {"b": b"\xfb\xff\x00\x01\x7f", "x": Int64(1)}, ()),
    ),
    (
        '{"type":"ActionResponse","requestId":3,"success":false,'
        '"result":"Uncaught Error: nope","logLines":[]}',
        ActionResponse(3, False, "Uncaught Error: nope", ()),
    ),
    (
        '{"type":"AuthError","error":"Could not verify OIDC token claim ...","baseVersion":0,'
        '"authUpdateAttempted":true}',
        AuthError("Could not verify OIDC token claim ...", 0, True),
    ),
    (
        '{"type":"FatalError","error":"BaseVersionMismatch: ..."}',
        FatalError("BaseVersionMismatch: ..."),
    ),
    ('{"type":"Ping"}', Ping()),
]


@pytest.mark.parametrize(("frame", "message"), CLIENT_EXAMPLES)
def test_client_examples_parse_and_reencode(frame: str, message: ClientMessage) -> None:
    assert parse_client_message(frame) == message
    same_json(encode_client_message(message), frame)


@pytest.mark.parametrize(("frame", "message"), SERVER_EXAMPLES)
def test_server_examples_parse_and_reencode(frame: str, message: ServerMessage) -> None:
    assert parse_server_message(frame) == message
    same_json(encode_server_message(message), frame)


def test_int64_keeps_its_type_through_parsing() -> None:
    # Int64(1) == 1.0 in Python, so equality alone would not catch a float.
    parsed = parse_client_message(CLIENT_EXAMPLES[5][0])
    assert isinstance(parsed, Action)
    assert type(parsed.args["x"]) is Int64
    assert type(parsed.args["b"]) is bytes


def test_json_numbers_in_args_are_float64() -> None:
    frame = '{"type":"Mutation","requestId":0,"udfPath":"a:b","args":[{"n":1}]}'
    parsed = parse_client_message(frame)
    assert isinstance(parsed, Mutation)
    assert type(parsed.args["n"]) is float


def test_server_encoding_follows_what_clients_require() -> None:
    # Rust parses clientClockSkew and serverTs as i64: both go out as JSON integers.
    transition = Transition(StateVersion(0, 0, 0), StateVersion(1, 0, 5), (), 224.4, 10**18)
    assert '"clientClockSkew":224,' in encode_server_message(transition)
    assert '"serverTs":1000000000000000000}' in encode_server_message(transition)
    # A failed mutation carries ts null and no errorData unless it was a ConvexError.
    failed = orjson.loads(encode_server_message(MutationResponse(4, False, "Uncaught Error: x")))
    assert failed == {
        "type": "MutationResponse",
        "requestId": 4,
        "success": False,
        "result": "Uncaught Error: x",
        "ts": None,
        "logLines": [],
    }
    # ConvexError(None): errorData is present and null, which is not "absent".
    null_data = MutationResponse(4, False, "Uncaught ConvexError: null", None, (), None)
    assert orjson.loads(encode_server_message(null_data))["errorData"] is None
    assert parse_server_message(encode_server_message(null_data)) == null_data
    # Float64 values keep a decimal point (the Python HTTP client rejects JSON integers).
    updated = encode_server_message(
        Transition(StateVersion(0, 0, 0), StateVersion(1, 0, 1), (QueryUpdated(0, 1.0),))
    )
    assert '"value":1.0,' in updated
    assert '"journal":null' in updated


def test_encoding_refuses_messages_clients_cannot_parse() -> None:
    with pytest.raises(ValueError, match="needs its commit ts"):
        encode_server_message(MutationResponse(0, True, None))
    with pytest.raises(ValueError, match="error message"):
        encode_server_message(ActionResponse(0, False, {"not": "a message"}))
    with pytest.raises(ValueError, match=r"queryId must be a u32"):
        encode_query_removed_fragment(2**32)
    with pytest.raises(ValueError, match=r"Transition.endVersion.ts must be a timestamp"):
        encode_server_message(Transition(StateVersion(0, 0, 0), StateVersion(0, 0, 2**63), ()))
    with pytest.raises(ValueError, match="needs a value"):
        encode_client_message(Authenticate("User", None, 0))


# ---------------------------------------------------------------- leniency


def test_unknown_fields_and_nulls_for_optional_fields_are_accepted() -> None:
    frame = (
        '{"type":"Connect","sessionId":"s","connectionCount":3,"lastCloseReason":null,'
        '"maxObservedTimestamp":null,"futureField":{"x":1}}'
    )
    assert parse_client_message(frame) == Connect("s", 3, None)
    # The Rust client sends clientTs 0 and never journals; npm re-sends null journals.
    frame = (
        '{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add",'
        '"queryId":7,"udfPath":"messages.js:list","args":[{}],"journal":null,"componentPath":null}]}'
    )
    assert parse_client_message(frame) == ModifyQuerySet(
        0, 1, (QueryAdd(7, "messages.js:list", {}),)
    )


def test_rust_spelling_of_impersonation_is_accepted() -> None:
    frame = (
        '{"type":"Authenticate","tokenType":"Admin","value":"k","baseVersion":0,'
        '"acting_as":{"subject":"u1","issuer":"i"}}'
    )
    assert parse_client_message(frame) == Authenticate(
        "Admin", "k", 0, {"subject": "u1", "issuer": "i"}
    )
    # Only admins impersonate; a stray value on tokenType None is ignored.
    user = (
        '{"type":"Authenticate","tokenType":"User","value":"j","baseVersion":0,"impersonating":{}}'
    )
    assert parse_client_message(user) == Authenticate("User", "j", 0)
    none = '{"type":"Authenticate","tokenType":"None","value":"x","baseVersion":1}'
    assert parse_client_message(none) == Authenticate("None", None, 1)


def test_error_data_absent_and_null_are_different() -> None:
    base = '{"type":"ActionResponse","requestId":1,"success":false,"result":"e","logLines":[]'
    plain = parse_server_message(base + "}")
    convex_error_null = parse_server_message(base + ',"errorData":null}')
    assert isinstance(plain, ActionResponse)
    assert isinstance(convex_error_null, ActionResponse)
    assert plain.error_data is NO_ERROR_DATA
    assert convex_error_null.error_data is None


# ---------------------------------------------------------------- malformed frames

MUT = '{"type":"Mutation","requestId":0,"udfPath":"a:b","args":%s}'
MQS = '{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":%s}'
ADD = '{"type":"Add","queryId":%s,"udfPath":"a:b","args":[{}]}'
CONNECT = '{"type":"Connect","sessionId":"s","connectionCount":%s%s}'

BAD_CLIENT_FRAMES: list[tuple[str | bytes, str]] = [
    ("not json", "frame is not valid JSON: "),
    ('{"type":"Ping"', "frame is not valid JSON: "),
    ("", "frame is not valid JSON: "),
    (b'{"type":"Connect"}', "binary frames are not supported"),
    ("[1, 2]", "frame must be a JSON object, got an array"),
    ('"Connect"', "frame must be a JSON object, got 'Connect'"),
    ('{"sessionId":"s"}', 'frame has no "type" field'),
    ('{"type":3}', "message type must be a string, got 3"),
    ('{"type":"Foo"}', "unknown message type 'Foo'"),
    ('{"type":"Ping"}', "unknown message type 'Ping'"),
    ('{"type":"Connect","connectionCount":0}', "Connect.sessionId is missing"),
    (
        '{"type":"Connect","sessionId":7,"connectionCount":0}',
        "Connect.sessionId must be a string, got 7",
    ),
    (CONNECT % ('"0"', ""), "Connect.connectionCount must be a u32, got '0'"),
    (CONNECT % ("true", ""), "Connect.connectionCount must be a u32, got true"),
    (CONNECT % ("1.0", ""), "Connect.connectionCount must be a u32, got 1.0"),
    (CONNECT % ("-1", ""), "Connect.connectionCount must be a u32, got -1"),
    (CONNECT % ("4294967296", ""), "Connect.connectionCount must be a u32, got 4294967296"),
    (
        CONNECT % ("0", ',"maxObservedTimestamp":"not base64!"'),
        "Connect.maxObservedTimestamp must be a u64 as base64 of 8 little-endian bytes, "
        "got 'not base64!'",
    ),
    (
        CONNECT % ("0", ',"maxObservedTimestamp":"AQAAAA=="'),
        "Connect.maxObservedTimestamp must be a u64 as base64 of 8 little-endian bytes, "
        "got 'AQAAAA=='",
    ),
    (
        CONNECT % ("0", ',"maxObservedTimestamp":12'),
        "Connect.maxObservedTimestamp must be a u64 as base64 of 8 little-endian bytes, got 12",
    ),
    (CONNECT % ("0", ',"clientTs":"now"'), "Connect.clientTs must be a number, got 'now'"),
    (
        MQS % ("[" + ADD % "0" + "," + ADD % "-3" + "]"),
        "ModifyQuerySet.modifications[1].queryId must be a u32, got -3",
    ),
    (MQS % "{}", "ModifyQuerySet.modifications must be an array, got an object"),
    (MQS % "[3]", "ModifyQuerySet.modifications[0] must be an object, got 3"),
    (
        MQS % '[{"type":"Upsert","queryId":0}]',
        "ModifyQuerySet.modifications[0].type must be 'Add' or 'Remove', got 'Upsert'",
    ),
    (MQS % '[{"type":"Remove"}]', "ModifyQuerySet.modifications[0].queryId is missing"),
    (
        MQS % '[{"type":"Add","queryId":0,"udfPath":"a:b"}]',
        "ModifyQuerySet.modifications[0].args is missing",
    ),
    (
        '{"type":"ModifyQuerySet","newVersion":1,"modifications":[]}',
        "ModifyQuerySet.baseVersion is missing",
    ),
    (MUT % '{"a":1}', "Mutation.args must be an array holding exactly one object, got an object"),
    (MUT % "[]", "Mutation.args must be an array holding exactly one object, got an array"),
    (MUT % "[{},{}]", "Mutation.args must be an array holding exactly one object, got an array"),
    (MUT % "[1]", "Mutation.args must be an array holding exactly one object, got an array"),
    (MUT % "null", "Mutation.args must be an array holding exactly one object, got null"),
    (
        MUT % '[{"$integer":"AQAAAAAAAAA="}]',
        "Mutation.args must be an array holding exactly one object, got an encoded Int64",
    ),
    (MUT % '[{"n":{"$integer":"AQ=="}}]', "Mutation.args[0] is not a valid Convex value: "),
    (MUT % '[{"n":{"$integer":"!!!!!!!!!!!="}}]', "Mutation.args[0] is not a valid Convex value: "),
    (MUT % '[{"s":{"$set":[]}}]', "Mutation.args[0] is not a valid Convex value: "),
    (MUT % '[{"$bad":1,"x":2}]', "Mutation.args[0] is not a valid Convex value: "),
    # Nesting deeper than Convex's 64 levels is refused, not a RecursionError.
    (MUT % ('[{"x":' + "[" * 1000 + "]" * 1000 + "}]"), "Mutation.args[0] is not a valid"),
    ('{"type":"Action","requestId":0,"args":[{}]}', "Action.udfPath is missing"),
    (
        '{"type":"Authenticate","tokenType":"Bearer","value":"t","baseVersion":0}',
        "Authenticate.tokenType must be 'User', 'Admin' or 'None', got 'Bearer'",
    ),
    ('{"type":"Authenticate","tokenType":"User","baseVersion":0}', "Authenticate.value is missing"),
    ('{"type":"Authenticate","tokenType":"None"}', "Authenticate.baseVersion is missing"),
    (
        '{"type":"Authenticate","tokenType":"Admin","value":"k","baseVersion":0,"impersonating":[]}',
        "Authenticate.impersonating must be an object, got an array",
    ),
    ('{"type":"Event","eventType":"x"}', "Event.event is missing"),
]


@pytest.mark.parametrize(("frame", "message"), BAD_CLIENT_FRAMES)
def test_malformed_client_frames_name_the_problem(frame: str | bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match="^" + re.escape(message)):
        parse_client_message(frame)


SV = '{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="}'
TRANSITION = '{"type":"Transition","startVersion":%s,"endVersion":%s,"modifications":%s}'
UPDATED = '{"type":"QueryUpdated","queryId":0,"value":null%s}'

BAD_SERVER_FRAMES: list[tuple[str, str]] = [
    (
        '{"type":"TransitionChunk","chunk":"","partNumber":0}',
        "unknown message type 'TransitionChunk'",
    ),
    ('{"type":"Connect","sessionId":"s","connectionCount":0}', "unknown message type 'Connect'"),
    (TRANSITION % (SV, "1", "[]"), "Transition.endVersion must be an object, got 1"),
    (
        TRANSITION % (SV, '{"querySet":0,"identity":0,"ts":"AAAA"}', "[]"),
        "Transition.endVersion.ts must be a u64 as base64 of 8 little-endian bytes, got 'AAAA'",
    ),
    (
        TRANSITION % (SV, '{"querySet":0,"ts":"AAAAAAAAAAA="}', "[]"),
        "Transition.endVersion.identity is missing",
    ),
    (
        TRANSITION % (SV, SV, "[" + UPDATED % ',"journal":null' + "]"),
        "Transition.modifications[0].logLines is missing",
    ),
    (
        TRANSITION % (SV, SV, "[" + UPDATED % ',"logLines":[1]' + "]"),
        "Transition.modifications[0].logLines[0] must be a string, got 1",
    ),
    (
        TRANSITION % (SV, SV, '[{"type":"QueryUpdated","queryId":0,"logLines":[]}]'),
        "Transition.modifications[0].value is missing",
    ),
    (
        TRANSITION % (SV, SV, '[{"type":"QueryChanged","queryId":0}]'),
        "Transition.modifications[0].type must be 'QueryUpdated', 'QueryFailed' or "
        "'QueryRemoved', got 'QueryChanged'",
    ),
    (
        TRANSITION
        % (SV, SV, "[" + UPDATED % ',"logLines":[],"value":{"$float":"AAAAAAAA8D8="}' + "]"),
        "Transition.modifications[0].value is not a valid Convex value: ",
    ),
    (
        '{"type":"MutationResponse","requestId":0,"success":true,"result":null,"logLines":[]}',
        "MutationResponse.ts is missing",
    ),
    (
        '{"type":"MutationResponse","requestId":0,"success":false,"result":{},"logLines":[]}',
        "MutationResponse.result must be a string, got an object",
    ),
    (
        '{"type":"ActionResponse","requestId":0,"success":"yes","result":1,"logLines":[]}',
        "ActionResponse.success must be a boolean, got 'yes'",
    ),
    ('{"type":"AuthError","baseVersion":0}', "AuthError.error is missing"),
    ('{"type":"FatalError","error":null}', "FatalError.error must be a string, got null"),
]


@pytest.mark.parametrize(("frame", "message"), BAD_SERVER_FRAMES)
def test_malformed_server_frames_name_the_problem(frame: str, message: str) -> None:
    with pytest.raises(ProtocolError, match="^" + re.escape(message)):
        parse_server_message(frame)


# ---------------------------------------------------------------- fan-out splicing


def test_spliced_transition_equals_the_plain_encoding() -> None:
    result = {"page": [{"_id": "abc", "n": Int64(-1), "f": math.inf}], "isDone": True}
    # Encoded once per (query, ts) ...
    shared = encode_query_updated_value(result)
    start, end = StateVersion(3, 1, u64(T1)), StateVersion(4, 1, u64(T1) + 1)
    # ... and spliced into frames for clients that know the query by different ids.
    for query_id in (0, 41):
        modifications = (
            QueryUpdated(query_id, result, ("[LOG] 'hi'",), "journal-1"),
            QueryFailed(query_id + 1, "Uncaught ConvexError: 1", (), None, Int64(1)),
            QueryFailed(query_id + 2, "Uncaught Error: boom"),
            QueryRemoved(query_id + 3),
        )
        fragments = [
            encode_query_updated_fragment(query_id, shared, ["[LOG] 'hi'"], "journal-1"),
            encode_query_failed_fragment(
                query_id + 1, "Uncaught ConvexError: 1", error_data=Int64(1)
            ),
            encode_query_failed_fragment(query_id + 2, "Uncaught Error: boom"),
            encode_query_removed_fragment(query_id + 3),
        ]
        transition = Transition(start, end, modifications, -12.0, 1795654228594522446)
        spliced = encode_transition_frame(start, end, fragments, -12.0, 1795654228594522446)
        same_json(spliced, encode_server_message(transition))
        assert parse_server_message(spliced) == transition


def test_frames_alike_for_many_clients_are_made_once() -> None:
    """Clients sharing a query at one version get one frame object; any difference
    (version, fragments, skew, server time) gives a frame of its own, each exact."""
    fragment = encode_query_updated_fragment(0, encode_query_updated_value([1.0]), [], None)
    start, end = StateVersion(1, 0, u64(T1)), StateVersion(1, 0, u64(T1) + 1)
    args = (start, end, [fragment], None, 1795654228594522446)
    first = encode_transition_frame(*args, trusted=True)
    assert encode_transition_frame(*args, trusted=True) is first
    variants = [
        (StateVersion(2, 0, u64(T1)), end, [fragment], None, 1795654228594522446),
        (start, StateVersion(1, 1, u64(T1) + 1), [fragment], None, 1795654228594522446),
        (start, end, [fragment, fragment], None, 1795654228594522446),
        (start, end, [fragment], -3.0, 1795654228594522446),
        (start, end, [fragment], None, 1795654228594522447),
    ]
    for variant in variants:
        frame = encode_transition_frame(*variant, trusted=True)
        transition = Transition(
            variant[0],
            variant[1],
            tuple(QueryUpdated(0, [1.0]) for _ in variant[2]),
            variant[3],
            variant[4],
        )
        assert parse_server_message(frame) == transition
        assert frame != first


def test_large_frames_are_exact_every_time() -> None:
    big = encode_query_updated_fragment(0, encode_query_updated_value("x" * 100_000), [], None)
    start, end = StateVersion(1, 0, u64(T1)), StateVersion(1, 0, u64(T1) + 1)
    frames = [encode_transition_frame(start, end, [big], None, 7, trusted=True) for _ in range(2)]
    assert frames[0] == frames[1]
    assert orjson.loads(frames[1])["modifications"][0]["value"] == "x" * 100_000


def test_empty_transition_splices_too() -> None:
    # After every MutationResponse the server sends a Transition, often empty.
    start, end = StateVersion(1, 0, 10), StateVersion(1, 0, 20)
    frame = encode_transition_frame(start, end, [])
    same_json(frame, encode_server_message(Transition(start, end, ())))
    assert orjson.loads(frame)["modifications"] == []


# ---------------------------------------------------------------- properties

PRINTABLE_ASCII = st.characters(min_codepoint=32, max_codepoint=126)
FIELD_NAMES = st.text(PRINTABLE_ASCII, min_size=1, max_size=8).filter(lambda k: k[0] != "$")
# Lone surrogates cannot be UTF-8 encoded, so no client can send them.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
U32 = st.integers(0, 2**32 - 1)
TS = st.integers(0, 2**63 - 1)

CONVEX_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False)  # NaN != NaN would defeat the equality checks
    | st.builds(Int64, st.integers(-(2**63), 2**63 - 1))
    | TEXT
    | st.binary(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(FIELD_NAMES, inner, max_size=4),
    max_leaves=12,
)
ARGS = st.dictionaries(FIELD_NAMES, CONVEX_VALUES, max_size=4)
PLAIN_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
OPTIONAL_TEXT = st.none() | TEXT

CLIENT_MESSAGES: st.SearchStrategy[ClientMessage] = st.one_of(
    st.builds(
        Connect,
        TEXT,
        U32,
        OPTIONAL_TEXT,
        st.none() | TS,
        st.none() | st.integers(0, 2**53).map(float),  # clientTs goes out as integral ms
    ),
    st.builds(
        ModifyQuerySet,
        U32,
        U32,
        st.lists(
            st.builds(QueryAdd, U32, TEXT, ARGS, OPTIONAL_TEXT, OPTIONAL_TEXT)
            | st.builds(QueryRemove, U32),
            max_size=4,
        ).map(tuple),
    ),
    st.builds(Mutation, U32, TEXT, ARGS, OPTIONAL_TEXT),
    st.builds(Action, U32, TEXT, ARGS, OPTIONAL_TEXT),
    st.builds(Authenticate, st.just("None"), st.none(), U32),
    st.builds(Authenticate, st.just("User"), TEXT, U32),
    st.builds(
        Authenticate,
        st.just("Admin"),
        TEXT,
        U32,
        st.none() | st.dictionaries(TEXT, PLAIN_JSON, max_size=3),
    ),
    st.builds(Event, TEXT, PLAIN_JSON),
)


@FUZZ
@given(CLIENT_MESSAGES)
def test_client_messages_round_trip(message: ClientMessage) -> None:
    encoded = encode_client_message(message)
    parsed = parse_client_message(encoded)
    assert parsed == message
    # Int64(1) == 1.0 and -0.0 == 0.0: the re-encoding also has to match exactly.
    assert encode_client_message(parsed) == encoded


LOG_LINES = st.lists(TEXT, max_size=3).map(tuple)
ERROR_DATA = st.just(NO_ERROR_DATA) | CONVEX_VALUES
STATE_VERSIONS = st.builds(StateVersion, U32, U32, TS)
STATE_MODIFICATIONS = st.lists(
    st.builds(QueryUpdated, U32, CONVEX_VALUES, LOG_LINES, OPTIONAL_TEXT)
    | st.builds(QueryFailed, U32, TEXT, LOG_LINES, OPTIONAL_TEXT, ERROR_DATA)
    | st.builds(QueryRemoved, U32),
    max_size=4,
).map(tuple)
SKEWS = st.none() | st.integers(-(2**40), 2**40).map(float)
SERVER_TS = st.none() | TS

SERVER_MESSAGES: st.SearchStrategy[ServerMessage] = st.one_of(
    st.builds(Transition, STATE_VERSIONS, STATE_VERSIONS, STATE_MODIFICATIONS, SKEWS, SERVER_TS),
    st.builds(MutationResponse, U32, st.just(True), CONVEX_VALUES, TS, LOG_LINES),
    st.builds(MutationResponse, U32, st.just(False), TEXT, st.none(), LOG_LINES, ERROR_DATA),
    st.builds(ActionResponse, U32, st.just(True), CONVEX_VALUES, LOG_LINES),
    st.builds(ActionResponse, U32, st.just(False), TEXT, LOG_LINES, ERROR_DATA),
    st.builds(AuthError, TEXT, st.none() | U32, st.none() | st.booleans()),
    st.builds(FatalError, TEXT),
    st.just(Ping()),
)


@FUZZ
@given(SERVER_MESSAGES)
def test_server_messages_round_trip(message: ServerMessage) -> None:
    encoded = encode_server_message(message)
    parsed = parse_server_message(encoded)
    assert parsed == message
    assert encode_server_message(parsed) == encoded


@FUZZ
@given(STATE_VERSIONS, STATE_VERSIONS, STATE_MODIFICATIONS, SKEWS, SERVER_TS)
def test_splicing_matches_plain_encoding(
    start: StateVersion,
    end: StateVersion,
    modifications: tuple[Any, ...],
    skew: float | None,
    server_ts: int | None,
) -> None:
    fragments = [encode_modification_fragment(m) for m in modifications]
    spliced = encode_transition_frame(start, end, fragments, skew, server_ts)
    transition = Transition(start, end, modifications, skew, server_ts)
    same_json(spliced, encode_server_message(transition))
    # The session's own versions skip the u32 checks and reuse the ts encoding.
    assert encode_transition_frame(start, end, fragments, skew, server_ts, trusted=True) == spliced


def _expect_protocol_error_or_message(frame: str) -> None:
    for parse in (parse_client_message, parse_server_message):
        with contextlib.suppress(ProtocolError):
            parse(frame)


@FUZZ
@given(st.text())
def test_garbage_text_only_raises_protocol_error(frame: str) -> None:
    _expect_protocol_error_or_message(frame)


KNOWN_TYPES = [
    "Connect", "ModifyQuerySet", "Mutation", "Action", "Authenticate", "Event", "Add", "Remove",
    "Transition", "QueryUpdated", "QueryFailed", "QueryRemoved", "MutationResponse",
    "ActionResponse", "AuthError", "FatalError", "Ping", "TransitionChunk",
]  # fmt: skip
KNOWN_FIELDS = [
    "sessionId", "connectionCount", "lastCloseReason", "maxObservedTimestamp", "clientTs",
    "baseVersion", "newVersion", "modifications", "queryId", "udfPath", "args", "journal",
    "componentPath", "requestId", "tokenType", "value", "impersonating", "acting_as",
    "eventType", "event", "startVersion", "endVersion", "querySet", "identity", "ts",
    "clientClockSkew", "serverTs", "logLines", "errorMessage", "errorData", "success",
    "result", "error", "authUpdateAttempted",
]  # fmt: skip
WIRE_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([*KNOWN_TYPES, "AAAAAAAAAAA=", "AQ==", "$integer"])
    | TEXT,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from([*KNOWN_FIELDS, "type", "$integer", "$bytes", "$float"]) | TEXT,
            inner,
            max_size=5,
        )
    ),
    max_leaves=16,
)


@FUZZ
@given(
    st.dictionaries(st.sampled_from(KNOWN_FIELDS), WIRE_JSON, max_size=8),
    st.sampled_from(KNOWN_TYPES),
)
def test_plausible_garbage_only_raises_protocol_error(fields: dict[str, Any], kind: str) -> None:
    _expect_protocol_error_or_message(orjson.dumps({"type": kind, **fields}).decode())


@settings(FUZZ, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_examples_only_raise_protocol_error(data: st.DataObject) -> None:
    """Replace one field, anywhere in a valid frame, with arbitrary JSON."""
    frame = data.draw(st.sampled_from([f for f, _ in CLIENT_EXAMPLES + SERVER_EXAMPLES]))
    obj = orjson.loads(frame)
    node: Any = obj
    while True:
        keys = list(range(len(node))) if isinstance(node, list) else list(node)
        if not keys:
            break
        key = data.draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and child and data.draw(st.booleans()):
            node = child
            continue
        node[key] = data.draw(WIRE_JSON)
        break
    _expect_protocol_error_or_message(orjson.dumps(obj).decode())
