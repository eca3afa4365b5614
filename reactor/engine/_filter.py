"""The filter builder of ``query.filter(lambda f: ...)`` and its evaluator.

Comparisons use Convex's total order across types and never fail;
arithmetic accepts int64 with int64 or float64 with float64 only; boolean
operators need booleans. Anything else is an ``EvalError``, as in Convex.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from reactor.errors import EvalError
from reactor.schema import get_field_path
from reactor.values import INT64_MAX, INT64_MIN, UNSET, Int64, compare_values

__all__ = ["Expression", "FilterBuilder", "evaluate_filter"]


class Expression:
    """A node of a filter expression."""

    __slots__ = ()

    def evaluate(self, doc: dict[str, Any]) -> Any:
        raise NotImplementedError


class _Literal(Expression):
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def evaluate(self, doc: dict[str, Any]) -> Any:
        return self.value


class _Field(Expression):
    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def evaluate(self, doc: dict[str, Any]) -> Any:
        if "." not in self.path:
            return doc.get(self.path, UNSET)
        return get_field_path(doc, self.path)


class _Call(Expression):
    __slots__ = ("args", "fn")

    def __init__(self, fn: Callable[..., Any], *args: Expression) -> None:
        self.fn = fn
        self.args = args

    def evaluate(self, doc: dict[str, Any]) -> Any:
        return self.fn(*(a.evaluate(doc) for a in self.args))


def _wrap(value: Any) -> Expression:
    return value if isinstance(value, Expression) else _Literal(value)


def _kind(value: Any) -> str:
    if isinstance(value, Int64):
        return "int64"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "float64"
    return type(value).__name__


def _arith(name: str, op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        ka, kb = _kind(a), _kind(b)
        if ka == kb == "int64":
            result = op(int(a), int(b))
            if not INT64_MIN <= result <= INT64_MAX:
                raise EvalError(f"int64 overflow in {name}")
            return Int64(result)
        if ka == kb == "float64":
            return op(float(a), float(b))
        raise EvalError(f"cannot {name} {ka} and {kb}: both must be int64 or both float64")

    return apply


def _div(a: Any, b: Any) -> Any:
    if isinstance(a, Int64) and isinstance(b, Int64):
        if int(b) == 0:
            raise EvalError("int64 division by zero")
        quotient = abs(int(a)) // abs(int(b))
        return quotient if (int(a) < 0) == (int(b) < 0) else -quotient
    if float(b) == 0.0:
        if float(a) == 0.0 or math.isnan(float(a)):
            return math.nan
        return math.copysign(math.inf, float(a)) * math.copysign(1.0, float(b))
    return float(a) / float(b)


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, Int64) and isinstance(b, Int64):
        if int(b) == 0:
            raise EvalError("int64 modulo by zero")
        return int(math.fmod(int(a), int(b)))
    if float(b) == 0.0:
        return math.nan
    return math.fmod(float(a), float(b))


def _bool(value: Any, op: str) -> bool:
    if not isinstance(value, bool):
        raise EvalError(
            f"{op} needs booleans, got {_kind(value) if value is not UNSET else 'a missing value'}"
        )
    return value


class FilterBuilder:
    """The ``f`` in ``query.filter(lambda f: f.eq(f.field("a"), 1))``."""

    def field(self, path: str) -> Expression:
        return _Field(path)

    def eq(self, a: Any, b: Any) -> Expression:
        return _Call(lambda x, y: compare_values(x, y) == 0, _wrap(a), _wrap(b))

    def neq(self, a: Any, b: Any) -> Expression:
        return _Call(lambda x, y: compare_values(x, y) != 0, _wrap(a), _wrap(b))

    def lt(self, a: Any, b: Any) -> Expression:
        return _Call(lambda x, y: compare_values(x, y) < 0, _wrap(a), _wrap(b))

    def lte(self, a: Any, b: Any) -> Expression:
        return _Call(lambda x, y: compare_values(x, y) <= 0, _wrap(a), _wrap(b))

    def gt(self, a: Any, b: Any) -> Expression:
        return _Call(lambda x, y: compare_values(x, y) > 0, _wrap(a), _wrap(b))

    def gte(self, a: Any, b: Any) -> Expression:
        return _Call(lambda x, y: compare_values(x, y) >= 0, _wrap(a), _wrap(b))

    def and_(self, *exprs: Any) -> Expression:
        return _Call(lambda *xs: all([_bool(x, "and") for x in xs]), *map(_wrap, exprs))

    def or_(self, *exprs: Any) -> Expression:
        return _Call(lambda *xs: any([_bool(x, "or") for x in xs]), *map(_wrap, exprs))

    def not_(self, expr: Any) -> Expression:
        return _Call(lambda x: not _bool(x, "not"), _wrap(expr))

    def add(self, a: Any, b: Any) -> Expression:
        return _Call(_arith("add", lambda x, y: x + y), _wrap(a), _wrap(b))

    def sub(self, a: Any, b: Any) -> Expression:
        return _Call(_arith("subtract", lambda x, y: x - y), _wrap(a), _wrap(b))

    def mul(self, a: Any, b: Any) -> Expression:
        return _Call(_arith("multiply", lambda x, y: x * y), _wrap(a), _wrap(b))

    def div(self, a: Any, b: Any) -> Expression:
        return _Call(_arith("divide", _div), _wrap(a), _wrap(b))

    def mod(self, a: Any, b: Any) -> Expression:
        return _Call(_arith("mod", _mod), _wrap(a), _wrap(b))

    def neg(self, a: Any) -> Expression:
        def negate(x: Any) -> Any:
            if isinstance(x, Int64):
                if int(x) == INT64_MIN:
                    raise EvalError("int64 overflow in negate")
                return Int64(-int(x))
            if _kind(x) == "float64":
                return -float(x)
            raise EvalError(f"cannot negate {_kind(x)}")

        return _Call(negate, _wrap(a))


_BUILDER = FilterBuilder()


def evaluate_filter(predicate: Callable[[FilterBuilder], Any], doc: dict[str, Any]) -> bool:
    expression = _wrap(predicate(_BUILDER))
    result = expression.evaluate(doc)
    if not isinstance(result, bool):
        raise EvalError(
            "a filter must evaluate to a boolean, got "
            + ("a missing value" if result is UNSET else _kind(result))
        )
    return result


def compile_filter(predicate: Callable[[FilterBuilder], Any]) -> Expression:
    """Build the expression once; evaluate it per document."""
    if not callable(predicate):
        raise TypeError(f"filter takes a function of the filter builder, got {predicate!r}")
    return _wrap(predicate(_BUILDER))
