from reactor import mutation, v


@mutation(args={"counter": v.id("counters"), "caller": v.number(), "n": v.number()})
async def record(ctx, args):
    """One read, one write: the small mutation the commit benchmark measures."""
    await ctx.db.get(args["counter"])
    await ctx.db.insert("events", {"author": f"a{args['caller']}", "body": "hello", "n": args["n"]})


@mutation
async def setup(ctx, args):
    return await ctx.db.insert("counters", {"n": 0})
