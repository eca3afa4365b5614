"""Client -> server messages: strict parsing (server side) and encoding (our client)."""

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
    to_json_bytes,
)
from reactor.sync._messages import (
    Action,
    Authenticate,
    ClientMessage,
    Connect,
    Event,
    ModifyQuerySet,
    Mutation,
    ProtocolError,
    QueryAdd,
    QueryRemove,
    QuerySetModification,
    TokenType,
)
from reactor.values import convex_to_json, u64_to_b64

__all__ = ["encode_client_message", "parse_client_message"]

_TOKEN_TYPES: Final[tuple[TokenType, ...]] = ("User", "Admin", "None")


def parse_client_message(frame: str | bytes) -> ClientMessage:
    """Parse one frame a client sent; raise :class:`ProtocolError` if malformed."""
    kind, fields = load_frame(frame)
    parse = _PARSERS.get(kind)
    if parse is None:
        raise ProtocolError(f"unknown message type {describe(kind)}")
    return parse(fields)


def _connect(f: Fields) -> Connect:
    return Connect(
        session_id=f.string("sessionId"),
        connection_count=f.u32("connectionCount"),
        # Nullable in npm's types and optional in the reference backend.
        last_close_reason=f.optional_string("lastCloseReason"),
        max_observed_timestamp=f.optional_u64("maxObservedTimestamp"),
        client_ts=f.optional_number("clientTs"),
    )


def _modify_query_set(f: Fields) -> ModifyQuerySet:
    base_version = f.u32("baseVersion")
    new_version = f.u32("newVersion")
    items = f.array("modifications")
    where = f.where("modifications")
    modifications = tuple(
        _query_set_modification(item, f"{where}[{i}]") for i, item in enumerate(items)
    )
    return ModifyQuerySet(base_version, new_version, modifications)


def _query_set_modification(item: Any, path: str) -> QuerySetModification:
    f = Fields.of(item, path)
    kind = f.string("type")
    if kind == "Add":
        return QueryAdd(
            query_id=f.u32("queryId"),
            udf_path=f.string("udfPath"),
            args=f.args(),
            journal=f.optional_string("journal"),
            component_path=f.optional_string("componentPath"),
        )
    if kind == "Remove":
        return QueryRemove(f.u32("queryId"))
    raise ProtocolError(f"{f.where('type')} must be 'Add' or 'Remove', got {describe(kind)}")


def _mutation(f: Fields) -> Mutation:
    return Mutation(
        request_id=f.u32("requestId"),
        udf_path=f.string("udfPath"),
        args=f.args(),
        component_path=f.optional_string("componentPath"),
    )


def _action(f: Fields) -> Action:
    return Action(
        request_id=f.u32("requestId"),
        udf_path=f.string("udfPath"),
        args=f.args(),
        component_path=f.optional_string("componentPath"),
    )


def _authenticate(f: Fields) -> Authenticate:
    raw = f.get("tokenType")
    # Look the wire string up rather than cast it, so the Literal type is earned.
    token_type = next((t for t in _TOKEN_TYPES if t == raw), None)
    if token_type is None:
        raise ProtocolError(
            f"{f.where('tokenType')} must be 'User', 'Admin' or 'None', got {describe(raw)}"
        )
    base_version = f.u32("baseVersion")
    if token_type == "None":
        # A stray value on "None" is ignored, as the reference backend does.
        return Authenticate("None", None, base_version)
    value = f.string("value")
    impersonating = None
    if token_type == "Admin":
        # npm says "impersonating", the Rust client "acting_as"; both are accepted.
        name = "impersonating" if f.present("impersonating") else "acting_as"
        impersonating = f.optional_object(name)
    return Authenticate(token_type, value, base_version, impersonating)


def _event(f: Fields) -> Event:
    return Event(event_type=f.string("eventType"), event=f.get("event"))


_PARSERS: Final[dict[str, Callable[[Fields], ClientMessage]]] = {
    "Connect": _connect,
    "ModifyQuerySet": _modify_query_set,
    "Mutation": _mutation,
    "Action": _action,
    "Authenticate": _authenticate,
    "Event": _event,
}


# ---------------------------------------------------------------- encoding


def encode_client_message(msg: ClientMessage) -> str:
    """One client message as the compact JSON text the official clients send."""
    return to_json_bytes(_client_json(msg)).decode()


def _client_json(msg: ClientMessage) -> dict[str, Any]:
    match msg:
        case Connect():
            out: dict[str, Any] = {
                "type": "Connect",
                "sessionId": msg.session_id,
                "connectionCount": check_u32(msg.connection_count, "Connect.connectionCount"),
                "lastCloseReason": msg.last_close_reason,
            }
            if msg.client_ts is not None:
                # Integral ms, like npm's Date.now(); the reference backend parses i64.
                out["clientTs"] = json_ms(msg.client_ts)
            if msg.max_observed_timestamp is not None:
                ts = check_ts(msg.max_observed_timestamp, "Connect.maxObservedTimestamp")
                out["maxObservedTimestamp"] = u64_to_b64(ts)
            return out
        case ModifyQuerySet():
            return {
                "type": "ModifyQuerySet",
                "baseVersion": check_u32(msg.base_version, "ModifyQuerySet.baseVersion"),
                "newVersion": check_u32(msg.new_version, "ModifyQuerySet.newVersion"),
                "modifications": [_modification_json(m) for m in msg.modifications],
            }
        case Mutation() | Action():
            out = {
                "type": "Mutation" if isinstance(msg, Mutation) else "Action",
                "requestId": check_u32(msg.request_id, "requestId"),
                "udfPath": msg.udf_path,
                "args": [convex_to_json(msg.args)],
            }
            if msg.component_path is not None:
                out["componentPath"] = msg.component_path
            return out
        case Authenticate():
            out = {"type": "Authenticate", "tokenType": msg.token_type}
            if msg.token_type != "None":
                if msg.value is None:
                    raise ValueError(f"Authenticate with tokenType {msg.token_type} needs a value")
                out["value"] = msg.value
            out["baseVersion"] = check_u32(msg.base_version, "Authenticate.baseVersion")
            if msg.impersonating is not None:
                out["impersonating"] = msg.impersonating
            return out
        case Event():
            return {"type": "Event", "eventType": msg.event_type, "event": msg.event}


def _modification_json(m: QuerySetModification) -> dict[str, Any]:
    query_id = check_u32(m.query_id, "queryId")
    if isinstance(m, QueryRemove):
        return {"type": "Remove", "queryId": query_id}
    out: dict[str, Any] = {
        "type": "Add",
        "queryId": query_id,
        "udfPath": m.udf_path,
        "args": [convex_to_json(m.args)],
    }
    # Omitted on a first subscription, as npm does.
    if m.journal is not None:
        out["journal"] = m.journal
    if m.component_path is not None:
        out["componentPath"] = m.component_path
    return out
