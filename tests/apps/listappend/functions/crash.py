"""The crash test's mutation: two rows, one per table, both carrying ``token``.

A mutation is atomic, so after any crash either both rows exist or neither.
"""

from reactor import mutation, query, v


@mutation(args={"token": v.string(), "writer": v.string()})
async def write(ctx, args):
    row = {"token": args["token"], "writer": args["writer"]}
    await ctx.db.insert("crash_a", row)
    await ctx.db.insert("crash_b", row)
    return args["token"]


@query(args={"table": v.string(), "cursor": v.union(v.string(), v.null())})
async def page(ctx, args):
    """One page of the table's tokens, for the check after the crashes."""
    if args["table"] not in ("crash_a", "crash_b"):
        raise ValueError("crash_a or crash_b")
    result = await ctx.db.query(args["table"]).paginate(
        {"numItems": 1000, "cursor": args["cursor"]}
    )
    return {
        "tokens": [row["token"] for row in result["page"]],
        "continueCursor": result["continueCursor"],
        "isDone": result["isDone"],
    }
