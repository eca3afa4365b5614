"""paginate(): cursors, isDone, end cursors, split pages (SEMANTICS.md T22-T27)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from reactor.errors import InvalidCursorError, InvalidQueryError
from reactor.testing import ReactorTest

pytestmark = pytest.mark.anyio


async def send(t: ReactorTest, body: str, channel: str = "c", author: str = "x") -> str:
    return str(
        await t.mutation("messages:send", {"channel": channel, "body": body, "author": author})
    )


def page_opts(num: int, cursor: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"numItems": num, "cursor": cursor, **extra}


async def test_paginate_with_a_filter(core: ReactorTest) -> None:
    """T22."""
    for i in range(1, 6):
        await send(core, f"hello{i}", author="sarah")
        if i in (2, 4):
            await send(core, "other", author="tom")
    first = await core.query(
        "messages:by_author", {"author": "sarah", "paginationOpts": page_opts(2)}
    )
    assert [m["body"] for m in first["page"]] == ["hello1", "hello2"]
    assert first["isDone"] is False
    second = await core.query(
        "messages:by_author",
        {"author": "sarah", "paginationOpts": page_opts(4, first["continueCursor"])},
    )
    assert [m["body"] for m in second["page"]] == ["hello3", "hello4", "hello5"]
    assert second["isDone"] is True
    third = await core.query(
        "messages:by_author",
        {"author": "sarah", "paginationOpts": page_opts(4, second["continueCursor"])},
    )
    assert third["page"] == [] and third["isDone"] is True


async def test_a_page_filled_exactly_is_not_done(core: ReactorTest) -> None:
    """T23: as the backend does, isDone comes with the next (empty) page."""
    for i in range(3):
        await send(core, str(i))
    first = await core.query("messages:page", {"channel": "c", "paginationOpts": page_opts(3)})
    assert len(first["page"]) == 3 and first["isDone"] is False
    rest = await core.query(
        "messages:page", {"channel": "c", "paginationOpts": page_opts(3, first["continueCursor"])}
    )
    assert rest["page"] == [] and rest["isDone"] is True


async def test_deleting_the_cursor_row_keeps_continuation(core: ReactorTest) -> None:
    """T24."""
    for i in range(5):
        await send(core, str(i))
    first = await core.query("messages:page", {"channel": "c", "paginationOpts": page_opts(1)})
    await core.run(lambda ctx: ctx.db.delete(first["page"][0]["_id"]))
    rest = await core.query(
        "messages:page", {"channel": "c", "paginationOpts": page_opts(10, first["continueCursor"])}
    )
    assert [m["body"] for m in rest["page"]] == ["1", "2", "3", "4"]


async def test_end_cursor_pins_the_page_end(core: ReactorTest) -> None:
    """T25: with endCursor, numItems is ignored and the page grows to the end."""
    for k in (10, 20, 30, 40):
        await core.run(lambda ctx, k=k: ctx.db.insert("ab", {"a": 1, "b": float(k)}))
    first = await core.query("pages:ab_page", {"paginationOpts": page_opts(2)})
    assert [r["b"] for r in first["page"]] == [10.0, 20.0]
    await core.run(lambda ctx: ctx.db.insert("ab", {"a": 1, "b": 15.0}))
    pinned = await core.query(
        "pages:ab_page",
        {"paginationOpts": {"numItems": 2, "cursor": None, "endCursor": first["continueCursor"]}},
    )
    assert [r["b"] for r in pinned["page"]] == [10.0, 15.0, 20.0]
    assert pinned["continueCursor"] == first["continueCursor"]


async def test_journal_pins_the_end_of_a_rerun(core: ReactorTest) -> None:
    """PG-04: re-running with the journal keeps the first run's end (page can grow)."""
    engine = await core.engine()
    for i in range(4):
        await core.run(lambda ctx, i=i: ctx.db.insert("ab", {"a": 1, "b": float(i * 10)}))

    args = {"paginationOpts": page_opts(2)}
    first = await engine.run_query("pages:ab_page", args)
    assert [r["b"] for r in first.value["page"]] == [0.0, 10.0]
    assert first.journal is not None
    await core.run(lambda ctx: ctx.db.insert("ab", {"a": 1, "b": 5.0}))
    again = await engine.run_query("pages:ab_page", args, journal=first.journal)
    assert [r["b"] for r in again.value["page"]] == [0.0, 5.0, 10.0]
    assert again.value["continueCursor"] == first.value["continueCursor"]


async def test_split_required_when_rows_read_run_out(core: ReactorTest) -> None:
    """T27."""
    for i in range(10):
        await send(core, str(i), author="tom")
    cursor = None
    seen = 0
    for _ in range(20):
        result = await core.query(
            "messages:by_author",
            {"author": "nobody", "paginationOpts": page_opts(5, cursor, maximumRowsRead=3)},
        )
        seen += 1
        assert len(result["page"]) <= 3
        if result["isDone"]:
            break
        assert result["pageStatus"] == "SplitRequired"
        assert result["splitCursor"] is not None
        cursor = result["continueCursor"]
    assert result["isDone"] and seen > 1


async def test_pagination_errors(core: ReactorTest) -> None:
    """T26 and PG-06."""
    with pytest.raises(InvalidQueryError, match="at least 1"):
        await core.query("messages:page", {"channel": "c", "paginationOpts": page_opts(0)})
    with pytest.raises(InvalidQueryError, match="MultiplePaginatedDatabaseQueries"):
        await core.query("pages:twice")
    with pytest.raises(InvalidCursorError):
        await core.query("messages:page", {"channel": "c", "paginationOpts": page_opts(1, "junk")})
    await send(core, "a", channel="one")
    await send(core, "b", channel="one")
    page = await core.query("messages:page", {"channel": "one", "paginationOpts": page_opts(1)})
    with pytest.raises(InvalidCursorError, match="different query"):
        await core.query(
            "messages:page",
            {"channel": "two", "paginationOpts": page_opts(1, page["continueCursor"])},
        )


async def test_every_row_once_while_the_table_changes(core: ReactorTest) -> None:
    """Rows inserted or deleted between pages: no row is returned twice, none skipped."""
    rng = random.Random(7)
    alive = {await send(core, f"m{i}") for i in range(40)}
    seen: list[str] = []
    cursor = None
    while True:
        result = await core.query(
            "messages:page",
            {"channel": "c", "paginationOpts": page_opts(rng.randint(1, 6), cursor)},
        )
        seen.extend(m["_id"] for m in result["page"])
        if result["isDone"]:
            break
        cursor = result["continueCursor"]
        # Churn behind and ahead of the cursor.
        victim = rng.choice(sorted(alive - set(seen))) if alive - set(seen) else None
        if victim is not None:
            await core.run(lambda ctx, victim=victim: ctx.db.delete(victim))
            alive.discard(victim)
        alive.add(await send(core, "late"))
    assert len(seen) == len(set(seen))
    # Every row that existed for the whole pass was returned.
    assert alive <= set(seen)
