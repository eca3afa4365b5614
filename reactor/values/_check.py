"""Whether a value may be stored: types, names and structural limits (TYPE-07, TYPE-08)."""

from __future__ import annotations

from typing import Any, Final

from reactor.errors import InvalidValueError
from reactor.values._int64 import UNSET
from reactor.values._kinds import (
    ARRAY,
    BOOLEAN,
    BYTES,
    FLOAT64,
    INT64,
    MISSING,
    NULL,
    OBJECT,
    PLAIN_INT,
    STRING,
    as_float,
    kind_of,
    not_a_value,
    object_key,
    type_name,
    unset_in_array,
)
from reactor.values._limits import (
    MAX_ARRAY_LENGTH,
    MAX_DOCUMENT_SIZE,
    MAX_FIELDS,
    MAX_NESTING,
)
from reactor.values._names import field_name_problem
from reactor.values._paths import PathError, invalid
from reactor.values._size import utf8_length

SYSTEM_FIELDS: Final = frozenset({"_id", "_creationTime"})
_SCALARS: Final = frozenset({FLOAT64, INT64, NULL, BOOLEAN, BYTES})
_SCALAR_SIZES: Final = {FLOAT64: 9, INT64: 9, NULL: 1, BOOLEAN: 1}


def check_value(value: Any, *, path: str = "") -> None:
    """Raise ``InvalidValueError`` unless ``value`` is a Convex value within the limits.

    Checks the Python types, strings (no lone surrogates), object keys
    (non-empty, at most 1024 printable ASCII characters, no leading ``$``),
    nesting (at most 16 levels), fields per object (1024), array length (8192)
    and plain ints (at most 2**53 in magnitude). ``path`` prefixes the path in
    messages, for values that sit inside something larger.
    """
    checked_size(value, path=path)


def checked_size(value: Any, *, path: str = "") -> int:
    """``check_value``, returning the value's Convex size (one pass for both)."""
    if value is UNSET:
        raise invalid("UNSET (a missing value) is not a value", path)
    try:
        return _check(value, 0)
    except PathError as error:
        raise error.to_invalid(path) from None


def check_document(doc: Any) -> None:
    """``check_value`` for a whole document, plus the document-only rules.

    Top-level keys starting with ``_`` are reserved but for ``_id`` and
    ``_creationTime``, and the size (system fields included) is at most 1 MiB.
    """
    if not isinstance(doc, dict):
        raise InvalidValueError(f"a document must be an object (dict), not {type_name(doc)}")
    size = checked_size(doc)
    for key, item in doc.items():
        if key.startswith("_") and key not in SYSTEM_FIELDS and item is not UNSET:
            error = PathError(
                f"field name {key!r} is reserved: top-level fields starting with '_' "
                "are system fields"
            )
            error.add_key(key)
            raise error.to_invalid()
    if size > MAX_DOCUMENT_SIZE:
        raise InvalidValueError(
            f"document is too large: {size} bytes exceeds the maximum document size "
            f"of {MAX_DOCUMENT_SIZE} bytes (1 MiB)"
        )


def _check(value: Any, depth: int) -> int:
    """Check ``value`` and return its Convex size: one pass does both."""
    kind = kind_of(value)
    if kind == STRING:
        return 2 + utf8_length(value)
    if kind == PLAIN_INT:
        as_float(value)
        return 9
    if kind in _SCALARS:
        return _SCALAR_SIZES[kind] if kind != BYTES else 2 + len(value)
    if kind == ARRAY:
        if depth >= MAX_NESTING:
            raise _too_deep()
        return _check_array(value, depth + 1)
    if kind == OBJECT:
        if depth >= MAX_NESTING:
            raise _too_deep()
        return _check_object(value, depth + 1)
    if kind == MISSING:
        raise unset_in_array()
    raise not_a_value(value)


def _too_deep() -> PathError:
    return PathError(f"value is too nested: nesting depth exceeds {MAX_NESTING} (MAX_NESTING)")


def _check_array(items: list[Any], depth: int) -> int:
    if len(items) > MAX_ARRAY_LENGTH:
        raise PathError(
            f"array has {len(items)} elements, more than the limit of {MAX_ARRAY_LENGTH} "
            "(MAX_ARRAY_LENGTH)"
        )
    index = 0
    total = 2
    try:
        for index, item in enumerate(items):  # noqa: B007 - read in the handler
            total += _check(item, depth)
    except PathError as error:
        error.add_index(index)
        raise
    return total


def _check_object(fields: dict[Any, Any], depth: int) -> int:
    if len(fields) > MAX_FIELDS:
        count = sum(1 for item in fields.values() if item is not UNSET)
        if count > MAX_FIELDS:
            raise PathError(
                f"object has {count} fields, more than the limit of {MAX_FIELDS} (MAX_FIELDS)"
            )
    total = 2
    for key, item in fields.items():
        try:
            name = object_key(key)
            problem = field_name_problem(name)
            if problem is not None:
                raise PathError(problem)
            if item is not UNSET:
                total += len(name) + 1 + _check(item, depth)  # field names are ASCII
        except PathError as error:
            error.add_key(key)
            raise
    return total
