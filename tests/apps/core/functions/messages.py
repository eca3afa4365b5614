import contextlib

from reactor import ConvexError, internal, mutation, pagination_opts_validator, query, v


@mutation(
    args={"channel": v.string(), "body": v.string(), "author": v.optional(v.string())},
    returns=v.id("messages"),
)
async def send(ctx, args):
    return await ctx.db.insert("messages", {**args, "likes": 0})


@query(args={"channel": v.string()})
async def list(ctx, args):
    return await (
        ctx.db.query("messages")
        .with_index("by_channel", lambda r: r.eq("channel", args["channel"]))
        .collect()
    )


@query(args={"channel": v.string(), "paginationOpts": pagination_opts_validator})
async def page(ctx, args):
    return await (
        ctx.db.query("messages")
        .with_index("by_channel", lambda r: r.eq("channel", args["channel"]))
        .paginate(args["paginationOpts"])
    )


@query(args={"author": v.string(), "paginationOpts": pagination_opts_validator})
async def by_author(ctx, args):
    return await (
        ctx.db.query("messages")
        .filter(lambda f: f.eq(f.field("author"), args["author"]))
        .paginate(args["paginationOpts"])
    )


@mutation(args={"code": v.string()})
async def fail(ctx, args):
    await ctx.db.insert("messages", {"channel": "x", "body": "never", "likes": 0})
    raise ConvexError({"code": args["code"]})


@mutation
async def crash(ctx, args):
    await ctx.db.insert("messages", {"channel": "x", "body": "never", "likes": 0})
    raise RuntimeError("secret internals")


@mutation
async def nested_child_fails(ctx, args):
    """T10: the child's writes roll back, the parent's stay."""
    await ctx.db.insert("messages", {"channel": "n", "body": "A", "likes": 0})
    with contextlib.suppress(ConvexError):
        await ctx.run_mutation(internal.messages.insert_then_fail, {"body": "B"})
    await ctx.db.insert("messages", {"channel": "n", "body": "C", "likes": 0})
    return len(await ctx.db.query("messages").collect())


@mutation
async def nested_parent_fails(ctx, args):
    """T11: a committed child is discarded when the parent raises."""
    await ctx.run_mutation(internal.messages.insert_plain, {"body": "B"})
    raise ConvexError("parent failed")


from reactor import internal_mutation  # noqa: E402


@internal_mutation(args={"body": v.string()})
async def insert_then_fail(ctx, args):
    await ctx.db.insert("messages", {"channel": "n", "body": args["body"], "likes": 0})
    raise ConvexError({"child": True})


@internal_mutation(args={"body": v.string()})
async def insert_plain(ctx, args):
    await ctx.db.insert("messages", {"channel": "n", "body": args["body"], "likes": 0})


@mutation(returns=v.string())
async def wrong_return(ctx, args):
    await ctx.db.insert("messages", {"channel": "r", "body": "x", "likes": 0})
    return 42


@query
async def nothing(ctx, args):
    return None
