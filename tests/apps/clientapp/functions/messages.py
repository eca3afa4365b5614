import asyncio

from reactor import ConvexError, action, mutation, query, v


@query(args={"channel": v.string()})
async def list(ctx, args):
    rows = await (
        ctx.db.query("messages")
        .with_index("by_channel", lambda r: r.eq("channel", args["channel"]))
        .collect()
    )
    bodies = [row["body"] for row in rows]
    if "crash" in bodies:
        raise RuntimeError("the list query crashed")
    if "poison" in bodies:
        raise ConvexError({"code": "POISONED", "count": len(bodies)})
    return bodies


@mutation(args={"channel": v.string(), "body": v.string()})
async def send(ctx, args):
    return await ctx.db.insert("messages", args)


@mutation(args={"code": v.string()})
async def fail(ctx, args):
    await ctx.db.insert("messages", {"channel": "never", "body": "rolled back"})
    raise ConvexError({"code": args["code"], "n": 1})


@mutation
async def crash(ctx, args):
    raise RuntimeError("mutation internals")


@action(args={"code": v.string()})
async def fail_action(ctx, args):
    raise ConvexError(args["code"])


@action
async def slow(ctx, args):
    """Stays in flight until its connection drops (the server cancels it then)."""
    await asyncio.sleep(60)
    return "finished"


@query
async def whoami(ctx, args):
    identity = await ctx.auth.get_user_identity()
    return None if identity is None else identity["subject"]
