"""Bad sync-protocol frames, each with what the server must answer.

``fatal_case(rng)`` makes one connection's worth: a valid Connect (unless
Connect itself is the frame mutated), one bad frame, then a sentinel frame
whose FatalError is known. If the server takes the bad frame without a
FatalError, the sentinel's arrives instead, so no exchange waits on a timer.
``call_batch(rng)`` makes a connection of calls that are well-formed but
wrong (unknown functions, arguments their validators refuse, queries that
fail): each is answered and the connection lives on.

The base messages call functions that never write (``messages:fail`` rolls
back, queries read an empty channel), so fuzzing leaves the store alone.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from hostile_wire import BINARY, frame

SENTINEL = frame('{"type":"Sentinel"}')
SENTINEL_ERROR = "unknown message type 'Sentinel'"
MAX_FRAME_BYTES = 1 << 20
"""The fuzzed server's ``max_frame_bytes`` (REACTOR_MAX_FRAME_BYTES)."""


@dataclass(frozen=True)
class Case:
    label: str
    frames: list[bytes]
    expect: str | None
    """A substring of the FatalError (which the close reason repeats), or of the
    close reason when ``close_code`` is not 1002; None: any clean answer."""
    close_code: int = 1002


def connect_msg() -> dict[str, Any]:
    return {
        "type": "Connect",
        "sessionId": str(uuid.uuid4()),
        "connectionCount": 0,
        "lastCloseReason": "InitialConnect",
        "clientTs": 0,
    }


def _bases() -> dict[str, dict[str, Any]]:
    add = {"type": "Add", "queryId": 0, "udfPath": "messages:list", "args": [{"channel": "x"}]}
    return {
        "Connect": connect_msg(),
        "ModifyQuerySet": {
            "type": "ModifyQuerySet",
            "baseVersion": 0,
            "newVersion": 1,
            "modifications": [add],
        },
        "Mutation": {
            "type": "Mutation",
            "requestId": 0,
            "udfPath": "messages:fail",
            "args": [{}],
        },
        "Action": {
            "type": "Action",
            "requestId": 0,
            "udfPath": "messages:fail_action",
            "args": [{"code": "fuzz"}],
        },
        "Authenticate": {
            "type": "Authenticate",
            "tokenType": "User",
            "value": "not-a-jwt",
            "baseVersion": 0,
        },
    }


U32 = {"connectionCount", "baseVersion", "newVersion", "requestId", "queryId"}
STRINGS = {"sessionId", "udfPath", "value"}
REQUIRED = {
    "Connect": {"sessionId", "connectionCount"},
    "ModifyQuerySet": {"baseVersion", "newVersion", "modifications"},
    "Mutation": {"requestId", "udfPath", "args"},
    "Action": {"requestId", "udfPath", "args"},
    "Authenticate": {"tokenType", "baseVersion", "value"},
}
NOT_U32 = ["0", True, None, 1.5, -1, 2**32, 1e300, [], {}]
NOT_STRING = [0, 1.5, True, [], {"a": 1}]
NOT_ARGS = [{}, [], [1], [{}, {}], "x", [[]], None]


