"""Write skew: each mutation reads one range and writes into the other."""

import asyncio

from reactor import mutation, query, v


@mutation(args={"mine": v.string(), "other": v.string(), "by": v.string()})
async def claim(ctx, args):
    taken = (
        await ctx.db.query("sides")
        .with_index("by_side", lambda r: r.eq("side", args["mine"]))
        .first()
    )
    await asyncio.sleep(0)
    if taken is None:
        await ctx.db.insert("sides", {"side": args["other"], "by": args["by"]})
        return True
    return False


@query
async def all(ctx, args):
    return await ctx.db.query("sides").collect()


@mutation
async def clear(ctx, args):
    for row in await ctx.db.query("sides").collect():
        await ctx.db.delete(row["_id"])
