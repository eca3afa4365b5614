"""The fan-out and connection benchmarks' app: one document every subscriber watches."""

from reactor import mutation, query, v


@mutation(args={"sent": v.number(), "seq": v.number(), "run": v.number()})
async def tick(ctx, args):
    """Overwrite the one ``ticks`` document with the writer's send time."""
    current = await ctx.db.query("ticks").first()
    if current is None:
        await ctx.db.insert("ticks", dict(args))
    else:
        await ctx.db.patch(current["_id"], dict(args))


@query
async def latest(ctx, args):
    """The ``ticks`` document: changes with every ``tick``."""
    return await ctx.db.query("ticks").first()


@query(args={"slot": v.number()})
async def slot(ctx, args):
    """One of many distinct live queries (one per ``slot``) for the connection benchmark."""
    return {"slot": args["slot"], "tick": await ctx.db.query("ticks").first()}
