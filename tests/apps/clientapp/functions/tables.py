"""One query per table, and a mutation that writes to several tables at once."""

from reactor import mutation, query, v


@query
async def list_a(ctx, args):
    return [row["n"] for row in await ctx.db.query("a").collect()]


@query
async def list_b(ctx, args):
    return [row["n"] for row in await ctx.db.query("b").collect()]


@mutation(args={"tables": v.array(v.string()), "n": v.number()})
async def write(ctx, args):
    for table in args["tables"]:
        await ctx.db.insert(table, {"n": args["n"]})
    return args["n"]
