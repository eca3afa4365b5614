"""One query per table, and a mutation that writes any of them at once."""

from reactor import mutation, query, v


async def _list(ctx, table):
    return [row["n"] for row in await ctx.db.query(table).collect()]


@query
async def list_a(ctx, args):
    return await _list(ctx, "a")


@query
async def list_b(ctx, args):
    return await _list(ctx, "b")


@query
async def list_c(ctx, args):
    return await _list(ctx, "c")


@mutation(args={"tables": v.array(v.string()), "n": v.number()})
async def write(ctx, args):
    for table in args["tables"]:
        await ctx.db.insert(table, {"n": args["n"]})
    return args["n"]
