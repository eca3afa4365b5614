"""Transition frames spliced from pre-encoded pieces.

A query shared by many clients changes once per commit, but every subscriber
needs its own Transition (query ids and versions are per client). So the
server encodes the result value once per (query, timestamp) with
:func:`encode_query_updated_value`, wraps it per client with
:func:`encode_query_updated_fragment` (cheap byte concatenation) and joins the
fragments with :func:`encode_transition_frame`. The output parses to exactly
what ``encode_server_message`` gives for the equivalent :class:`Transition`.

The fragments are trusted: they must come from the functions here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reactor.sync._codec_fields import (
    check_ts,
    check_u32,
    json_ms,
    state_version_json,
    to_json_bytes,
)
from reactor.sync._messages import (
    NO_ERROR_DATA,
    NoErrorData,
    QueryFailed,
    QueryRemoved,
    QueryUpdated,
    StateModification,
    StateVersion,
)
from reactor.values import convex_to_json, u64_to_b64

__all__ = [
    "encode_modification_fragment",
    "encode_query_failed_fragment",
    "encode_query_removed_fragment",
    "encode_query_updated_fragment",
    "encode_query_updated_value",
    "encode_transition_frame",
]


def encode_query_updated_value(value: Any) -> bytes:
    """The JSON of one query result; compute once, splice into many frames."""
    return to_json_bytes(convex_to_json(value))


def _query_id(query_id: int) -> bytes:
    return b"%d" % check_u32(query_id, "queryId")


def encode_query_updated_fragment(
    query_id: int,
    encoded_value: bytes,
    log_lines: Sequence[str] = (),
    journal: str | None = None,
) -> bytes:
    """A ``QueryUpdated`` modification around a value from :func:`encode_query_updated_value`."""
    return b"".join(
        (
            b'{"type":"QueryUpdated","queryId":',
            _query_id(query_id),
            b',"value":',
            encoded_value,
            b',"logLines":',
            to_json_bytes(list(log_lines)),
            b',"journal":',
            to_json_bytes(journal),
            b"}",
        )
    )


def encode_query_failed_fragment(
    query_id: int,
    error_message: str,
    log_lines: Sequence[str] = (),
    journal: str | None = None,
    error_data: Any | NoErrorData = NO_ERROR_DATA,
) -> bytes:
    """A ``QueryFailed`` modification; ``errorData`` only for a ConvexError."""
    out: dict[str, Any] = {
        "type": "QueryFailed",
        "queryId": check_u32(query_id, "queryId"),
        "errorMessage": error_message,
        "logLines": list(log_lines),
        "journal": journal,
    }
    if error_data is not NO_ERROR_DATA:
        out["errorData"] = convex_to_json(error_data)
    return to_json_bytes(out)


def encode_query_removed_fragment(query_id: int) -> bytes:
    """A ``QueryRemoved`` modification (the answer to a client's ``Remove``)."""
    return b'{"type":"QueryRemoved","queryId":' + _query_id(query_id) + b"}"


def encode_modification_fragment(m: StateModification) -> bytes:
    """Any modification as a fragment, encoding its value on the spot."""
    match m:
        case QueryUpdated():
            value = encode_query_updated_value(m.value)
            return encode_query_updated_fragment(m.query_id, value, m.log_lines, m.journal)
        case QueryFailed():
            return encode_query_failed_fragment(
                m.query_id, m.error_message, m.log_lines, m.journal, m.error_data
            )
        case QueryRemoved():
            return encode_query_removed_fragment(m.query_id)


_TS_JSON: dict[int, bytes] = {}
"""Recent timestamps as JSON strings: every subscriber's Transition after a
commit carries the same ts, so it is base64-encoded once, not once per client."""
_TS_JSON_MAX = 64


def _ts_json(ts: int, where: str) -> bytes:
    out = _TS_JSON.get(ts)
    if out is None or type(ts) is not int:  # bool hashes as 0 and 1: check it anew
        out = b'"%s"' % u64_to_b64(check_ts(ts, where)).encode()
        if len(_TS_JSON) >= _TS_JSON_MAX:
            _TS_JSON.clear()
        _TS_JSON[ts] = out
    return out


def _version_json(version: StateVersion, where: str, trusted: bool) -> bytes:
    if not trusted:
        return to_json_bytes(state_version_json(version, where))
    return b'{"querySet":%d,"identity":%d,"ts":%s}' % (
        version.query_set,
        version.identity,
        _ts_json(version.ts, f"{where}.ts"),
    )


def encode_transition_frame(
    start_version: StateVersion,
    end_version: StateVersion,
    fragments: Sequence[bytes],
    client_clock_skew: float | None = None,
    server_ts: int | None = None,
    *,
    trusted: bool = False,
) -> str:
    """A whole ``Transition`` text frame from modification fragments.

    ``trusted``: the versions were built by this server (a ``SyncSession``),
    whose query-set and identity versions are u32 by construction, so they
    are not checked again; the ts is still checked, once per timestamp.

    The same arguments as the call before give the same ``str`` object: when a
    commit changes a query many clients watch, their frames are mostly alike
    (and the server writes a frame it has just framed without framing it again).
    """
    global _last_transition
    key = (start_version, end_version, tuple(fragments), client_clock_skew, server_ts, trusted)
    last_key, last_frame = _last_transition
    if key == last_key:
        return last_frame
    frame = b"".join(
        (
            b'{"type":"Transition","startVersion":',
            _version_json(start_version, "Transition.startVersion", trusted),
            b',"endVersion":',
            _version_json(end_version, "Transition.endVersion", trusted),
            b',"modifications":[',
            b",".join(fragments),
            b'],"clientClockSkew":',
            to_json_bytes(json_ms(client_clock_skew)),
            b',"serverTs":',
            # The Rust client parses serverTs as i64: never a float.
            to_json_bytes(None if server_ts is None else int(server_ts)),
            b"}",
        )
    ).decode()
    if len(frame) <= _MEMO_MAX_CHARS:
        _last_transition = (key, frame)
    return frame


_MEMO_MAX_CHARS = 64 * 1024
"""Larger frames are not kept for the next call: memory held for nothing once
they are sent (joining them again is a copy, small next to sending them)."""
_last_transition: tuple[object, str] = ((), "")
