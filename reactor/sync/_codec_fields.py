"""Strict readers for the fields of an incoming frame, and small encoding helpers.

Every reader raises :class:`ProtocolError` naming the field by its wire path
(``Mutation.args``, ``Transition.endVersion.ts``) so a misbehaving peer can be
told precisely what it got wrong. Fields not asked for are ignored: clients
add fields over time and the reference backend ignores unknown ones too.
"""

from __future__ import annotations

import math
from typing import Any, Final

import orjson

from reactor.errors import InvalidValueError
from reactor.sync._messages import ProtocolError, StateVersion
from reactor.values import b64_to_u64, json_to_convex, u64_to_b64

U32_LIMIT: Final = 2**32
# Timestamps above i64 are refused by the Rust client and mishandled by npm's
# Long (PROTOCOL.md §6), so we never send one.
TS_LIMIT: Final = 2**63
_MAX_SHOWN: Final = 40


def describe(value: Any) -> str:
    """A short, bounded rendering of a JSON value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "...")
    if isinstance(value, list):
        return "an array"
    return "an object"


def is_u32(value: Any) -> bool:
    # bool is an int subclass, but `true` is not a number on the wire.
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < U32_LIMIT


def load_frame(frame: str | bytes) -> tuple[str, Fields]:
    """Parse one text frame into its ``type`` and a reader over its fields."""
    if not isinstance(frame, str):
        # Official clients only send text frames; binary ones are a protocol error.
        raise ProtocolError("binary frames are not supported")
    try:
        obj = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"frame is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"frame must be a JSON object, got {describe(obj)}")
    if "type" not in obj:
        raise ProtocolError('frame has no "type" field')
    kind = obj["type"]
    if not isinstance(kind, str):
        raise ProtocolError(f"message type must be a string, got {describe(kind)}")
    return kind, Fields(obj, kind)


def decode_value(obj: Any, where: str) -> Any:
    """Convex-encoded JSON -> Python value, with the wire path in the error."""
    try:
        return json_to_convex(obj)
    except InvalidValueError as exc:
        raise ProtocolError(f"{where} is not a valid Convex value: {exc}") from None


class Fields:
    """The fields of one JSON object at wire path ``path``."""

    __slots__ = ("obj", "path")

    def __init__(self, obj: dict[str, Any], path: str) -> None:
        self.obj = obj
        self.path = path

    @classmethod
    def of(cls, value: Any, path: str) -> Fields:
        if not isinstance(value, dict):
            raise ProtocolError(f"{path} must be an object, got {describe(value)}")
        return cls(value, path)

    def where(self, name: str) -> str:
        return f"{self.path}.{name}"

    def _error(self, name: str, expected: str, value: Any) -> ProtocolError:
        return ProtocolError(f"{self.where(name)} must be {expected}, got {describe(value)}")

    def get(self, name: str) -> Any:
        """The field's JSON value; missing required fields are errors."""
        if name not in self.obj:
            raise ProtocolError(f"{self.where(name)} is missing")
        return self.obj[name]

    def present(self, name: str) -> bool:
        """Whether an optional field carries a value (absent and null mean no)."""
        return self.obj.get(name) is not None

    def u32(self, name: str) -> int:
        value = self.get(name)
        if not is_u32(value):
            raise self._error(name, "a u32", value)
        return int(value)

    def optional_u32(self, name: str) -> int | None:
        return self.u32(name) if self.present(name) else None

    def string(self, name: str) -> str:
        value = self.get(name)
        if not isinstance(value, str):
            raise self._error(name, "a string", value)
        return value

    def optional_string(self, name: str) -> str | None:
        return self.string(name) if self.present(name) else None

    def boolean(self, name: str) -> bool:
        value = self.get(name)
        if not isinstance(value, bool):
            raise self._error(name, "a boolean", value)
        return value

    def optional_boolean(self, name: str) -> bool | None:
        return self.boolean(name) if self.present(name) else None

    def optional_number(self, name: str) -> float | None:
        if not self.present(name):
            return None
        value = self.obj[name]
        # orjson never yields NaN or infinities, so any int/float is finite.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._error(name, "a number", value)
        return float(value)

    def optional_integer(self, name: str) -> int | None:
        """A JSON number that must be integral (npm may round-trip it as float)."""
        if not self.present(name):
            return None
        value = self.obj[name]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if type(value) is not int:
            raise self._error(name, "an integer", value)
        return value

    def u64(self, name: str) -> int:
        value = self.get(name)
        if not isinstance(value, str):
            raise self._error(name, "a u64 as base64 of 8 little-endian bytes", value)
        try:
            return b64_to_u64(value)
        except InvalidValueError as exc:
            raise ProtocolError(
                f"{self.where(name)} must be a u64 as base64 of 8 little-endian bytes, "
                f"got {describe(value)} ({exc})"
            ) from None

    def optional_u64(self, name: str) -> int | None:
        return self.u64(name) if self.present(name) else None

    def array(self, name: str) -> list[Any]:
        value = self.get(name)
        if not isinstance(value, list):
            raise self._error(name, "an array", value)
        return value

    def log_lines(self, name: str = "logLines") -> tuple[str, ...]:
        lines = self.array(name)
        for index, line in enumerate(lines):
            if not isinstance(line, str):
                raise ProtocolError(
                    f"{self.where(name)}[{index}] must be a string, got {describe(line)}"
                )
        return tuple(lines)

    def child(self, name: str) -> Fields:
        return Fields.of(self.get(name), self.where(name))

    def optional_object(self, name: str) -> dict[str, Any] | None:
        return self.child(name).obj if self.present(name) else None

    def value(self, name: str) -> Any:
        return decode_value(self.get(name), self.where(name))

    def args(self, name: str = "args") -> dict[str, Any]:
        """``args``: a JSON array holding exactly one Convex-encoded object."""
        value = self.get(name)
        if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict)):
            raise self._error(name, "an array holding exactly one object", value)
        decoded = decode_value(value[0], f"{self.where(name)}[0]")
        # {"$integer": ...} is a JSON object but decodes to an Int64, not named args.
        if not isinstance(decoded, dict):
            raise ProtocolError(
                f"{self.where(name)} must be an array holding exactly one object, "
                f"got an encoded {type(decoded).__name__}"
            )
        return decoded


# ---------------------------------------------------------------- encoding checks


def check_u32(value: int, where: str) -> int:
    """Refuse to send what a client would reject (the bug is ours, not theirs)."""
    if not is_u32(value):
        raise ValueError(f"{where} must be a u32, got {value!r}")
    return value


def check_ts(value: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < TS_LIMIT:
        raise ValueError(f"{where} must be a timestamp in [0, 2**63), got {value!r}")
    return value


def json_ms(value: float | None) -> int | None:
    """A millisecond count as a JSON integer: the Rust client parses i64 only."""
    if value is None or not math.isfinite(value):
        return None
    return round(value)


def to_json_bytes(obj: Any) -> bytes:
    """``orjson.dumps`` whose failures read as bad values, not as codec bugs."""
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError as exc:
        # Lone surrogates in strings are what gets past convex_to_json.
        raise InvalidValueError(f"message cannot be encoded as JSON: {exc}") from None


def state_version_json(version: StateVersion, where: str) -> dict[str, Any]:
    return {
        "querySet": check_u32(version.query_set, f"{where}.querySet"),
        "identity": check_u32(version.identity, f"{where}.identity"),
        "ts": u64_to_b64(check_ts(version.ts, f"{where}.ts")),
    }
