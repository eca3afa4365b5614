"""A user of workspace A can neither read nor change workspace B, through any function.

The test walks every public function of the app: a function that takes a
workspace must be listed in ``FOREIGN_CALLS`` with a call that aims at
workspace B, so a new function cannot slip through untested.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reactor import ConvexError
from reactor.functions import load_app
from reactor.testing import ReactorTest

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]

Ids = dict[str, str]
page = {"numItems": 50, "cursor": None}

# Calls by a member of workspace A (ids["a_*"]) that aim at workspace B (ids["b_*"]).
FOREIGN_CALLS: dict[str, list[Callable[[Ids], dict[str, Any]]]] = {
    "contacts:list": [lambda ids: {"workspaceId": ids["b_ws"], "paginationOpts": page}],
    "contacts:create": [lambda ids: {"workspaceId": ids["b_ws"], "name": "intruder"}],
    "contacts:update": [
        lambda ids: {"workspaceId": ids["b_ws"], "contactId": ids["b_contact"], "name": "x"},
        # Own workspace, foreign contact:
        lambda ids: {"workspaceId": ids["a_ws"], "contactId": ids["b_contact"], "name": "x"},
    ],
    "contacts:remove": [
        lambda ids: {"workspaceId": ids["b_ws"], "contactId": ids["b_contact"]},
        lambda ids: {"workspaceId": ids["a_ws"], "contactId": ids["b_contact"]},
    ],
    "workspaces:get": [lambda ids: {"workspaceId": ids["b_ws"]}],
    "workspaces:add_member": [
        lambda ids: {"workspaceId": ids["b_ws"], "userId": ids["a_user"], "role": "admin"}
    ],
}
# Functions that take no workspace: they only ever see the caller's own data.
UNSCOPED = {"users:store", "users:me", "workspaces:create", "workspaces:list_mine"}


async def test_every_public_function_is_covered() -> None:
    public = {path for path, fn in load_app(ROOT).functions.items() if fn.visibility == "public"}
    assert public == set(FOREIGN_CALLS) | UNSCOPED


async def test_foreign_workspace_is_out_of_reach(app: ReactorTest) -> None:
    alice = app.with_identity({"subject": "alice"})
    mallory = app.with_identity({"subject": "mallory"})
    ids: Ids = {"a_user": await mallory.mutation("users:store")}
    await alice.mutation("users:store")
    ids["b_ws"] = await alice.mutation("workspaces:create", {"name": "B"})
    ids["b_contact"] = await alice.mutation(
        "contacts:create", {"workspaceId": ids["b_ws"], "name": "secret", "email": "s@b.io"}
    )
    ids["a_ws"] = await mallory.mutation("workspaces:create", {"name": "A"})

    async def snapshot() -> list[Any]:
        async def everything(ctx: Any) -> list[Any]:
            rows = []
            for table in ("workspaces", "workspaceMembers", "contacts"):
                rows.extend(await ctx.db.query(table).collect())
            return rows

        return list(await app.run(everything))

    before = await snapshot()
    kinds = {path: fn.kind for path, fn in load_app(ROOT).functions.items()}
    for path, calls in FOREIGN_CALLS.items():
        call = mallory.query if kinds[path] == "query" else mallory.mutation
        for make_args in calls:
            with pytest.raises(ConvexError) as refused:
                await call(path, make_args(ids))
            assert refused.value.data["code"] in ("FORBIDDEN", "NOT_FOUND"), path
            assert "secret" not in str(refused.value.data)
    assert await snapshot() == before
