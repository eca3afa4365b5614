from reactor import ConvexError, mutation, query, v

from .lib.access import get_auth_user, require_admin_access, require_workspace_access


@mutation(args={"name": v.string()}, returns=v.id("workspaces"))
async def create(ctx, args):
    user = await get_auth_user(ctx)
    name = args["name"].strip()
    if not name:
        raise ConvexError({"code": "INVALID", "message": "a workspace needs a name"})
    workspace_id = await ctx.db.insert(
        "workspaces", {"name": name, "createdBy": user["_id"], "createdAt": ctx.now}
    )
    await ctx.db.insert(
        "workspaceMembers", {"workspaceId": workspace_id, "userId": user["_id"], "role": "owner"}
    )
    return workspace_id


@query
async def list_mine(ctx, args):
    user = await get_auth_user(ctx)
    memberships = await (
        ctx.db.query("workspaceMembers")
        .with_index("by_user", lambda r: r.eq("userId", user["_id"]))
        .collect()
    )
    result = []
    for membership in memberships:
        workspace = await ctx.db.get(membership["workspaceId"])
        if workspace is not None:
            result.append({**workspace, "role": membership["role"]})
    return result


@query(args={"workspaceId": v.id("workspaces")})
async def get(ctx, args):
    await require_workspace_access(ctx, args["workspaceId"])
    return await ctx.db.get(args["workspaceId"])


@mutation(
    args={
        "workspaceId": v.id("workspaces"),
        "userId": v.id("users"),
        "role": v.union(v.literal("admin"), v.literal("member")),
    }
)
async def add_member(ctx, args):
    await require_admin_access(ctx, args["workspaceId"])
    if await ctx.db.get(args["userId"]) is None:
        raise ConvexError({"code": "NOT_FOUND", "message": "no such user"})
    existing = await (
        ctx.db.query("workspaceMembers")
        .with_index(
            "by_workspace_user",
            lambda r: r.eq("workspaceId", args["workspaceId"]).eq("userId", args["userId"]),
        )
        .unique()
    )
    if existing is not None:
        await ctx.db.patch(existing["_id"], {"role": args["role"]})
        return existing["_id"]
    return await ctx.db.insert("workspaceMembers", dict(args))
