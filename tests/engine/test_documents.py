"""ctx.db writes: insert, patch, replace, delete, read-your-writes, rollback."""

from __future__ import annotations

from typing import Any

import pytest

from reactor import UNSET, ConvexError
from reactor.errors import (
    ArgumentValidationError,
    DocumentError,
    FunctionNotFoundError,
    InvalidQueryError,
    InvalidValueError,
    ReturnsValidationError,
    ValidationError,
)
from reactor.testing import ReactorTest
from reactor.values import MAX_DOCUMENT_SIZE, value_size

pytestmark = pytest.mark.anyio


async def count(t: ReactorTest, table: str) -> int:
    return len(await t.run(lambda ctx: ctx.db.query(table).collect()))


async def test_insert_returns_an_id_that_names_its_table(core: ReactorTest) -> None:
    msg_id = await core.mutation("messages:send", {"channel": "c", "body": "hi"})
    doc = await core.run(lambda ctx: ctx.db.get(msg_id))
    assert doc["body"] == "hi" and doc["likes"] == 0.0
    assert doc["_id"] == msg_id and isinstance(doc["_creationTime"], float)
    assert await core.run(lambda ctx: ctx.db.normalize_id("messages", msg_id)) == msg_id
    assert await core.run(lambda ctx: ctx.db.normalize_id("users", msg_id)) is None
    assert await core.run(lambda ctx: ctx.db.normalize_id("users", "garbage")) is None


async def test_read_your_own_writes_in_one_mutation(core: ReactorTest) -> None:
    """T14: queries see pending inserts and deletes, in index order."""

    async def body(ctx: Any) -> list[Any]:
        x = await ctx.db.insert("messages", {"channel": "c", "body": "x", "likes": 1})
        first = [d["body"] for d in await ctx.db.query("messages").collect()]
        await ctx.db.delete(x)
        gone = await ctx.db.get(x)
        second = [d["body"] for d in await ctx.db.query("messages").collect()]
        return [first, gone, second]

    await core.mutation("messages:send", {"channel": "c", "body": "old"})
    first, gone, second = await core.run(body)
    assert first == ["old", "x"]
    assert gone is None
    assert second == ["old"]


async def test_pending_updates_move_in_the_index(core: ReactorTest) -> None:
    async def body(ctx: Any) -> list[str]:
        a = await ctx.db.insert("ab", {"a": 1, "b": 5})
        await ctx.db.insert("ab", {"a": 1, "b": 3})
        await ctx.db.patch(a, {"b": 1})
        rows = await ctx.db.query("ab").with_index("by_a_b", lambda r: r.eq("a", 1)).collect()
        return [row["b"] for row in rows]

    assert await core.run(body) == [1.0, 3.0]


async def test_patch_replace_and_unset(core: ReactorTest) -> None:
    """T15."""
    doc_id = await core.run(lambda ctx: ctx.db.insert("scratch", {"a": 1, "b": 2, "c": [1]}))
    await core.run(lambda ctx: ctx.db.patch(doc_id, {"b": UNSET}))
    doc = await core.run(lambda ctx: ctx.db.get(doc_id))
    assert {k: v for k, v in doc.items() if not k.startswith("_")} == {"a": 1.0, "c": [1.0]}
    await core.run(lambda ctx: ctx.db.patch(doc_id, {}))
    assert await core.run(lambda ctx: ctx.db.get(doc_id)) == doc
    other = await core.run(lambda ctx: ctx.db.insert("scratch", {}))
    with pytest.raises(DocumentError, match="_id"):
        await core.run(lambda ctx: ctx.db.patch(doc_id, {"_id": other}))
    await core.run(lambda ctx: ctx.db.replace(doc_id, {"a": 5}))
    replaced = await core.run(lambda ctx: ctx.db.get(doc_id))
    assert replaced == {"a": 5.0, "_id": doc_id, "_creationTime": doc["_creationTime"]}


async def test_writes_on_a_deleted_document_fail(core: ReactorTest) -> None:
    """T16."""
    doc_id = await core.run(lambda ctx: ctx.db.insert("scratch", {"a": 1}))
    await core.run(lambda ctx: ctx.db.delete(doc_id))
    for op, call in [
        ("Update", lambda ctx: ctx.db.patch(doc_id, {"a": 2})),
        ("Replace", lambda ctx: ctx.db.replace(doc_id, {"a": 2})),
        ("Delete", lambda ctx: ctx.db.delete(doc_id)),
    ]:
        with pytest.raises(DocumentError, match=f"{op} on nonexistent document ID"):
            await core.run(call)
    assert await core.run(lambda ctx: ctx.db.get(doc_id)) is None


async def test_convex_error_rolls_back_and_keeps_its_data(core: ReactorTest) -> None:
    with pytest.raises(ConvexError) as caught:
        await core.mutation("messages:fail", {"code": "BAD"})
    assert caught.value.data == {"code": "BAD"}
    assert await count(core, "messages") == 0


async def test_any_exception_rolls_back(core: ReactorTest) -> None:
    with pytest.raises(RuntimeError):
        await core.mutation("messages:crash")
    assert await count(core, "messages") == 0


async def test_failed_nested_mutation_rolls_back_only_its_writes(core: ReactorTest) -> None:
    """T10."""
    assert await core.mutation("messages:nested_child_fails") == 2
    bodies = sorted(d["body"] for d in await core.run(lambda c: c.db.query("messages").collect()))
    assert bodies == ["A", "C"]


