"""``v.record(keys, values)``: a dict whose every key and value match (VAL-06)."""

from __future__ import annotations

from typing import Any

from reactor.errors import SchemaError
from reactor.schema._base import (
    ValidationContext,
    Validator,
    _Mismatch,
    require_validator,
    show,
)
from reactor.schema._compound import UnionValidator, not_optional
from reactor.schema._scalars import IdValidator, StringValidator
from reactor.values._int64 import UNSET

_MAX_KEY_LEN = 1024


def _string_like(validator: Validator) -> bool:
    if isinstance(validator, StringValidator | IdValidator):
        return True
    if isinstance(validator, UnionValidator):
        return bool(validator.members) and all(_string_like(m) for m in validator.members)
    return False


def _valid_record_key(key: object) -> bool:
    return (
        isinstance(key, str)
        and 0 < len(key) <= _MAX_KEY_LEN
        and key[0] not in "$_"
        and key.isascii()
        and key.isprintable()
    )


def _bad_key(key: object) -> _Mismatch:
    return _Mismatch(
        lambda: (
            f"Record key {show(key)} is not a valid field name: keys must be non-empty "
            'printable ASCII and must not start with "$" or "_"'
        )
    )


class RecordValidator(Validator):
    """``v.record(keys, values)``: a dict whose every key and value match (VAL-06).

    Error paths end in ``.keys()`` or ``.values()``, as Convex reports them.
    """

    __slots__ = ("keys", "values")

    def __init__(self, keys: Validator, values: Validator) -> None:
        keys = require_validator(keys, "v.record() keys")
        values = require_validator(values, "v.record() values")
        if not _string_like(keys):
            raise SchemaError(
                f"v.record() keys must be v.string(), v.id(...) or a union of them, got {keys!r}"
            )
        self.keys: Validator = keys
        self.values: Validator = not_optional(values, "a record value")

    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        if not isinstance(value, dict):
            raise self._mismatch(value)
        keys = None if isinstance(self.keys, StringValidator) else self.keys
        values = self.values
        for key, item in value.items():
            if item is UNSET:
                continue
            try:
                if not _valid_record_key(key):
                    raise _bad_key(key)
                if keys is not None:
                    keys._check(key, ctx)
            except _Mismatch as mismatch:
                mismatch.segments.append(".keys()")
                raise
            try:
                values._check(item, ctx)
            except _Mismatch as mismatch:
                mismatch.segments.append(".values()")
                raise

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "record",
            "keys": self.keys.to_json(),
            "values": {"fieldType": self.values.to_json(), "optional": False},
        }

    def __repr__(self) -> str:
        return f"v.record({self.keys!r}, {self.values!r})"
