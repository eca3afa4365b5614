"""Actions: each runs one mutation in a transaction of its own (at most once)."""

import asyncio

from reactor import action, v


@action(args={"channel": v.string(), "tag": v.string(), "pause": v.number()})
async def send(ctx, args):
    if args["pause"]:
        await asyncio.sleep(args["pause"])
    return await ctx.run_mutation(
        "messages:send",
        {"channel": args["channel"], "tag": args["tag"], "body": "via action", "pause": 0.0},
    )


@action(args={"name": v.string()})
async def increment(ctx, args):
    return await ctx.run_mutation("counters:increment", {"name": args["name"], "pause": 0.0})
