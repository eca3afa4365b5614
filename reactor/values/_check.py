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
from reactor.values._size import utf8_length, value_size

SYSTEM_FIELDS: Final = frozenset({"_id", "_creationTime"})
_SCALARS: Final = frozenset({FLOAT64, INT64, NULL, BOOLEAN, BYTES})


def check_value(value: Any, *, path: str = "") -> None:
    """Raise ``InvalidValueError`` unless ``value`` is a Convex value within the limits.

    Checks the Python types, strings (no lone surrogates), object keys
    (non-empty, at most 1024 printable ASCII characters, no leading ``$``),
    nesting (at most 16 levels), fields per object (1024), array length (8192)
    and plain ints (at most 2**53 in magnitude). ``path`` prefixes the path in
    messages, for values that sit inside something larger.
    """
    if value is UNSET:
        raise invalid("UNSET (a missing value) is not a value", path)
    try:
        _check(value, 0)
    except PathError as error:
        raise error.to_invalid(path) from None


def check_document(doc: Any) -> None:
    """``check_value`` for a whole document, plus the document-only rules.

    Top-level keys starting with ``_`` are reserved but for ``_id`` and
    ``_creationTime``, and the size (system fields included) is at most 1 MiB.
    """
    if not isinstance(doc, dict):
        raise InvalidValueError(f"a document must be an object (dict), not {type_name(doc)}")
    check_value(doc)
    for key, item in doc.items():
        if key.startswith("_") and key not in SYSTEM_FIELDS and item is not UNSET:
            error = PathError(
                f"field name {key!r} is reserved: top-level fields starting with '_' "
                "are system fields"
            )
            error.add_key(key)
            raise error.to_invalid()
    size = value_size(doc)
    if size > MAX_DOCUMENT_SIZE:
        raise InvalidValueError(
            f"document is too large: {size} bytes exceeds the maximum document size "
            f"of {MAX_DOCUMENT_SIZE} bytes (1 MiB)"
        )


def _check(value: Any, depth: int) -> None:
    kind = kind_of(value)
    if kind == STRING:
        utf8_length(value)
    elif kind == PLAIN_INT:
        as_float(value)
    elif kind in _SCALARS:
        pass
    elif kind == ARRAY:
        if depth >= MAX_NESTING:
            raise _too_deep()
        _check_array(value, depth + 1)
    elif kind == OBJECT:
        if depth >= MAX_NESTING:
            raise _too_deep()
        _check_object(value, depth + 1)
    elif kind == MISSING:
        raise unset_in_array()
    else:
        raise not_a_value(value)


def _too_deep() -> PathError:
    return PathError(f"value is too nested: nesting depth exceeds {MAX_NESTING} (MAX_NESTING)")


def _check_array(items: list[Any], depth: int) -> None:
    if len(items) > MAX_ARRAY_LENGTH:
        raise PathError(
            f"array has {len(items)} elements, more than the limit of {MAX_ARRAY_LENGTH} "
            "(MAX_ARRAY_LENGTH)"
        )
    index = 0
    try:
        for index, item in enumerate(items):  # noqa: B007 - read in the handler
            _check(item, depth)
    except PathError as error:
        error.add_index(index)
        raise


def _check_object(fields: dict[Any, Any], depth: int) -> None:
    if len(fields) > MAX_FIELDS:
        count = sum(1 for item in fields.values() if item is not UNSET)
        if count > MAX_FIELDS:
            raise PathError(
                f"object has {count} fields, more than the limit of {MAX_FIELDS} (MAX_FIELDS)"
            )
    for key, item in fields.items():
        try:
            problem = field_name_problem(object_key(key))
            if problem is not None:
                raise PathError(problem)
            if item is not UNSET:
                _check(item, depth)
        except PathError as error:
            error.add_key(key)
            raise
