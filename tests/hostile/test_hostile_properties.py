"""Property tests of the wire decoders and validators on hostile input: each
refuses what it cannot take with its own error, never with a TypeError,
KeyError, RecursionError or the like."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from hostile_strategies import (
    EXAMPLES,
    IdContext,
    client_messages,
    json_values,
    python_values,
    validators,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reactor.errors import InvalidValueError, ValidationError
from reactor.schema import Validator
from reactor.sync import ProtocolError, parse_client_message, parse_server_message
from reactor.values import b64_to_u64, check_value, convex_to_json, json_to_convex, loads

hostile = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def parses_or_refuses(frame: str | bytes) -> None:
    for parse in (parse_client_message, parse_server_message):
        try:
            parse(frame)
        except ProtocolError as exc:
            assert str(exc)  # a refusal always says why
            assert len(str(exc)) < 2000 + len(frame) // 10


# -- the sync codec -------------------------------------------------------------


@hostile
@given(st.text())
def test_any_text_frame(frame: str) -> None:
    parses_or_refuses(frame)


@hostile
@given(st.binary())
def test_any_binary_frame(frame: bytes) -> None:
    with_binary = [parse_client_message, parse_server_message]
    for parse in with_binary:
        try:
            parse(frame)
        except ProtocolError as exc:
            assert "binary frames are not supported" in str(exc)
        else:
            raise AssertionError("a binary frame was parsed")


@hostile
@given(json_values)
def test_any_json_frame(value: Any) -> None:
    parses_or_refuses(orjson.dumps(value).decode())


@hostile
@given(
    json_values.map(
        lambda value: {"type": "Mutation", "requestId": 0, "udfPath": "a:b", "args": [value]}
    )
)
def test_any_json_as_arguments(message: dict[str, Any]) -> None:
    parses_or_refuses(orjson.dumps(message).decode())


def _mutate_fields(message: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """Drop, replace or add a field, at the top or inside a nested object."""
    target = message
    for _ in range(data.draw(st.integers(0, 3), label="depth")):
        children = [v for v in target.values() if isinstance(v, dict)]
        children += [
            x for v in target.values() if isinstance(v, list) for x in v if isinstance(x, dict)
        ]
        if not children:
            break
        target = data.draw(st.sampled_from(children), label="into")
    how = data.draw(st.sampled_from(["drop", "replace", "add"]), label="how")
    if how == "add" or not target:
        target[data.draw(st.text(max_size=12), label="new key")] = data.draw(json_values)
    else:
        key = data.draw(st.sampled_from(sorted(target)), label="key")
        if how == "drop":
            del target[key]
        else:
            target[key] = data.draw(json_values, label="new value")
    return message


@hostile
@given(client_messages, st.data())
def test_mutated_valid_frames(message: dict[str, Any], data: st.DataObject) -> None:
    parse_client_message(orjson.dumps(message).decode())  # the unmutated frame parses
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        message = _mutate_fields(message, data)
    parses_or_refuses(orjson.dumps(message).decode())


@hostile
@given(client_messages, st.data())
def test_frames_with_mutated_text(message: dict[str, Any], data: st.DataObject) -> None:
    text = orjson.dumps(message).decode()
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        at = data.draw(st.integers(0, len(text)), label="at")
        how = data.draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        junk = data.draw(
            st.sampled_from(
                ['"', "{", "}", "[", "]", ",", ":", "\\", "1e999", "-", "\ud800", "\x00", "null"]
            )
        )
        if how == "insert":
            text = text[:at] + junk + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + 1 :]
        elif how == "replace":
            text = text[:at] + junk + text[at + 1 :]
        else:
            text = text[:at]
    parses_or_refuses(text)


# -- values ---------------------------------------------------------------------


@hostile
@given(json_values)
def test_json_to_convex_on_any_json(value: Any) -> None:
    try:
        converted = json_to_convex(value)
    except InvalidValueError as exc:
        assert str(exc)
    else:
        # What comes in goes back out: a value decoded from JSON encodes again.
        assert json_to_convex(convex_to_json(converted)) == converted or converted != converted


@hostile
@given(python_values)
def test_json_to_convex_and_checks_on_any_python_value(value: Any) -> None:
    for check in (json_to_convex, convex_to_json, check_value):
        try:
            check(value)
        except InvalidValueError as exc:
            assert str(exc)


@hostile
@given(st.one_of(st.binary(), st.text().map(str.encode)))
def test_loads_any_bytes(data: bytes) -> None:
    with contextlib.suppress(InvalidValueError):
        loads(data)


@hostile
@given(st.text(max_size=20))
def test_b64_to_u64_any_text(text: str) -> None:
    with contextlib.suppress(InvalidValueError):
        assert 0 <= b64_to_u64(text) < 2**64


# -- validators -----------------------------------------------------------------


@hostile
@given(validators, python_values, st.booleans())
def test_validators_on_any_python_value(validator: Validator, value: Any, with_ctx: bool) -> None:
    ctx = IdContext() if with_ctx else None
    matched = validator.matches(value, ctx)
    try:
        validator.validate(value, ctx)
    except ValidationError as exc:
        assert not matched
        assert str(exc) and len(str(exc)) < 5000
    else:
        assert matched


@hostile
@given(validators, json_values)
def test_validators_on_decoded_arguments(validator: Validator, value: Any) -> None:
    try:
        decoded = json_to_convex(value)
    except InvalidValueError:
        return
    with contextlib.suppress(ValidationError):
        validator.validate(decoded, IdContext())
