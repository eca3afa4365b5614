"""Index ranges, ordering across types, filters and consumers (SEMANTICS.md T01-T08)."""

from __future__ import annotations

from typing import Any

import pytest

from reactor import UNSET, Int64
from reactor.errors import EvalError, InvalidQueryError
from reactor.testing import ReactorTest

pytestmark = pytest.mark.anyio

MIXED = [
    "stringValue",
    "xFactor",
    UNSET,
    False,
    True,
    34,
    35,
    Int64(34),
    None,
    ["a"],
    {"a": 1},
    b"\x00" * 8,
]


async def insert_all(t: ReactorTest, table: str, docs: list[dict[str, Any]]) -> list[str]:
    async def body(ctx: Any) -> list[str]:
        return [await ctx.db.insert(table, doc) for doc in docs]

    return list(await t.run(body))


def field_values(rows: list[dict[str, Any]], name: str) -> list[Any]:
    return [row.get(name, UNSET) for row in rows]


async def test_index_order_across_types(core: ReactorTest) -> None:
    """T01: missing < null < int64 < float64 < boolean < string < bytes < array < object."""
    await insert_all(core, "mixed", [{} if v is UNSET else {"value": v} for v in MIXED])
    rows = await core.run(
        lambda ctx: ctx.db.query("mixed").with_index("by_value").order("desc").collect()
    )
    got = field_values(rows, "value")
    expected = [
        {"a": 1.0},
        ["a"],
        b"\x00" * 8,
        "xFactor",
        "stringValue",
        True,
        False,
        35.0,
        34.0,
        Int64(34),
        None,
        UNSET,
    ]
    assert [type(v) for v in got] == [type(v) for v in expected]
    assert got == expected


async def test_missing_and_null_are_different_keys(core: ReactorTest) -> None:
    """T02."""
    await insert_all(core, "mixed", [{}, {"value": None}, {"value": "x"}])

    async def lookup(ctx: Any, value: Any) -> list[Any]:
        rows = ctx.db.query("mixed").with_index("by_value", lambda r: r.eq("value", value))
        return field_values(await rows.collect(), "value")

    assert await core.run(lambda ctx: lookup(ctx, UNSET)) == [UNSET]
    assert await core.run(lambda ctx: lookup(ctx, None)) == [None]
    present = await core.run(
        lambda ctx: (
            ctx.db.query("mixed").with_index("by_value", lambda r: r.gt("value", UNSET)).collect()
        )
    )
    assert field_values(present, "value") == [None, "x"]


async def test_compound_index_range_orders_by_creation_time(core: ReactorTest) -> None:
    """T03."""
    ids = await insert_all(
        core,
        "ab",
        [{"a": 1, "b": 3}, {"a": 1, "b": 1}, {"a": 2, "b": 0}, {"a": 1, "b": 2}, {"a": 1, "b": 2}],
    )

    async def run(ctx: Any, order: str) -> list[str]:
        q = ctx.db.query("ab").with_index("by_a_b", lambda r: r.eq("a", 1).gt("b", 1))
        return [row["_id"] for row in await q.order(order).collect()]

    ascending = await core.run(lambda ctx: run(ctx, "asc"))
    assert ascending == [ids[3], ids[4], ids[0]]
    assert await core.run(lambda ctx: run(ctx, "desc")) == list(reversed(ascending))


@pytest.mark.parametrize(
    "build",
    [
        lambda r: r.eq("b", 1),
        lambda r: r.gt("a", 0).gt("b", 0),
        lambda r: r.gt("a", 0).lt("b", 5),
        lambda r: r.eq("nope", 1),
        lambda r: r.gt("a", 1).gte("a", 2),
    ],
)
async def test_malformed_index_ranges_are_errors(core: ReactorTest, build: Any) -> None:
    """T04."""
    with pytest.raises(InvalidQueryError):
        await core.run(lambda ctx: ctx.db.query("ab").with_index("by_a_b", build).collect())


async def test_eq_order_is_free_and_system_fields_continue_the_index(core: ReactorTest) -> None:
    """T04: eqs in any order; _creationTime and _id may follow."""
    ids = await insert_all(core, "ab", [{"a": 1, "b": 2}, {"a": 1, "b": 2}])
    doc = await core.run(lambda ctx: ctx.db.get(ids[1]))
    rows = await core.run(
        lambda ctx: (
            ctx.db.query("ab")
            .with_index(
                "by_a_b",
                lambda r: r.eq("b", 2).eq("a", 1).eq("_creationTime", doc["_creationTime"]),
            )
            .collect()
        )
    )
    assert [row["_id"] for row in rows] == [ids[1]]


async def test_unknown_index_and_unknown_table(core: ReactorTest) -> None:
    """Q-08."""
    with pytest.raises(InvalidQueryError, match=r"Index `ab\.nope` not found"):
        await core.run(lambda ctx: ctx.db.query("ab").with_index("nope").collect())
    assert await core.run(lambda ctx: ctx.db.query("never_created").collect()) == []


async def test_consumers(core: ReactorTest) -> None:
    """T05."""
    await insert_all(core, "kv", [{"key": "same"}] * 3)

    def q(ctx: Any) -> Any:
        return ctx.db.query("kv").with_index("by_key", lambda r: r.eq("key", "same"))

    with pytest.raises(InvalidQueryError, match="more than one result"):
        await core.run(lambda ctx: q(ctx).unique())
    assert await core.run(lambda ctx: q(ctx).take(0)) == []
    assert len(await core.run(lambda ctx: q(ctx).take(2))) == 2
    assert (
        await core.run(
            lambda ctx: ctx.db.query("kv").with_index("by_key", lambda r: r.eq("key", "x")).first()
        )
        is None
    )

    async def iterate(ctx: Any) -> int:
        return len([doc async for doc in q(ctx)])

    assert await core.run(iterate) == 3


async def test_filters_compare_across_types(core: ReactorTest) -> None:
    """T06."""
    await insert_all(core, "scratch", [{"n": 10}, {"n": "abc"}, {"n": Int64(3)}, {"n": True}, {}])
    rows = await core.run(
        lambda ctx: ctx.db.query("scratch").filter(lambda f: f.gt(f.field("n"), 5)).collect()
    )
    assert field_values(rows, "n") == [10.0, "abc", True]


async def test_filter_arithmetic_types(core: ReactorTest) -> None:
    """T07."""
    await insert_all(core, "scratch", [{"n": Int64(3)}])

    def run(build: Any) -> Any:
        return core.run(lambda ctx: ctx.db.query("scratch").filter(build).collect())

    with pytest.raises(EvalError):
        await run(lambda f: f.gt(f.add(f.field("n"), 1), 0))
    assert len(await run(lambda f: f.gt(f.add(f.field("n"), Int64(1)), Int64(0)))) == 1
    assert await run(lambda f: f.gt(f.add(f.field("n"), Int64(1)), 0)) == []


async def test_filter_must_be_boolean(core: ReactorTest) -> None:
    """T08."""
    await insert_all(core, "scratch", [{"done": True}, {}])
    with pytest.raises(EvalError):
        await core.run(
            lambda ctx: ctx.db.query("scratch").filter(lambda f: f.field("done")).collect()
        )
