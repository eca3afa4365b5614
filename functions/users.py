from reactor import ConvexError, mutation, query

from .lib.access import get_auth_user


@mutation
async def store(ctx, args):
    """Create (or refresh) the users row of the signed-in caller; returns its id."""
    identity = await ctx.auth.get_user_identity()
    if identity is None:
        raise ConvexError({"code": "UNAUTHENTICATED", "message": "sign in first"})
    existing = await (
        ctx.db.query("users")
        .with_index("by_token", lambda r: r.eq("tokenIdentifier", identity["tokenIdentifier"]))
        .unique()
    )
    fields = {k: identity[k] for k in ("name", "email") if isinstance(identity.get(k), str)}
    if existing is not None:
        if any(existing.get(k) != v for k, v in fields.items()):
            await ctx.db.patch(existing["_id"], fields)
        return existing["_id"]
    return await ctx.db.insert("users", {"tokenIdentifier": identity["tokenIdentifier"], **fields})


@query
async def me(ctx, args):
    return await get_auth_user(ctx)
