"""The Python side of Convex's int64 type and the "no value" sentinel."""

from __future__ import annotations

from typing import Any, Final

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


class Int64(int):
    """A Convex int64: an ``int`` that keeps its Convex type.

    Plain Python ``int`` values written by functions become float64 (as the
    official Python client does); wrap a value in ``Int64`` to store an int64.
    Arithmetic between ``Int64`` values stays ``Int64`` and is range-checked.
    """

    __slots__ = ()

    def __new__(cls, value: Any = 0) -> Int64:
        if isinstance(value, bool):
            raise TypeError("Int64 does not accept booleans")
        number = int(value)
        if not INT64_MIN <= number <= INT64_MAX:
            raise OverflowError(f"{number} is outside the int64 range")
        return super().__new__(cls, number)

    def __repr__(self) -> str:
        return f"Int64({int(self)})"

    def _wrap(self, result: Any, other: Any) -> Any:
        if isinstance(other, Int64) and isinstance(result, int):
            return Int64(result)
        return result

    def __add__(self, other: Any) -> Any:
        return self._wrap(int(self) + other, other)

    def __radd__(self, other: Any) -> Any:
        return self._wrap(other + int(self), other)

    def __sub__(self, other: Any) -> Any:
        return self._wrap(int(self) - other, other)

    def __rsub__(self, other: Any) -> Any:
        return self._wrap(other - int(self), other)

    def __mul__(self, other: Any) -> Any:
        return self._wrap(int(self) * other, other)

    def __rmul__(self, other: Any) -> Any:
        return self._wrap(other * int(self), other)

    def __floordiv__(self, other: Any) -> Any:
        return self._wrap(int(self) // other, other)

    def __mod__(self, other: Any) -> Any:
        return self._wrap(int(self) % other, other)

    def __neg__(self) -> Int64:
        return Int64(-int(self))

    def __abs__(self) -> Int64:
        return Int64(abs(int(self)))

    def __hash__(self) -> int:
        return int.__hash__(self)


class _Unset:
    """``reactor.UNSET``: "no value".

    In ``db.patch`` a field set to ``UNSET`` is removed; in index ranges and
    filters it stands for a missing field (Convex's ``undefined``).
    """

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()
