"""Channels: listed by name; creating one that exists returns the existing one."""

import re

from reactor import ConvexError, mutation, query, v

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


@query(args={})
async def list(ctx, args):
    return await ctx.db.query("channels").with_index("by_name").collect()


@mutation(args={"name": v.string()}, returns=v.id("channels"))
async def create(ctx, args):
    name = args["name"].strip().lower()
    if not NAME.fullmatch(name):
        raise ConvexError(
            {
                "code": "BAD_CHANNEL_NAME",
                "message": "a channel name is 1-32 letters, digits, '-' or '_'",
            }
        )
    existing = (
        await ctx.db.query("channels").with_index("by_name", lambda r: r.eq("name", name)).first()
    )
    if existing is not None:
        return existing["_id"]
    return await ctx.db.insert("channels", {"name": name})
