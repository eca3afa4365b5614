import asyncio

from reactor import mutation, query, v


@mutation(args={"name": v.string()})
async def increment(ctx, args):
    row = (
        await ctx.db.query("counters")
        .with_index("by_name", lambda r: r.eq("name", args["name"]))
        .unique()
    )
    # Yield between the read and the write so concurrent calls interleave.
    await asyncio.sleep(0)
    if row is None:
        await ctx.db.insert("counters", {"name": args["name"], "value": 1})
        return 1
    await ctx.db.patch(row["_id"], {"value": row["value"] + 1})
    return row["value"] + 1


@query(args={"name": v.string()})
async def get(ctx, args):
    row = (
        await ctx.db.query("counters")
        .with_index("by_name", lambda r: r.eq("name", args["name"]))
        .unique()
    )
    return None if row is None else row["value"]