def _deep(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _mutate(rng: random.Random, kind: str, msg: dict[str, Any]) -> tuple[str, str, str | None]:
    """(label, JSON text, expected error) of one mutation of ``msg``."""
    where = kind
    target = msg
    if kind == "ModifyQuerySet" and rng.random() < 0.4:
        target, where = msg["modifications"][0], "ModifyQuerySet.modifications[0]"
    name = rng.choice(sorted(target))
    how = rng.choice(["drop", "flip", "flip", "dup", "huge", "deep"])
    if how == "drop":
        del target[name]
        if target is not msg:
            expect: str | None = f"{where}.{name} is missing"
        elif name == "type":
            expect = 'frame has no "type" field'
        else:
            expect = f"{kind}.{name} is missing" if name in REQUIRED[kind] else None
        return f"{kind}: drop {name}", orjson.dumps(msg).decode(), expect
    if how == "dup":
        # A duplicate key, first bad then good: the last one wins (orjson), as in JS.
        text = orjson.dumps(msg).decode()
        bad = orjson.dumps(rng.choice(NOT_U32)).decode()
        good = orjson.dumps(target[name]).decode()
        key = orjson.dumps(name).decode()
        text = text.replace(f"{key}:{good}", f"{key}:{bad},{key}:{good}", 1)
        return f"{kind}: duplicate {name}", text, None
    if how == "huge":
        field = rng.choice(sorted(U32 & set(target)) or [name])
        spelled = rng.choice(["18446744073709551616", "-1", "1e308", "1e400", "4294967296"])
        target[field] = "@@"
        text = orjson.dumps(msg).decode().replace('"@@"', spelled)
        if spelled == "1e400":
            expect = "frame is not valid JSON"
        else:
            expect = f"{where}.{field} must be a u32" if field in U32 else None
        return f"{kind}: huge {field}={spelled}", text, expect
    if how == "deep" and "args" in target:
        depth = rng.choice([65, 200, 1100])
        target["args"] = ["@@"]
        text = orjson.dumps(msg).decode().replace('"@@"', _deep(depth))
        expect = "depth limit exceeded" if depth > 1000 else "value is too nested"
        return f"{kind}: args nested {depth} deep", text, expect
    # flip the field's type
    if name in U32:
        target[name] = rng.choice(NOT_U32)
        expect = f"{where}.{name} must be a u32"
    elif name in STRINGS:
        target[name] = rng.choice(NOT_STRING)
        expect = f"{where}.{name} must be a string"
    elif name == "args":
        target[name] = rng.choice(NOT_ARGS)
        expect = f"{where}.args must be an array holding exactly one object"
    elif name == "type":
        target[name] = rng.choice([1, None, "Nope", "connect", ""])
        if target is not msg:
            expect = f"{where}.type"
        elif isinstance(target[name], str):
            expect = "unknown message type"
        else:
            expect = "message type must be a string"
    elif name == "modifications":
        target[name] = rng.choice([{}, "x", 1, None])
        expect = "ModifyQuerySet.modifications must be an array"
    elif name == "tokenType":
        target[name] = rng.choice(["user", 1, None, "Bearer"])
        expect = "Authenticate.tokenType must be 'User', 'Admin' or 'None'"
    else:
        target[name] = rng.choice([*NOT_STRING, None])
        expect = None
    return f"{kind}: {name}={target[name]!r}", orjson.dumps(msg).decode(), expect


@dataclass(frozen=True)
class _Special:
    label: str
    data: bytes
    expect: str | None
    code: int = 1002
    first: bool = False
    """The frame goes in place of Connect."""


def _json(obj: Any) -> bytes:
    return frame(orjson.dumps(obj))


def _special(rng: random.Random) -> _Special:
    """A hand-made case."""

    def call(kind: str, args: Any) -> bytes:
        return _json({"type": kind, "requestId": 0, "udfPath": "a:b", "args": [args]})

    def modify(base: int, new: int, *mods: dict[str, Any]) -> bytes:
        msg = {"type": "ModifyQuerySet", "baseVersion": base, "newVersion": new}
        return _json({**msg, "modifications": list(mods)})

    random_text = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(1, 200)))
    cases = [
        _Special("binary frame", frame(b"\0binary", BINARY), "binary frames are not supported"),
        _Special("invalid UTF-8", frame(b'{"type":"\xff\xfe"}'), None, 1007),
        _Special("oversized frame", frame(b" " * (MAX_FRAME_BYTES + 1)), "exceeds limit", 1009),
        _Special("truncated JSON", frame('{"type":"Mutation","re'), "frame is not valid JSON"),
        _Special(
            "not an object",
            frame(rng.choice(["[]", "1", "null", '"Connect"'])),
            "frame must be a JSON object",
        ),
        _Special("random text", frame(random_text), None),
        _Special("wrong query set base", modify(7, 8), "BaseVersionMismatch"),
        _Special("same query set version", modify(0, 0), "InvalidQuerySetVersion"),
        _Special(
            "remove unknown query", modify(0, 1, {"type": "Remove", "queryId": 9}), "QueryNotFound"
        ),
        _Special(
            "wrong identity base",
            _json({"type": "Authenticate", "tokenType": "None", "baseVersion": 3}),
            "BaseVersionMismatch",
        ),
        _Special("Connect twice", _json(connect_msg()), "Connect was sent twice"),
        _Special(
            "Mutation before Connect",
            call("Mutation", {}),
            "first message must be Connect",
            first=True,
        ),
        _Special(
            "bad maxObservedTimestamp",
            _json({**connect_msg(), "maxObservedTimestamp": "AAAA"}),
            "Connect.maxObservedTimestamp must be a u64",
            first=True,
        ),
        _Special(
            "Connect from the future",
            _json({**connect_msg(), "maxObservedTimestamp": "/////////38="}),
            "ClientTimestampTooNew",
            1011,
            first=True,
        ),
        _Special(
            "bad $integer",
            call("Mutation", {"n": {"$integer": "xx"}}),
            "Mutation.args[0] is not a valid Convex value",
        ),
        _Special(
            "reserved key",
            call("Action", {"$foo": 1}),
            "Action.args[0] is not a valid Convex value",
        ),
        _Special(
            "encoded int64 as args",
            call("Mutation", {"$integer": "AAAAAAAAAAA="}),
            "got an encoded Int64",
        ),
    ]
    return rng.choice(cases)


