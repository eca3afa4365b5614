"""The chat example's functions, run in-process (no server, no browser)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reactor import ConvexError
from reactor.testing import ReactorTest

pytestmark = pytest.mark.anyio

CHAT = Path(__file__).resolve().parents[2] / "examples" / "chat"


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[ReactorTest]:
    t = ReactorTest(CHAT, data_dir=tmp_path)
    try:
        yield t
    finally:
        await t.close()


async def test_channels_are_created_once_and_listed_by_name(chat: ReactorTest) -> None:
    general = await chat.mutation("channels:create", {"name": "general"})
    await chat.mutation("channels:create", {"name": "Random "})
    assert await chat.mutation("channels:create", {"name": "GENERAL"}) == general
    assert [c["name"] for c in await chat.query("channels:list")] == ["general", "random"]
    with pytest.raises(ConvexError) as error:
        await chat.mutation("channels:create", {"name": "no spaces"})
    assert error.value.data["code"] == "BAD_CHANNEL_NAME"


async def test_messages_list_the_last_100_of_a_channel_newest_last(chat: ReactorTest) -> None:
    general = await chat.mutation("channels:create", {"name": "general"})
    other = await chat.mutation("channels:create", {"name": "other"})
    for n in range(105):
        await chat.mutation("messages:send", {"channel": general, "author": "ann", "body": f"{n}"})
    await chat.mutation("messages:send", {"channel": other, "author": "bob", "body": "elsewhere"})
    bodies = [m["body"] for m in await chat.query("messages:list", {"channel": general})]
    assert bodies == [str(n) for n in range(5, 105)]


@pytest.mark.parametrize(
    ("author", "body", "code"),
    [
        ("ann", "   ", "EMPTY_MESSAGE"),
        ("", "hi", "BAD_AUTHOR"),
        ("ann", "x" * 2001, "MESSAGE_TOO_LONG"),
    ],
)
async def test_send_validates(chat: ReactorTest, author: str, body: str, code: str) -> None:
    general = await chat.mutation("channels:create", {"name": "general"})
    with pytest.raises(ConvexError) as error:
        await chat.mutation("messages:send", {"channel": general, "author": author, "body": body})
    assert error.value.data["code"] == code
    assert await chat.query("messages:list", {"channel": general}) == []


async def test_send_refuses_ids_of_other_tables(chat: ReactorTest) -> None:
    general = await chat.mutation("channels:create", {"name": "general"})
    message = await chat.mutation(
        "messages:send", {"channel": general, "author": "ann", "body": "hi"}
    )
    with pytest.raises(Exception, match="channels"):
        await chat.mutation("messages:send", {"channel": message, "author": "a", "body": "b"})


async def test_typing_expires_unless_refreshed_and_clears_on_send(chat: ReactorTest) -> None:
    general = await chat.mutation("channels:create", {"name": "general"})

    async def typing() -> list[str]:
        return [row["user"] for row in await chat.query("presence:typing", {"channel": general})]

    await chat.mutation("presence:heartbeat", {"channel": general, "user": "bob"})
    await chat.mutation("presence:heartbeat", {"channel": general, "user": "ann"})
    assert sorted(await typing()) == ["ann", "bob"]
    await chat.mutation("presence:heartbeat", {"channel": general, "user": "bob"})  # refresh
    await chat.mutation("messages:send", {"channel": general, "author": "ann", "body": "hi"})
    assert await typing() == ["bob"]  # sending clears the sender at once
    # bob's first expiry job finds a newer heartbeat and keeps the row; the second deletes it.
    assert await chat.finish_all_scheduled_functions() == 3
    assert await typing() == []
    with pytest.raises(ConvexError) as error:
        await chat.mutation("presence:heartbeat", {"channel": general, "user": "  "})
    assert error.value.data["code"] == "BAD_AUTHOR"