async def test_parent_failure_discards_nested_writes(core: ReactorTest) -> None:
    """T11."""
    with pytest.raises(ConvexError):
        await core.mutation("messages:nested_parent_fails")
    assert await count(core, "messages") == 0


async def test_returns_validation_failure_rolls_back(core: ReactorTest) -> None:
    """T19."""
    with pytest.raises(ReturnsValidationError):
        await core.mutation("messages:wrong_return")
    assert await count(core, "messages") == 0


async def test_handler_returning_nothing_gives_none(core: ReactorTest) -> None:
    """T20."""
    assert await core.query("messages:nothing") is None


async def test_schema_validation_on_every_write(core: ReactorTest) -> None:
    """T21: declared tables are validated; undeclared ones are not."""
    with pytest.raises(ValidationError, match="extra"):
        await core.run(lambda ctx: ctx.db.insert("users", {"name": "x", "extra": 1}))
    user = await core.run(lambda ctx: ctx.db.insert("users", {"name": "x"}))
    with pytest.raises(ValidationError):
        await core.run(lambda ctx: ctx.db.patch(user, {"name": 3}))
    assert await core.run(lambda ctx: ctx.db.insert("scratch", {"any": [1, "x"]}))
    assert await count(core, "users") == 1


async def test_bad_input_is_refused_and_changes_nothing(core: ReactorTest) -> None:
    user = await core.run(lambda ctx: ctx.db.insert("users", {"name": "u"}))
    message = await core.mutation("messages:send", {"channel": "c", "body": "b"})
    cases: list[tuple[type[Exception], str, Any]] = [
        (FunctionNotFoundError, "nope:nothing", {}),
        (ArgumentValidationError, "messages:send", {"channel": "c"}),
        (ArgumentValidationError, "messages:send", {"channel": "c", "body": "b", "x": 1}),
        (ArgumentValidationError, "messages:send", {"channel": 3, "body": "b"}),
        (ArgumentValidationError, "messages:send", {"channel": "c", "body": "b", "author": None}),
        (ArgumentValidationError, "messages:send", ["not", "an", "object"]),
    ]
    for error, path, args in cases:
        with pytest.raises(error):
            await core.mutation(path, args)
    bad_docs: list[tuple[type[Exception], str, Any]] = [
        (ValidationError, "notes", {"user": message, "text": "id of another table"}),
        (ValidationError, "notes", {"user": "not-an-id", "text": "malformed id"}),
        (InvalidValueError, "scratch", {"_x": 1}),
        (InvalidValueError, "scratch", {"$x": 1}),
        (InvalidValueError, "scratch", {"big": "x" * (1 << 20)}),
        (InvalidValueError, "scratch", {"when": object()}),
        (InvalidValueError, "scratch", {"n": 2**60}),
        (InvalidQueryError, "_storage", {"a": 1}),
    ]
    for error, table, doc in bad_docs:
        with pytest.raises(error):
            await core.run(lambda ctx, table=table, doc=doc: ctx.db.insert(table, doc))
    assert await core.run(lambda ctx: ctx.db.insert("notes", {"user": user, "text": "ok"}))
    assert await count(core, "messages") == 1
    assert await count(core, "notes") == 1
    assert await count(core, "scratch") == 0


async def test_the_size_limit_counts_the_system_fields(core: ReactorTest) -> None:
    """A document of exactly 1 MiB, ``_id`` and ``_creationTime`` included, is stored;
    one byte more is refused, whether the text is ASCII or not."""
    probe = await core.run(lambda ctx: ctx.db.insert("scratch", {"t": ""}))
    overhead = value_size(await core.run(lambda ctx: ctx.db.get(probe)))
    for unit in ("x", "\u00e9"):  # 1 and 2 bytes in UTF-8
        room = MAX_DOCUMENT_SIZE - overhead
        fits = unit * (room // len(unit.encode())) + "x" * (room % len(unit.encode()))
        doc_id = await core.run(lambda ctx, fits=fits: ctx.db.insert("scratch", {"t": fits}))
        assert value_size(await core.run(lambda ctx, d=doc_id: ctx.db.get(d))) == MAX_DOCUMENT_SIZE
        with pytest.raises(InvalidValueError, match=r"document is too large: 1048577 bytes"):
            await core.run(lambda ctx, fits=fits: ctx.db.insert("scratch", {"t": fits + "x"}))


async def test_ids_of_other_tables_are_refused_by_get(core: ReactorTest) -> None:
    """T34."""
    message = await core.mutation("messages:send", {"channel": "c", "body": "b"})
    with pytest.raises(DocumentError):
        await core.run(lambda ctx: ctx.db.get("users", message))
    with pytest.raises(DocumentError):
        await core.run(lambda ctx: ctx.db.get("garbage"))
    with pytest.raises(InvalidQueryError):
        await core.run(lambda ctx: ctx.db.normalize_id("_storage", message))


async def test_now_is_frozen_and_random_is_seeded_per_run(core: ReactorTest) -> None:
    """T35."""

    async def body(ctx: Any) -> tuple[float, float, float, float]:
        return ctx.now, ctx.now, ctx.random.random(), ctx.random.random()

    now1, now2, r1, r2 = await core.run(body)
    assert now1 == now2
    assert r1 != r2
