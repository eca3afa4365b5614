"""Which Convex type a Python object stands for."""

from __future__ import annotations

from typing import Final

from reactor.values._int64 import Int64, _Unset
from reactor.values._limits import MAX_SAFE_FLOAT_INT
from reactor.values._paths import PathError

# Numbered in Convex's cross-type order so that kinds compare like the values.
INVALID: Final = -1
MISSING: Final = 0
NULL: Final = 1
INT64: Final = 2
FLOAT64: Final = 3
BOOLEAN: Final = 4
STRING: Final = 5
BYTES: Final = 6
ARRAY: Final = 7
OBJECT: Final = 8
PLAIN_INT: Final = 9
"""A plain ``int``: a float64 once converted, hence outside the ordered range."""

_BY_TYPE: Final[dict[type, int]] = {
    type(None): NULL,
    Int64: INT64,
    float: FLOAT64,
    int: PLAIN_INT,
    bool: BOOLEAN,
    str: STRING,
    bytes: BYTES,
    list: ARRAY,
    dict: OBJECT,
    _Unset: MISSING,
}

_HINTS: Final[dict[type, str]] = {
    tuple: "use a list",
    set: "use a list",
    frozenset: "use a list",
    bytearray: "use bytes",
    memoryview: "use bytes",
}


def kind_of(value: object) -> int:
    kind = _BY_TYPE.get(type(value))
    if kind is not None:
        return kind
    # Subclasses (IntEnum, StrEnum, OrderedDict, ...) are rare: keep them off the fast path.
    if isinstance(value, Int64):
        return INT64
    if isinstance(value, int):
        return PLAIN_INT
    if isinstance(value, float):
        return FLOAT64
    if isinstance(value, str):
        return STRING
    if isinstance(value, bytes):
        return BYTES
    if isinstance(value, list):
        return ARRAY
    if isinstance(value, dict):
        return OBJECT
    return INVALID


def type_name(value: object) -> str:
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def not_a_value(value: object) -> PathError:
    hint = _HINTS.get(type(value))
    if hint is None and type(value).__module__ in ("datetime", "decimal"):
        hint = "use a float or a string"
    suffix = f" ({hint})" if hint else ""
    return PathError(f"a value of Python type {type_name(value)} is not a Convex value{suffix}")


def as_float(number: int) -> float:
    """The float64 a plain ``int`` stands for; refuses to round silently."""
    if -MAX_SAFE_FLOAT_INT <= number <= MAX_SAFE_FLOAT_INT:
        return float(number)
    raise PathError(
        f"the int {number} is not exactly representable as a float64 (|n| > 2**53); "
        "wrap it in Int64 to store an int64"
    )


def object_key(key: object) -> str:
    if isinstance(key, str):
        return key
    raise PathError(f"object keys must be strings, not {type_name(key)}")


def unset_in_array() -> PathError:
    return PathError("UNSET (a missing value) cannot be an array element")


def too_nested(limit: int) -> PathError:
    return PathError(f"value is too nested: nesting depth exceeds {limit}")
