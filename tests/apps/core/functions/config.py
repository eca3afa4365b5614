from reactor import action, query, v


@query(args={"name": v.string()})
async def read(ctx, args):
    return await ctx.env.get(args["name"])


@action(args={"name": v.string()})
async def read_in_action(ctx, args):
    return await ctx.env.get(args["name"])
