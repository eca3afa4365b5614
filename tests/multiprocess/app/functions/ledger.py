"""Transfers between the two rows of a pair: each commit writes both rows and an op
record, so a half-applied commit, a lost update or a duplicate shows in the data."""

from reactor import mutation, query, v


async def _side(ctx, pair, side):
    rows = ctx.db.query("accounts").with_index(
        "by_pair", lambda r: r.eq("pair", pair).eq("side", side)
    )
    return await rows.unique()


@mutation(args={"pairs": v.number()})
async def setup(ctx, args):
    for pair in range(int(args["pairs"])):
        for side in ("L", "R"):
            if await _side(ctx, pair, side) is None:
                doc = {"pair": pair, "side": side, "balance": 0, "version": 0}
                await ctx.db.insert("accounts", doc)


@mutation(args={"pair": v.number(), "amount": v.number(), "token": v.string()})
async def transfer(ctx, args):
    left = await _side(ctx, args["pair"], "L")
    right = await _side(ctx, args["pair"], "R")
    version = left["version"] + 1
    new_left, new_right = left["balance"] - args["amount"], right["balance"] + args["amount"]
    await ctx.db.patch(left["_id"], {"balance": new_left, "version": version})
    await ctx.db.patch(right["_id"], {"balance": new_right, "version": version})
    await ctx.db.insert(
        "ops",
        {
            "token": args["token"],
            "pair": args["pair"],
            "amount": args["amount"],
            "version": version,
            "left": new_left,
            "right": new_right,
        },
    )
    return version


@query
async def state(ctx, args):
    """What every subscriber watches: the pairs and how many transfers were applied."""
    accounts = await ctx.db.query("accounts").with_index("by_pair").collect()
    ops = await ctx.db.query("ops").collect()
    return {
        "accounts": [[a["pair"], a["side"], a["balance"], a["version"]] for a in accounts],
        "ops": len(ops),
    }


@query
async def ops(ctx, args):
    rows = await ctx.db.query("ops").collect()
    return [[r["token"], r["pair"], r["amount"], r["version"], r["left"], r["right"]] for r in rows]