def fatal_case(rng: random.Random) -> Case:
    connect = frame(orjson.dumps(connect_msg()))
    if rng.random() < 0.3:
        special = _special(rng)
        label, bad, expect = special.label, special.data, special.expect
        code, first = special.code, special.first
    else:
        kind = rng.choice(sorted(_bases()))
        label, text, expect = _mutate(rng, kind, _bases()[kind])
        bad, code, first = frame(text), 1002, kind == "Connect"
    frames = [bad, SENTINEL] if first else [connect, bad, SENTINEL]
    return Case(label, frames, expect, code)


def call_batch(rng: random.Random, size: int = 20) -> tuple[list[bytes], int]:
    """A Connect, ``size`` wrong-but-well-formed calls, the sentinel; and how many
    answers (responses, failed queries) the calls must get."""
    frames = [frame(orjson.dumps(connect_msg()))]
    answers = 0
    version = 0
    for request_id in range(size):
        pick = rng.randrange(5)
        if pick == 0:
            msg: dict[str, Any] = {"type": "Mutation", "udfPath": "nope:missing", "args": [{}]}
        elif pick == 1:
            msg = {"type": "Mutation", "udfPath": "messages:send", "args": [{"channel": 1}]}
        elif pick == 2:
            msg = {"type": "Action", "udfPath": "messages:fail_action", "args": [{"x": "y"}]}
        elif pick == 3:
            path = rng.choice(["nope:missing", "messages:list"])
            add = {"type": "Add", "queryId": request_id, "udfPath": path, "args": [{"c": 1}]}
            msg = {
                "type": "ModifyQuerySet",
                "baseVersion": version,
                "newVersion": version + 1,
                "modifications": [add],
            }
            version += 1
        else:
            msg = {"type": "Event", "eventType": "fuzz", "event": {"junk": [1, {"$x": None}]}}
            answers -= 1
        if msg["type"] in ("Mutation", "Action"):
            msg["requestId"] = request_id
        answers += 1
        frames.append(frame(orjson.dumps(msg)))
    frames.append(SENTINEL)
    return frames, answers
