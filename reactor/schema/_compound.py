"""Validators with children: optional, array, object, union."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from reactor.errors import SchemaError
from reactor.schema._base import (
    ValidationContext,
    Validator,
    _Mismatch,
    check_identifier,
    quote,
    require_validator,
    show,
)
from reactor.schema._scalars import AnyValidator, NullValidator
from reactor.values._int64 import UNSET
from reactor.values._limits import MAX_KEY_LENGTH as _MAX_SHOWN_FIELD


def not_optional(validator: Validator, where: str) -> Validator:
    if validator.is_optional:
        raise SchemaError(f"v.optional() can only be an object field, not {where}")
    return validator


class OptionalValidator(Validator):
    """``v.optional(x)``: the field may be absent; ``None`` is *not* absence (VAL-02)."""

    __slots__ = ("inner",)

    def __init__(self, inner: Validator) -> None:
        inner = require_validator(inner, "v.optional() argument")
        self.inner: Validator = inner.inner if isinstance(inner, OptionalValidator) else inner

    @property
    def is_optional(self) -> bool:
        return True

    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        if value is not UNSET:
            self.inner._check(value, ctx)

    def to_json(self) -> dict[str, Any]:
        # Optionality lives in the parent's {"fieldType", "optional"} pair.
        return self.inner.to_json()

    def __repr__(self) -> str:
        return f"v.optional({self.inner!r})"


class ArrayValidator(Validator):
    __slots__ = ("element",)

    def __init__(self, element: Validator) -> None:
        element = require_validator(element, "v.array() element")
        self.element = not_optional(element, "an array element")

    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        if not isinstance(value, list):
            raise self._mismatch(value)
        element = self.element
        if isinstance(element, AnyValidator):
            return
        for index, item in enumerate(value):
            try:
                element._check(item, ctx)
            except _Mismatch as mismatch:
                mismatch.segments.append(f"[{index}]")
                raise

    def to_json(self) -> dict[str, Any]:
        return {"type": "array", "value": self.element.to_json()}

    def __repr__(self) -> str:
        return f"v.array({self.element!r})"


class ObjectValidator(Validator):
    """``v.object({...})``: strict; missing required fields and unknown fields both fail.

    A field whose value is ``UNSET`` counts as absent.
    """

    __slots__ = ("_fields", "_plan")

    def __init__(self, fields: Mapping[str, Validator]) -> None:
        if not isinstance(fields, Mapping):
            raise SchemaError(f"v.object() takes a dict of validators, got {show(fields)}")
        checked: dict[str, Validator] = {}
        for name, validator in fields.items():
            check_identifier(name, "Object field name")
            checked[name] = require_validator(validator, f"Field `{name}`")
        self._fields: Mapping[str, Validator] = MappingProxyType(checked)
        self._plan = tuple(
            (
                name,
                validator.inner if isinstance(validator, OptionalValidator) else validator,
                validator.is_optional,
            )
            for name, validator in checked.items()
        )

    @property
    def fields(self) -> Mapping[str, Validator]:
        """Field name -> validator (``v.optional(...)`` for optional fields), read-only."""
        return self._fields

    def _check(
        self, value: object, ctx: ValidationContext | None, ignored: frozenset[str] = frozenset()
    ) -> None:
        # `ignored` keys may be present without being declared: stored documents
        # carry _id and _creationTime, and copying each document to drop them
        # would cost more than the check itself.
        if not isinstance(value, dict):
            raise self._mismatch(value)
        present = 0
        for key in ignored:
            if key in value:
                present += 1
        for name, validator, optional in self._plan:
            item = value.get(name, UNSET)
            if item is UNSET:
                if name in value:
                    present += 1
                if not optional:
                    raise self._missing(value, name)
                continue
            present += 1
            try:
                validator._check(item, ctx)
            except _Mismatch as mismatch:
                mismatch.segments.append(f".{name}")
                raise
        if present != len(value):
            self._reject_extra(value, ignored)

    def _missing(self, value: dict[Any, Any], name: str) -> _Mismatch:
        return _Mismatch(
            lambda: (
                f"Object is missing the required field `{name}`. Consider wrapping the field "
                f"validator in `v.optional(...)` if this is expected. Object: {show(value)}. "
                f"Validator: {show(self)}"
            )
        )

    def _reject_extra(self, value: dict[Any, Any], ignored: frozenset[str]) -> None:
        for key, item in value.items():
            if key not in self._fields and key not in ignored and item is not UNSET:
                raise self._extra(value, key)

    def _extra(self, value: dict[Any, Any], key: object) -> _Mismatch:
        return _Mismatch(
            lambda: (
                f"Object contains extra field `{_field_name(key)}` that is not in the validator. "
                f"Object: {show(value)}. Validator: {show(self)}"
            )
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "object",
            "value": {
                name: {"fieldType": validator.to_json(), "optional": validator.is_optional}
                for name, validator in self._fields.items()
            },
        }

    def __repr__(self) -> str:
        inner = ", ".join(f"{quote(name)}: {val!r}" for name, val in self._fields.items())
        return f"v.object({{{inner}}})"

    def _known(self, keys: tuple[str, ...], method: str) -> None:
        unknown = [key for key in keys if key not in self._fields]
        if unknown:
            raise SchemaError(f".{method}(): {show(unknown)} not among the fields of {show(self)}")

    def pick(self, *keys: str) -> ObjectValidator:
        """A new object validator with only ``keys`` (in this validator's order)."""
        self._known(keys, "pick")
        return ObjectValidator({n: val for n, val in self._fields.items() if n in keys})

    def omit(self, *keys: str) -> ObjectValidator:
        """A new object validator without ``keys``."""
        self._known(keys, "omit")
        return ObjectValidator({n: val for n, val in self._fields.items() if n not in keys})

    def extend(self, fields: Mapping[str, Validator] | ObjectValidator) -> ObjectValidator:
        """A new object validator with ``fields`` added (replacing fields of the same name)."""
        extra = fields.fields if isinstance(fields, ObjectValidator) else fields
        if not isinstance(extra, Mapping):
            raise SchemaError(f".extend() takes a dict of validators, got {show(fields)}")
        return ObjectValidator({**self._fields, **extra})

    def partial(self) -> ObjectValidator:
        """A new object validator whose fields are all optional."""
        return ObjectValidator({n: OptionalValidator(val) for n, val in self._fields.items()})


def _field_name(key: object) -> str:
    """A field name for a message; bounded, as a hostile key can be megabytes long."""
    if isinstance(key, str) and len(key) <= _MAX_SHOWN_FIELD:
        return key
    return show(key)


class UnionValidator(Validator):
    """``v.union(...)``: any member passes; a failure reports the whole union (VAL-05)."""

    __slots__ = ("_takes_null", "members")

    def __init__(self, *members: Validator) -> None:
        self.members: tuple[Validator, ...] = tuple(
            not_optional(require_validator(m, "v.union() member"), "a union member")
            for m in members
        )
        self._takes_null = any(isinstance(m, NullValidator) for m in self.members)

    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        if value is None and self._takes_null:
            return  # v.nullable(x): spare the failing try of x
        members = self.members
        if len(members) == 1:
            # A one-member union is exactly its member, error included.
            members[0]._check(value, ctx)
            return
        for member in members:
            try:
                member._check(value, ctx)
            except _Mismatch:
                continue
            return
        raise self._mismatch(value)

    def to_json(self) -> dict[str, Any]:
        return {"type": "union", "value": [m.to_json() for m in self.members]}

    def __repr__(self) -> str:
        return f"v.union({', '.join(repr(m) for m in self.members)})"


def check_document(
    validator: ObjectValidator | UnionValidator,
    doc: object,
    ctx: ValidationContext | None,
    ignored: frozenset[str],
) -> None:
    """Check a table's object (or union of objects) validator, tolerating ``ignored`` keys."""
    members = validator.members if isinstance(validator, UnionValidator) else (validator,)
    objects = [m for m in members if isinstance(m, ObjectValidator)]
    if len(objects) == 1:
        objects[0]._check(doc, ctx, ignored)
        return
    for member in objects:
        try:
            member._check(doc, ctx, ignored)
        except _Mismatch:
            continue
        return
    raise validator._mismatch(doc)
