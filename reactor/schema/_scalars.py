"""Leaf validators: ids, null, numbers, booleans, strings, bytes, literals, any.

Python mapping (API.md): float64 is ``float`` or a plain ``int`` (not
``bool``, not ``Int64``) that float64 holds exactly; int64 is ``Int64``;
``bool`` is never a number.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

from reactor.errors import SchemaError
from reactor.schema._base import (
    ValidationContext,
    Validator,
    _Mismatch,
    is_identifier,
    quote,
    show,
)
from reactor.values._int64 import Int64

_EXACT_INT = 2**53


def as_float64(value: object) -> float | None:
    """``value`` as the float64 it stands for, or None if it is not a float64 value."""
    if isinstance(value, float):
        return value
    if type(value) is int:
        if -_EXACT_INT <= value <= _EXACT_INT:
            return float(value)
        try:
            as_float = float(value)
        except OverflowError:
            return None
        # An int float64 cannot hold exactly would be rounded silently on write.
        return as_float if as_float == value else None
    return None


def float_json(number: float) -> Any:
    """A float as Convex JSON: a plain number, or ``$float`` where JSON has none."""
    if math.isfinite(number) and not (number == 0.0 and math.copysign(1.0, number) < 0):
        if number.is_integer() and abs(number) < _EXACT_INT:
            return int(number)
        return number
    return {"$float": base64.b64encode(struct.pack("<d", number)).decode()}


def int64_json(number: int) -> dict[str, str]:
    return {"$integer": base64.b64encode(struct.pack("<q", number)).decode()}


class IdValidator(Validator):
    """``v.id(table)``: a string naming a document of ``table`` (existence is not checked)."""

    __slots__ = ("table_name",)

    def __init__(self, table_name: str) -> None:
        if not is_identifier(table_name):
            raise SchemaError(f"v.id() needs a table name, got {show(table_name)}")
        self.table_name = table_name

    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        if not isinstance(value, str) or not value:
            raise self._mismatch(value)
        if ctx is None:
            return
        table = ctx.table_name_for_id(value)
        if table is None:
            raise _Mismatch(lambda: f"Value {show(value)} is not a valid id (validator {self!r})")
        if table != self.table_name:
            raise _Mismatch(
                lambda: (
                    f"Value {show(value)} is an id of table {quote(table)}, expected an id "
                    f"of table {quote(self.table_name)} (validator {self!r})"
                )
            )

    def to_json(self) -> dict[str, Any]:
        return {"type": "id", "tableName": self.table_name}

    def __repr__(self) -> str:
        return f"v.id({quote(self.table_name)})"


class NullValidator(Validator):
    __slots__ = ()

    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        if value is not None:
            raise self._mismatch(value)

    def to_json(self) -> dict[str, Any]:
        return {"type": "null"}

    def __repr__(self) -> str:
        return "v.null()"


class Float64Validator(Validator):
    """``v.number()`` / ``v.float64()``: NaN, infinities and -0.0 included."""

    __slots__ = ("_spelling",)

    def __init__(self, spelling: str = "number") -> None:
        self._spelling = spelling

    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        if type(value) is float:
            return
        if as_float64(value) is None:
            raise self._mismatch(value)

    def to_json(self) -> dict[str, Any]:
        return {"type": "number"}

    def __repr__(self) -> str:
        return f"v.{self._spelling}()"


class Int64Validator(Validator):
    """``v.int64()`` / ``v.bigint()``: only ``Int64``, never a plain ``int``."""

    __slots__ = ("_spelling",)

    def __init__(self, spelling: str = "int64") -> None:
        self._spelling = spelling

    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        if not isinstance(value, Int64):
            raise self._mismatch(value)

    def to_json(self) -> dict[str, Any]:
        return {"type": "bigint"}

    def __repr__(self) -> str:
        return f"v.{self._spelling}()"


class BooleanValidator(Validator):
    __slots__ = ()

    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        if not isinstance(value, bool):
            raise self._mismatch(value)

    def to_json(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def __repr__(self) -> str:
        return "v.boolean()"


class StringValidator(Validator):
    __slots__ = ()

    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        if not isinstance(value, str):
            raise self._mismatch(value)

    def to_json(self) -> dict[str, Any]:
        return {"type": "string"}

    def __repr__(self) -> str:
        return "v.string()"


class BytesValidator(Validator):
    __slots__ = ()

    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        if not isinstance(value, bytes):
            raise self._mismatch(value)

    def to_json(self) -> dict[str, Any]:
        return {"type": "bytes"}

    def __repr__(self) -> str:
        return "v.bytes()"


class AnyValidator(Validator):
    """``v.any()``: every value passes (whether it is a Convex value is the codec's check)."""

    __slots__ = ()

    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        return None

    def to_json(self) -> dict[str, Any]:
        return {"type": "any"}

    def __repr__(self) -> str:
        return "v.any()"


class LiteralValidator(Validator):
    """``v.literal(x)``: equal to ``x`` *and* of the same Convex type.

    ``v.literal(1)`` matches ``1`` and ``1.0`` but not ``Int64(1)``;
    ``v.literal(Int64(1))`` matches only ``Int64(1)``; ``v.literal(True)``
    matches only ``True``. Float literals compare bit for bit, so ``0.0`` and
    ``-0.0`` differ and a NaN literal matches the same NaN (TYPE-06).
    """

    __slots__ = ("_bits", "_kind", "value")

    value: str | bool | float | Int64

    def __init__(self, value: object) -> None:
        self._bits = b""
        if isinstance(value, bool):
            self._kind, self.value = "boolean", value
        elif isinstance(value, Int64):
            self._kind, self.value = "int64", value
        elif isinstance(value, str):
            self._kind, self.value = "string", value
        else:
            number = as_float64(value)
            if number is None:
                raise SchemaError(
                    "v.literal() takes a str, a float (or int), an Int64 or a bool, "
                    f"got {show(value)}"
                )
            self._kind, self.value, self._bits = "float64", number, struct.pack("<d", number)

    def _check(self, value: object, ctx: ValidationContext | None) -> None:
        kind = self._kind
        if kind == "string":
            ok = isinstance(value, str) and value == self.value
        elif kind == "boolean":
            ok = value is self.value
        elif kind == "int64":
            ok = isinstance(value, Int64) and int(value) == int(self.value)
        else:
            number = as_float64(value)
            ok = number is not None and struct.pack("<d", number) == self._bits
        if not ok:
            raise self._mismatch(value)

    def to_json(self) -> dict[str, Any]:
        literal = self.value
        if self._kind == "int64":
            encoded: Any = int64_json(int(literal))
        elif self._kind == "float64":
            assert isinstance(literal, float)
            encoded = float_json(literal)
        else:
            encoded = literal
        return {"type": "literal", "value": encoded}

    def __repr__(self) -> str:
        literal = self.value
        if isinstance(literal, str):
            shown = quote(literal)
        elif self._kind == "float64":
            encoded = float_json(float(literal))
            shown = repr(encoded) if isinstance(encoded, int) else repr(literal)
        else:
            shown = repr(literal)
        return f"v.literal({shown})"
