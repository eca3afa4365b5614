"""Counters by name. Every function here has a twin in ``sim_model``: change both."""

import asyncio

from reactor import mutation, query, v


async def _find(ctx, name):
    by_name = ctx.db.query("counters").with_index("by_name", lambda r: r.eq("name", name))
    return await by_name.unique()


@mutation(args={"name": v.string(), "pause": v.number()})
async def increment(ctx, args):
    row = await _find(ctx, args["name"])
    if args["pause"]:
        await asyncio.sleep(args["pause"])
    if row is None:
        await ctx.db.insert("counters", {"name": args["name"], "value": 1})
        return 1
    await ctx.db.patch(row["_id"], {"value": row["value"] + 1})
    return row["value"] + 1


@query(args={"name": v.string()})
async def get(ctx, args):
    row = await _find(ctx, args["name"])
    return None if row is None else row["value"]


@query
async def total(ctx, args):
    rows = await ctx.db.query("counters").with_index("by_name").collect()
    return sum(row["value"] for row in rows)


@query(args={"pause": v.number()})
async def slow_total(ctx, args):
    await asyncio.sleep(args["pause"])
    rows = await ctx.db.query("counters").with_index("by_name").collect()
    return sum(row["value"] for row in rows)
