from __future__ import annotations

import pytest

from raw_client import RawClient

pytestmark = pytest.mark.anyio


async def test_subscribe_and_mutate(url: str) -> None:
    async with RawClient.open(url) as c:
        await c.subscribe(0, "messages:list", {"channel": "general"})
        await c.transition()
        assert c.results[0] == []
        response, _ = await c.mutation("messages:send", {"channel": "general", "body": "hi"})
        assert response["success"] is True
        assert [m["body"] for m in c.results[0]] == ["hi"]
