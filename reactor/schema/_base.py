"""The validator base class, the id-lookup protocol and the error plumbing.

Validators raise ``_Mismatch`` internally and collect path segments only
while the exception unwinds: every write is validated, and building a path
string for each field that *passes* would dominate the cost.
"""

from __future__ import annotations

import json
import re
import reprlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from reactor.errors import SchemaError, ValidationError

IDENTIFIER_MAX_LEN = 64
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ValidationContext(Protocol):
    """What ``v.id(table)`` needs from the database: the table an id names."""

    def table_name_for_id(self, id: str) -> str | None:
        """The table ``id`` belongs to, or ``None`` if it is not an id of a known table."""
        ...


class _Mismatch(Exception):
    """Internal: a value failed a validator; ``segments`` grow innermost-first.

    The message is built only when reported: a union tries members that are
    expected to fail, and formatting the value for each would be wasted work.
    """

    __slots__ = ("_describe", "segments")

    def __init__(self, describe: Callable[[], str]) -> None:
        super().__init__()
        self._describe = describe
        self.segments: list[str] = []

    @property
    def message(self) -> str:
        return self._describe()

    def path(self) -> str:
        return "".join(reversed(self.segments))


_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = 8
_repr.maxdict = 8
_repr.maxlevel = 4
_MAX_SHOWN = 200


def show(value: object) -> str:
    """A bounded ``repr`` for error messages (a value may be a 1 MiB document)."""
    text = _repr.repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def quote(text: str) -> str:
    """Double-quoted like the Convex spelling (``v.id("users")``); valid Python too."""
    return json.dumps(text, ensure_ascii=False)


def name_of(name: object) -> str:
    """A name for an error message: double-quoted if it is a string."""
    return quote(name) if isinstance(name, str) else show(name)


def is_identifier(name: object) -> bool:
    """TYPE-07: ``[A-Za-z_][A-Za-z0-9_]*``, at most 64 chars, not all underscores."""
    return (
        isinstance(name, str)
        and len(name) <= IDENTIFIER_MAX_LEN
        and _IDENTIFIER.fullmatch(name) is not None
        and name.strip("_") != ""
    )


def check_identifier(name: object, what: str) -> str:
    if not is_identifier(name):
        raise SchemaError(
            f"{what} {name_of(name)} is not a valid identifier: it must match "
            f"[A-Za-z_][A-Za-z0-9_]*, be at most {IDENTIFIER_MAX_LEN} characters long "
            "and not consist only of underscores"
        )
    assert isinstance(name, str)
    return name


class Validator(ABC):
    """Base of every ``v.*`` validator. Validators are immutable."""

    __slots__ = ()

    @property
    def is_optional(self) -> bool:
        """True only for ``v.optional(...)``, which may stand only as an object field."""
        return False

    def validate(self, value: object, ctx: ValidationContext | None = None, path: str = "") -> None:
        """Raise ``ValidationError`` (with a path below ``path``) if ``value`` does not match.

        ``ctx`` resolves ids for ``v.id``; without it ``v.id`` checks only that
        the value is a non-empty string.
        """
        run_validator(self, value, ctx, path, ValidationError)

    def matches(self, value: object, ctx: ValidationContext | None = None) -> bool:
        """True if ``value`` passes; no error message is built."""
        try:
            self._check(value, ctx)
        except _Mismatch:
            return False
        return True

    @abstractmethod
    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        """Raise ``_Mismatch`` if ``value`` does not match."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """Convex's validator JSON (VAL-10)."""

    @abstractmethod
    def __repr__(self) -> str: ...

    def _mismatch(self, value: object) -> _Mismatch:
        return _Mismatch(lambda: f"Value {show(value)} does not match validator {self!r}")

    def _identity(self) -> tuple[object, ...]:
        # v.number() and v.float64() are one validator, so identity is the
        # JSON form (plus optionality, which the JSON leaves to the parent).
        return (self.is_optional, json.dumps(self.to_json(), sort_keys=True))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Validator):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


def run_validator(
    validator: Validator,
    value: object,
    ctx: ValidationContext | None,
    path: str,
    error: type[ValidationError],
) -> None:
    """Validate, turning the internal mismatch into ``error(message, path)``."""
    try:
        validator._check(value, ctx)
    except _Mismatch as mismatch:
        raise error(mismatch.message, path + mismatch.path()) from None


def require_validator(candidate: object, where: str) -> Validator:
    # A `None` here is usually a circular import leaving a name unbound (VAL-09).
    if not isinstance(candidate, Validator):
        raise SchemaError(f"{where} must be a validator (v.*), got {show(candidate)}")
    return candidate
