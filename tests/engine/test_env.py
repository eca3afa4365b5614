"""Deployment environment variables, read through ctx.env."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from reactor.errors import ReactorError
from reactor.testing import ReactorTest

pytestmark = pytest.mark.anyio


async def test_set_get_list_remove(core: ReactorTest) -> None:
    engine = await core.engine()
    assert await core.query("config:read", {"name": "WEBHOOK_SECRET"}) is None
    await engine.set_env("WEBHOOK_SECRET", "s3cr3t")
    assert await core.query("config:read", {"name": "WEBHOOK_SECRET"}) == "s3cr3t"
    assert await core.action("config:read_in_action", {"name": "WEBHOOK_SECRET"}) == "s3cr3t"
    await engine.set_env("WEBHOOK_SECRET", "rotated")
    assert await engine.list_env() == {"WEBHOOK_SECRET": "rotated"}
    await engine.set_env("WEBHOOK_SECRET", None)
    assert await engine.list_env() == {}


async def test_a_query_that_read_a_variable_depends_on_it(core: ReactorTest) -> None:
    engine = await core.engine()
    result = await engine.run_query("config:read", {"name": "API_KEY"})
    read_set = result.read_set
    assert read_set is not None
    notices: list[Any] = []
    engine.committer.add_listener(notices.extend)
    await engine.set_env("OTHER", "x")
    assert all(read_set.conflicts_with(n.written) is None for n in notices)
    await engine.set_env("API_KEY", "k")
    # The commit that set this variable wrote a key inside the query's read set.
    # (With a shared store its notice comes through the commit feed, a little later.)
    with anyio.fail_after(10):
        while not any(read_set.conflicts_with(n.written) is not None for n in notices):  # noqa: ASYNC110
            await anyio.sleep(0.01)


@pytest.mark.parametrize("name", ["", "1ABC", "has-dash", "x" * 41])
async def test_bad_names_are_refused(core: ReactorTest, name: str) -> None:
    engine = await core.engine()
    with pytest.raises(ReactorError, match="invalid environment variable name"):
        await engine.set_env(name, "v")


async def test_oversized_values_are_refused(core: ReactorTest) -> None:
    engine = await core.engine()
    with pytest.raises(ReactorError, match="at most 8192 bytes"):
        await engine.set_env("BIG", "x" * 9000)
    assert await engine.list_env() == {}
