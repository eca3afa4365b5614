"""Restarts and schema changes on a store that already holds data."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from reactor.errors import LimitExceededError, SchemaError
from reactor.testing import ReactorTest

pytestmark = pytest.mark.anyio


def write_app(folder: Path, schema: str) -> Path:
    (folder / "functions").mkdir(parents=True, exist_ok=True)
    (folder / "functions" / "__init__.py").write_text("")
    (folder / "schema.py").write_text(textwrap.dedent(schema))
    return folder


V1 = """
    from reactor import define_schema, define_table, v
    schema = define_schema({"items": define_table({"n": v.number(), "tag": v.string()})})
"""
V2_INDEX = """
    from reactor import define_schema, define_table, v
    schema = define_schema({
        "items": define_table({"n": v.number(), "tag": v.string()}).index("by_tag", ["tag"]),
    })
"""
V3_STRICTER = """
    from reactor import define_schema, define_table, v
    schema = define_schema({"items": define_table({"n": v.number(), "tag": v.literal("a")})})
"""


async def test_data_and_timestamps_survive_a_restart(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", V1)
    data = tmp_path / "data"
    data.mkdir()
    first = ReactorTest(app, data_dir=data)
    doc_id = await first.run(lambda ctx: ctx.db.insert("items", {"n": 1, "tag": "a"}))
    engine = await first.engine()
    high_water = engine.committer.last_ts
    await first.close()

    second = ReactorTest(app, data_dir=data)
    try:
        assert (await second.run(lambda ctx: ctx.db.get(doc_id)))["n"] == 1.0
        engine = await second.engine()
        assert engine.committer.last_ts >= high_water
        await second.run(lambda ctx: ctx.db.insert("items", {"n": 2, "tag": "b"}))
        assert engine.committer.last_ts > high_water
    finally:
        await second.close()


async def test_a_new_index_is_backfilled_before_it_serves(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    v1 = ReactorTest(write_app(tmp_path / "v1", V1), data_dir=data)

    async def fill(ctx: Any) -> None:
        for i in range(2_000):
            await ctx.db.insert("items", {"n": i, "tag": "a" if i % 2 else "b"})

    for _ in range(5):
        await v1.run(fill)
    await v1.close()

    v2 = ReactorTest(write_app(tmp_path / "v2", V2_INDEX), data_dir=data)
    try:
        tagged = await v2.run(
            lambda ctx: (
                ctx.db.query("items").with_index("by_tag", lambda r: r.eq("tag", "a")).collect()
            )
        )
        assert len(tagged) == 5_000
        everything = await v2.run(lambda ctx: ctx.db.query("items").with_index("by_tag").collect())
        assert len(everything) == 10_000
        assert [row["tag"] for row in everything] == ["a"] * 5_000 + ["b"] * 5_000
    finally:
        await v2.close()


async def test_a_validator_that_existing_documents_break_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    v1 = ReactorTest(write_app(tmp_path / "v1", V1), data_dir=data)
    bad = await v1.run(lambda ctx: ctx.db.insert("items", {"n": 1, "tag": "b"}))
    await v1.run(lambda ctx: ctx.db.insert("items", {"n": 2, "tag": "a"}))
    await v1.close()

    v3 = ReactorTest(write_app(tmp_path / "v3", V3_STRICTER), data_dir=data)
    with pytest.raises(SchemaError) as refused:
        await v3.engine()
    assert bad in str(refused.value)
    assert "items" in str(refused.value)
    await v3.close()

    # Nothing changed: the old app still opens and sees both documents.
    again = ReactorTest(write_app(tmp_path / "v1b", V1), data_dir=data)
    try:
        assert len(await again.run(lambda ctx: ctx.db.query("items").collect())) == 2
    finally:
        await again.close()


async def test_transaction_limits_name_the_limit(core: ReactorTest) -> None:
    from reactor.engine import TransactionLimits

    engine = await core.engine()
    engine.limits = TransactionLimits(documents_written=10, documents_read=20)

    async def write_many(ctx: Any) -> None:
        for i in range(11):
            await ctx.db.insert("scratch", {"i": i})

    with pytest.raises(LimitExceededError, match="TooManyDocumentsWritten"):
        await core.run(write_many)

    async def write_some(ctx: Any) -> None:
        for i in range(10):
            await ctx.db.insert("scratch", {"i": i})

    await core.run(write_some)
    await core.run(write_some)
    await core.run(write_some)
    with pytest.raises(LimitExceededError, match="TooManyDocumentsRead"):
        await core.run(lambda ctx: ctx.db.query("scratch").collect())


STRICT = """
    from reactor import define_schema, define_table, v
    schema = define_schema({"items": define_table({"n": v.number()})}, strict_tables=True)
"""


async def test_a_strict_schema_refuses_unknown_tables(tmp_path: Path) -> None:
    t = ReactorTest(write_app(tmp_path / "strict", STRICT), data_dir=tmp_path)
    try:
        from reactor.errors import DocumentError

        with pytest.raises(DocumentError, match="not in the schema"):
            await t.run(lambda ctx: ctx.db.insert("other", {"n": 1}))
        assert await t.run(lambda ctx: ctx.db.query("other").collect()) == []
        assert await t.run(lambda ctx: ctx.db.insert("items", {"n": 1}))
    finally:
        await t.close()


async def test_oversized_arguments_are_refused(core: ReactorTest) -> None:
    with pytest.raises(LimitExceededError, match="ArgumentsTooLarge"):
        await core.mutation("messages:send", {"channel": "c", "body": "x" * (17 << 20)})
    assert await core.run(lambda ctx: ctx.db.query("messages").collect()) == []


async def test_index_range_limit(core: ReactorTest) -> None:
    from reactor.engine import TransactionLimits

    engine = await core.engine()
    engine.limits = TransactionLimits(index_ranges=5)
    doc = await core.run(lambda ctx: ctx.db.insert("scratch", {}))

    async def many_gets(ctx: Any) -> None:
        for _ in range(6):
            await ctx.db.get(doc)

    with pytest.raises(LimitExceededError, match="TooManyIndexRanges"):
        await core.run(many_gets)
