"""Server -> client messages: encoding (server side) and strict parsing (our client)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from reactor.sync._codec_fields import (
    Fields,
    check_ts,
    check_u32,
    describe,
    json_ms,
    load_frame,
    state_version_json,
    to_json_bytes,
)
from reactor.sync._messages import (
    NO_ERROR_DATA,
    ActionResponse,
    AuthError,
    FatalError,
    MutationResponse,
    Ping,
    ProtocolError,
    QueryFailed,
    QueryRemoved,
    QueryUpdated,
    ServerMessage,
    StateModification,
    StateVersion,
    Transition,
)
from reactor.values import convex_to_json, u64_to_b64

__all__ = ["encode_server_message", "parse_server_message"]


def parse_server_message(frame: str | bytes) -> ServerMessage:
    """Parse one frame a server sent; raise :class:`ProtocolError` if malformed."""
    kind, fields = load_frame(frame)
    parse = _PARSERS.get(kind)
    if parse is None:
        # Includes TransitionChunk, which servers must never send (PROTOCOL.md §5.7).
        raise ProtocolError(f"unknown message type {describe(kind)}")
    return parse(fields)


def _state_version(f: Fields) -> StateVersion:
    return StateVersion(f.u32("querySet"), f.u32("identity"), f.u64("ts"))


def _error_data(f: Fields) -> Any:
    # Present-but-null is ConvexError(None); only absence means "no errorData".
    return f.value("errorData") if "errorData" in f.obj else NO_ERROR_DATA


def _transition(f: Fields) -> Transition:
    where = f.where("modifications")
    return Transition(
        start_version=_state_version(f.child("startVersion")),
        end_version=_state_version(f.child("endVersion")),
        modifications=tuple(
            _state_modification(Fields.of(item, f"{where}[{i}]"))
            for i, item in enumerate(f.array("modifications"))
        ),
        client_clock_skew=f.optional_number("clientClockSkew"),
        server_ts=f.optional_integer("serverTs"),
    )


def _state_modification(f: Fields) -> StateModification:
    kind = f.string("type")
    if kind == "QueryUpdated":
        return QueryUpdated(
            query_id=f.u32("queryId"),
            value=f.value("value"),
            log_lines=f.log_lines(),
            journal=f.optional_string("journal"),
        )
    if kind == "QueryFailed":
        return QueryFailed(
            query_id=f.u32("queryId"),
            error_message=f.string("errorMessage"),
            log_lines=f.log_lines(),
            journal=f.optional_string("journal"),
            error_data=_error_data(f),
        )
    if kind == "QueryRemoved":
        return QueryRemoved(f.u32("queryId"))
    raise ProtocolError(
        f"{f.where('type')} must be 'QueryUpdated', 'QueryFailed' or 'QueryRemoved', "
        f"got {describe(kind)}"
    )


def _outcome(f: Fields) -> tuple[int, bool, Any, tuple[str, ...], Any]:
    """The fields MutationResponse and ActionResponse share."""
    request_id = f.u32("requestId")
    success = f.boolean("success")
    if success:
        return request_id, True, f.value("result"), f.log_lines(), NO_ERROR_DATA
    # On failure `result` is the error message, never a Convex value.
    return request_id, False, f.string("result"), f.log_lines(), _error_data(f)


def _mutation_response(f: Fields) -> MutationResponse:
    request_id, success, result, log_lines, error_data = _outcome(f)
    # npm decodes `ts` unconditionally on success, so it is required there.
    ts = f.u64("ts") if success else f.optional_u64("ts")
    return MutationResponse(request_id, success, result, ts, log_lines, error_data)


def _action_response(f: Fields) -> ActionResponse:
    request_id, success, result, log_lines, error_data = _outcome(f)
    return ActionResponse(request_id, success, result, log_lines, error_data)


def _auth_error(f: Fields) -> AuthError:
    return AuthError(
        error=f.string("error"),
        base_version=f.optional_u32("baseVersion"),
        auth_update_attempted=f.optional_boolean("authUpdateAttempted"),
    )


_PARSERS: Final[dict[str, Callable[[Fields], ServerMessage]]] = {
    "Transition": _transition,
    "MutationResponse": _mutation_response,
    "ActionResponse": _action_response,
    "AuthError": _auth_error,
    "FatalError": lambda f: FatalError(f.string("error")),
    "Ping": lambda f: Ping(),
}


# ---------------------------------------------------------------- encoding


def encode_server_message(msg: ServerMessage) -> str:
    """One server message as compact JSON text, shaped as PROTOCOL.md §5 shows.

    Values go through ``convex_to_json``; ``logLines`` is always present and
    ``errorData`` only for ConvexError failures. For Transitions fanned out to
    many clients, prefer the pre-encoded fragments in ``_codec_fragments``.
    """
    return to_json_bytes(_server_json(msg)).decode()


def _server_json(msg: ServerMessage) -> dict[str, Any]:
    match msg:
        case Transition():
            return {
                "type": "Transition",
                "startVersion": state_version_json(msg.start_version, "Transition.startVersion"),
                "endVersion": state_version_json(msg.end_version, "Transition.endVersion"),
                "modifications": [_modification_json(m) for m in msg.modifications],
                "clientClockSkew": json_ms(msg.client_clock_skew),
                # The Rust client parses serverTs as i64: never a float.
                "serverTs": None if msg.server_ts is None else int(msg.server_ts),
            }
        case MutationResponse():
            if msg.success and msg.ts is None:
                # npm decodes ts unconditionally on success and would crash.
                raise ValueError("a successful MutationResponse needs its commit ts")
            ts = None if msg.ts is None else u64_to_b64(check_ts(msg.ts, "MutationResponse.ts"))
            return {**_outcome_json("MutationResponse", msg), "ts": ts, **_error_json(msg)}
        case ActionResponse():
            return {**_outcome_json("ActionResponse", msg), **_error_json(msg)}
        case AuthError():
            out = {"type": "AuthError", "error": msg.error, "baseVersion": msg.base_version}
            if msg.auth_update_attempted is not None:
                out["authUpdateAttempted"] = msg.auth_update_attempted
            return out
        case FatalError():
            return {"type": "FatalError", "error": msg.error}
        case Ping():
            return {"type": "Ping"}


def _outcome_json(kind: str, msg: MutationResponse | ActionResponse) -> dict[str, Any]:
    if msg.success:
        result = convex_to_json(msg.result)
    elif isinstance(msg.result, str):
        result = msg.result
    else:
        raise ValueError(f"a failed {kind} carries its error message (str) as result")
    return {
        "type": kind,
        "requestId": check_u32(msg.request_id, f"{kind}.requestId"),
        "success": msg.success,
        "result": result,
        "logLines": list(msg.log_lines),
    }


def _error_json(msg: MutationResponse | ActionResponse) -> dict[str, Any]:
    if msg.success or msg.error_data is NO_ERROR_DATA:
        return {}
    return {"errorData": convex_to_json(msg.error_data)}


def _modification_json(m: StateModification) -> dict[str, Any]:
    query_id = check_u32(m.query_id, "queryId")
    match m:
        case QueryUpdated():
            return {
                "type": "QueryUpdated",
                "queryId": query_id,
                "value": convex_to_json(m.value),
                "logLines": list(m.log_lines),
                "journal": m.journal,
            }
        case QueryFailed():
            out: dict[str, Any] = {
                "type": "QueryFailed",
                "queryId": query_id,
                "errorMessage": m.error_message,
                "logLines": list(m.log_lines),
                "journal": m.journal,
            }
            if m.error_data is not NO_ERROR_DATA:
                out["errorData"] = convex_to_json(m.error_data)
            return out
        case QueryRemoved():
            return {"type": "QueryRemoved", "queryId": query_id}
