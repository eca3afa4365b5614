from reactor import pagination_opts_validator, query


@query(args={"paginationOpts": pagination_opts_validator})
async def ab_page(ctx, args):
    return (
        await ctx.db.query("ab")
        .with_index("by_a_b", lambda r: r.eq("a", 1))
        .paginate(args["paginationOpts"])
    )


@query
async def twice(ctx, args):
    await ctx.db.query("ab").paginate({"numItems": 1, "cursor": None})
    return await ctx.db.query("ab").paginate({"numItems": 1, "cursor": None})
