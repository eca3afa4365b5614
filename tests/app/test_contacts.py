"""The repository's own app: users, workspaces, contacts."""

from __future__ import annotations

import pytest

from reactor import ConvexError
from reactor.testing import ReactorTest

pytestmark = pytest.mark.anyio


async def signed_in(app: ReactorTest, subject: str) -> ReactorTest:
    user = app.with_identity({"subject": subject, "name": subject.title()})
    await user.mutation("users:store")
    return user


async def test_a_user_creates_a_workspace_and_lists_contacts_newest_first(
    app: ReactorTest,
) -> None:
    alice = await signed_in(app, "alice")
    ws = await alice.mutation("workspaces:create", {"name": "Acme"})
    for name in ("first", "second", "third"):
        await alice.mutation("contacts:create", {"workspaceId": ws, "name": name})
    page = await alice.query(
        "contacts:list", {"workspaceId": ws, "paginationOpts": {"numItems": 2, "cursor": None}}
    )
    assert [c["name"] for c in page["page"]] == ["third", "second"]
    rest = await alice.query(
        "contacts:list",
        {"workspaceId": ws, "paginationOpts": {"numItems": 2, "cursor": page["continueCursor"]}},
    )
    assert [c["name"] for c in rest["page"]] == ["first"]
    assert [w["name"] for w in await alice.query("workspaces:list_mine")] == ["Acme"]


async def test_update_and_soft_delete(app: ReactorTest) -> None:
    alice = await signed_in(app, "alice")
    ws = await alice.mutation("workspaces:create", {"name": "Acme"})
    contact = await alice.mutation("contacts:create", {"workspaceId": ws, "name": "Bob"})
    await alice.mutation(
        "contacts:update", {"workspaceId": ws, "contactId": contact, "email": "bob@x.io"}
    )
    listed = await alice.query(
        "contacts:list", {"workspaceId": ws, "paginationOpts": {"numItems": 10, "cursor": None}}
    )
    assert listed["page"][0]["email"] == "bob@x.io"
    await alice.mutation("contacts:remove", {"workspaceId": ws, "contactId": contact})
    listed = await alice.query(
        "contacts:list", {"workspaceId": ws, "paginationOpts": {"numItems": 10, "cursor": None}}
    )
    assert listed["page"] == []
    row = await app.run(lambda ctx: ctx.db.get(contact))
    assert row is not None and "deletedAt" in row  # soft: the row is kept


async def test_a_cursor_from_another_workspace_gives_the_first_page(app: ReactorTest) -> None:
    alice = await signed_in(app, "alice")
    one = await alice.mutation("workspaces:create", {"name": "One"})
    two = await alice.mutation("workspaces:create", {"name": "Two"})
    for i in range(3):
        await alice.mutation("contacts:create", {"workspaceId": one, "name": f"one-{i}"})
        await alice.mutation("contacts:create", {"workspaceId": two, "name": f"two-{i}"})
    page = await alice.query(
        "contacts:list", {"workspaceId": one, "paginationOpts": {"numItems": 1, "cursor": None}}
    )
    switched = await alice.query(
        "contacts:list",
        {"workspaceId": two, "paginationOpts": {"numItems": 5, "cursor": page["continueCursor"]}},
    )
    assert [c["name"] for c in switched["page"]] == ["two-2", "two-1", "two-0"]


async def test_signed_out_callers_are_refused(app: ReactorTest) -> None:
    with pytest.raises(ConvexError) as refused:
        await app.mutation("workspaces:create", {"name": "x"})
    assert refused.value.data["code"] == "UNAUTHENTICATED"


async def test_only_admins_add_members(app: ReactorTest) -> None:
    alice = await signed_in(app, "alice")
    bob = await signed_in(app, "bob")
    carol = await signed_in(app, "carol")
    ws = await alice.mutation("workspaces:create", {"name": "Acme"})
    bob_id = (await bob.query("users:me"))["_id"]
    carol_id = (await carol.query("users:me"))["_id"]
    await alice.mutation(
        "workspaces:add_member", {"workspaceId": ws, "userId": bob_id, "role": "member"}
    )
    with pytest.raises(ConvexError) as refused:
        await bob.mutation(
            "workspaces:add_member", {"workspaceId": ws, "userId": carol_id, "role": "member"}
        )
    assert refused.value.data["code"] == "FORBIDDEN"
    assert [w["role"] for w in await bob.query("workspaces:list_mine")] == ["member"]
