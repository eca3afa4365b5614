"""Contacts of a workspace: every function checks access and scopes by workspace."""

from reactor import UNSET, ConvexError, mutation, pagination_opts_validator, query, v

from .lib.access import require_workspace_access
from .lib.pagination import safe_paginate


@query(args={"workspaceId": v.id("workspaces"), "paginationOpts": pagination_opts_validator})
async def list(ctx, args):
    """Live contacts of the workspace, newest first."""
    await require_workspace_access(ctx, args["workspaceId"])
    return await safe_paginate(
        lambda: (
            ctx.db.query("contacts")
            .with_index(
                "by_workspace_deleted",
                lambda r: r.eq("workspaceId", args["workspaceId"]).eq("deletedAt", UNSET),
            )
            .order("desc")
        ),
        args["paginationOpts"],
    )


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "name": v.string(),
        "email": v.optional(v.string()),
        "phone": v.optional(v.string()),
    },
    returns=v.id("contacts"),
)
async def create(ctx, args):
    member = await require_workspace_access(ctx, args["workspaceId"])
    return await ctx.db.insert(
        "contacts",
        {**args, "createdAt": ctx.now, "createdBy": member["user"]["_id"]},
    )


async def _owned_contact(ctx, workspace_id: str, contact_id: str) -> dict:
    await require_workspace_access(ctx, workspace_id)
    contact = await ctx.db.get(contact_id)
    if contact is None or contact["workspaceId"] != workspace_id or "deletedAt" in contact:
        raise ConvexError({"code": "NOT_FOUND", "message": "no such contact"})
    return contact


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "contactId": v.id("contacts"),
        "name": v.optional(v.string()),
        "email": v.optional(v.string()),
        "phone": v.optional(v.string()),
    }
)
async def update(ctx, args):
    await _owned_contact(ctx, args["workspaceId"], args["contactId"])
    fields = {k: args[k] for k in ("name", "email", "phone") if k in args}
    await ctx.db.patch(args["contactId"], {**fields, "updatedAt": ctx.now})


@mutation(args={"workspaceId": v.id("workspaces"), "contactId": v.id("contacts")})
async def remove(ctx, args):
    """Soft delete: the row stays, lists stop showing it."""
    await _owned_contact(ctx, args["workspaceId"], args["contactId"])
    await ctx.db.patch(args["contactId"], {"deletedAt": ctx.now})
