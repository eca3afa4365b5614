"""``ctx.db.query(table)``: index ranges, order, filters and the consumers.

Nothing runs until a consumer (``collect``, ``take``, ``first``, ``unique``,
``paginate`` or ``async for``) pulls rows; rows stream from the store page by
page, so ``take(n)`` reads (and depends on) only what it returns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reactor.engine._catalog import IndexDef
from reactor.engine._cursor import Cursor, decode_cursor, encode_cursor, query_fingerprint
from reactor.engine._filter import Expression, FilterBuilder, compile_filter
from reactor.errors import EvalError, InvalidQueryError
from reactor.values import (
    UNSET,
    encode_key,
    encode_key_value,
    key_successor,
    normalize,
    prefix_successor,
)

if TYPE_CHECKING:
    from reactor.engine._transaction import Transaction

__all__ = ["IndexRangeBuilder", "PaginationState", "Query"]

MAX_PAGE_SIZE = 32_000


@dataclass
class PaginationState:
    """Per function run: one ``paginate`` allowed, and the journal that pins its end."""

    used: bool = False
    pinned_end: str | None = None
    journal: str | None = None
    top_level: bool = True


class IndexRangeBuilder:
    """The ``r`` in ``with_index("by_x", lambda r: r.eq("a", 1).gt("b", 2))``."""

    def __init__(self, index: IndexDef) -> None:
        self._index = index
        self._eqs: dict[str, Any] = {}
        self._lower: tuple[str, str, Any] | None = None
        self._upper: tuple[str, str, Any] | None = None

    def _check_field(self, name: str) -> None:
        if name not in self._index.key_fields:
            raise InvalidQueryError(
                f"FieldNotInIndex: `{name}` is not a field of index `{self._index.full_name}` "
                f"(fields: {', '.join(self._index.key_fields)})"
            )

    def eq(self, field_name: str, value: Any) -> IndexRangeBuilder:
        self._check_field(field_name)
        if self._lower or self._upper:
            raise InvalidQueryError("eq() must come before any gt/gte/lt/lte in an index range")
        if field_name in self._eqs:
            raise InvalidQueryError(f"AlreadyDefinedBound: eq on `{field_name}` given twice")
        self._eqs[field_name] = _value(value)
        return self

    def _bound(self, which: str, op: str, field_name: str, value: Any) -> IndexRangeBuilder:
        self._check_field(field_name)
        current = self._lower if which == "lower" else self._upper
        if current is not None:
            raise InvalidQueryError(f"AlreadyDefinedBound: a {which} bound is already set")
        other = self._upper if which == "lower" else self._lower
        if other is not None and other[0] != field_name:
            raise InvalidQueryError(
                f"BoundsOnMultipleFields: bounds on `{other[0]}` and `{field_name}`; "
                "lower and upper bounds must be on the same field"
            )
        bound = (field_name, op, _value(value))
        if which == "lower":
            self._lower = bound
        else:
            self._upper = bound
        return self

    def gt(self, field_name: str, value: Any) -> IndexRangeBuilder:
        return self._bound("lower", "gt", field_name, value)

    def gte(self, field_name: str, value: Any) -> IndexRangeBuilder:
        return self._bound("lower", "gte", field_name, value)

    def lt(self, field_name: str, value: Any) -> IndexRangeBuilder:
        return self._bound("upper", "lt", field_name, value)

    def lte(self, field_name: str, value: Any) -> IndexRangeBuilder:
        return self._bound("upper", "lte", field_name, value)

    def compile(self) -> tuple[bytes, bytes | None]:
        """The byte interval ``[start, end)`` this range selects."""
        fields = self._index.key_fields
        prefix_values = []
        for position, name in enumerate(fields):
            if name not in self._eqs:
                missing = [f for f in fields[position:] if f in self._eqs]
                if missing:
                    raise InvalidQueryError(
                        f"InvalidIndexRange: eq on `{missing[0]}` skips `{name}`; "
                        f"eq must cover a prefix of the index fields ({', '.join(fields)})"
                    )
                break
            prefix_values.append(self._eqs[name])
        prefix = encode_key(prefix_values)
        bound_field = fields[len(prefix_values)] if len(prefix_values) < len(fields) else None
        for bound in (self._lower, self._upper):
            if bound is not None and bound[0] != bound_field:
                raise InvalidQueryError(
                    f"InvalidIndexRange: a bound on `{bound[0]}` must be on the field right "
                    f"after the eq prefix ({bound_field or 'none left'})"
                )
        start = prefix
        end = prefix_successor(prefix) if prefix else None
        if self._lower is not None:
            encoded = prefix + encode_key_value(self._lower[2])
            start = encoded if self._lower[1] == "gte" else _after_prefix(encoded)
        if self._upper is not None:
            encoded = prefix + encode_key_value(self._upper[2])
            end = encoded if self._upper[1] == "lt" else prefix_successor(encoded)
        return start, end


def _after_prefix(encoded: bytes) -> bytes:
    successor = prefix_successor(encoded)
    if successor is None:  # pragma: no cover - encodings never end in all 0xff
        raise InvalidQueryError("index range has no upper limit")
    return successor


def _value(value: Any) -> Any:
    return UNSET if value is UNSET else normalize(value)


@dataclass
class _Plan:
    index: IndexDef
    start: bytes
    end: bytes | None
    reverse: bool
    filters: list[Expression] = field(default_factory=list)


class Query:
    """A query over one table; built by chaining, run by a consumer."""

    def __init__(self, tx: Transaction, table: str, pagination: PaginationState) -> None:
        self._tx = tx
        self._table = table
        self._pagination = pagination
        self._index: IndexDef | None = None
        self._range: tuple[bytes, bytes | None] = (b"", None)
        self._order: str | None = None
        self._filters: list[Expression] = []
        self._consumed = False

    def with_index(
        self, name: str, range_fn: Callable[[IndexRangeBuilder], Any] | None = None
    ) -> Query:
        if self._index is not None:
            raise InvalidQueryError("with_index / full_table_scan can be used once per query")
        if self._filters or self._order:
            raise InvalidQueryError("with_index must come before order and filter")
        index = self._tx.catalog.read_index(self._table, name)
        builder = IndexRangeBuilder(index)
        if range_fn is not None:
            result = range_fn(builder)
            if result is not builder and result is not None:
                raise InvalidQueryError("the index range function must return the range builder")
        self._index = index
        self._range = builder.compile()
        return self

    def full_table_scan(self) -> Query:
        return self.with_index("by_creation_time")

    def with_search_index(self, name: str, search_fn: Callable[[Any], Any]) -> Query:
        raise InvalidQueryError(
            f"search index `{self._table}.{name}`: text search is not available in this version"
        )

    def order(self, order: str) -> Query:
        if order not in ("asc", "desc"):
            raise InvalidQueryError(f"order must be 'asc' or 'desc', got {order!r}")
        if self._order is not None:
            raise InvalidQueryError("order() can be called once per query")
        self._order = order
        return self

    def filter(self, predicate: Callable[[FilterBuilder], Any]) -> Query:
        self._filters.append(compile_filter(predicate))
        return self

    def _plan(self) -> _Plan:
        if self._consumed:
            raise InvalidQueryError("a query can be run only once; build a new one")
        self._consumed = True
        index = self._index or self._tx.catalog.read_index(self._table, "by_creation_time")
        start, end = self._range
        return _Plan(index, start, end, self._order == "desc", list(self._filters))

    async def _rows(self, plan: _Plan) -> AsyncIterator[tuple[bytes, dict[str, Any], bool]]:
        async for key, doc in self._tx.scan(plan.index, plan.start, plan.end, reverse=plan.reverse):
            yield key, doc, _passes(plan.filters, doc)

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async for _, doc, ok in self._rows(self._plan()):
            if ok:
                yield doc

    async def collect(self) -> list[dict[str, Any]]:
        return [doc async for doc in self]

    async def take(self, n: int) -> list[dict[str, Any]]:
        if isinstance(n, bool) or not isinstance(n, int | float) or n < 0 or int(n) != n:
            raise InvalidQueryError(f"take() needs a non-negative integer, got {n!r}")
        result: list[dict[str, Any]] = []
        if n == 0:
            self._plan()
            return result
        async for doc in self:
            result.append(doc)
            if len(result) >= n:
                break
        return result

    async def first(self) -> dict[str, Any] | None:
        rows = await self.take(1)
        return rows[0] if rows else None

    async def unique(self) -> dict[str, Any] | None:
        rows = await self.take(2)
        if len(rows) > 1:
            raise InvalidQueryError(
                f"unique() query returned more than one result from table {self._table}: "
                f"{rows[0]['_id']}, {rows[1]['_id']}, ..."
            )
        return rows[0] if rows else None

    async def paginate(self, opts: dict[str, Any]) -> dict[str, Any]:
        options = _PageOptions.parse(opts)
        if self._pagination.used:
            raise InvalidQueryError(
                "MultiplePaginatedDatabaseQueries: a function may call paginate() once"
            )
        plan = self._plan()
        fingerprint = query_fingerprint(plan.index.full_name, plan.start, plan.end, plan.reverse)
        end_text = options.end_cursor or (
            self._pagination.pinned_end if self._pagination.top_level else None
        )
        # Cursors are checked before the one paginate() is used up, so a caller
        # may catch InvalidCursorError and start again from the first page.
        cursor = decode_cursor(options.cursor, fingerprint) if options.cursor else None
        end_cursor = decode_cursor(end_text, fingerprint) if end_text else None
        self._pagination.used = True
        if cursor is not None:
            if cursor.key is None:
                return _page([], True, options.cursor or "")
            if plan.reverse:
                plan.end = cursor.key
            else:
                plan.start = key_successor(cursor.key)
        if end_cursor is not None and end_cursor.key is not None:
            if plan.reverse:
                plan.start = max(plan.start, end_cursor.key)
            else:
                bound = key_successor(end_cursor.key)
                plan.end = bound if plan.end is None else min(plan.end, bound)
        page: list[dict[str, Any]] = []
        scanned: list[bytes] = []
        scanned_bytes = 0
        split = False
        exhausted = True
        async for key, doc, ok in self._rows(plan):
            scanned.append(key)
            if ok:
                page.append(doc)
            if end_cursor is not None:
                continue
            if len(page) >= options.num_items:
                exhausted = False
                break
            scanned_bytes += len(key)
            if (options.max_rows and len(scanned) >= options.max_rows) or (
                options.max_bytes and scanned_bytes >= options.max_bytes
            ):
                split, exhausted = True, False
                break
        if end_cursor is not None:
            continue_cursor = end_text
            done = end_cursor.key is None
        elif exhausted:
            continue_cursor = encode_cursor(Cursor(fingerprint, None))
            done = True
        else:
            continue_cursor = encode_cursor(Cursor(fingerprint, scanned[-1]))
            done = False
        assert continue_cursor is not None
        if self._pagination.top_level and options.end_cursor is None:
            self._pagination.journal = continue_cursor
        result = _page(page, done, continue_cursor)
        if split:
            result["pageStatus"] = "SplitRequired"
            result["splitCursor"] = encode_cursor(Cursor(fingerprint, scanned[len(scanned) // 2]))
        return result


def _passes(filters: list[Expression], doc: dict[str, Any]) -> bool:
    for expression in filters:
        result = expression.evaluate(doc)
        if not isinstance(result, bool):
            raise EvalError(
                "a filter must evaluate to a boolean, got "
                + ("a missing value" if result is UNSET else type(result).__name__)
            )
        if not result:
            return False
    return True


def _page(page: list[dict[str, Any]], done: bool, continue_cursor: str) -> dict[str, Any]:
    return {
        "page": page,
        "isDone": done,
        "continueCursor": continue_cursor,
        "splitCursor": None,
        "pageStatus": None,
    }


@dataclass(frozen=True)
class _PageOptions:
    num_items: int
    cursor: str | None
    end_cursor: str | None
    max_rows: int | None
    max_bytes: int | None

    @classmethod
    def parse(cls, opts: Any) -> _PageOptions:
        if not isinstance(opts, dict):
            raise InvalidQueryError(f"paginate() takes pagination options, got {opts!r}")
        num = opts.get("numItems")
        cursor = opts.get("cursor")
        end_cursor = opts.get("endCursor")
        if cursor is not None and not isinstance(cursor, str):
            raise InvalidQueryError("paginationOpts.cursor must be a string or None")
        if end_cursor is not None and not isinstance(end_cursor, str):
            raise InvalidQueryError("paginationOpts.endCursor must be a string or None")
        if end_cursor is None:
            if isinstance(num, bool) or not isinstance(num, int | float) or int(num) != num:
                raise InvalidQueryError(f"paginationOpts.numItems must be a number, got {num!r}")
            if num < 1:
                raise InvalidQueryError("Must request at least 1 document while paginating")
            if num > MAX_PAGE_SIZE:
                raise InvalidQueryError(
                    f"PageSizeTooLarge: numItems {int(num)} is over the limit {MAX_PAGE_SIZE}"
                )
        limits = []
        for name in ("maximumRowsRead", "maximumBytesRead"):
            raw = opts.get(name)
            if raw is not None and (
                isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0
            ):
                raise InvalidQueryError(f"paginationOpts.{name} must be > 0, got {raw!r}")
            limits.append(int(raw) if raw is not None else None)
        return cls(int(num or 0), cursor, end_cursor, limits[0], limits[1])
