import logging

from reactor import (
    ConvexError,
    action,
    internal_query,
    mutation,
    pagination_opts_validator,
    query,
    v,
)


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


@mutation(
    args={"channel": v.string(), "body": v.string(), "author": v.optional(v.string())},
    returns=v.id("messages"),
)
async def send(ctx, args):
    return await ctx.db.insert("messages", args)


@mutation(args={"code": v.optional(v.string())})
async def fail(ctx, args):
    await ctx.db.insert("messages", {"channel": "never", "body": "rolled back"})
    raise ConvexError({"code": args.get("code", "BAD")})


@mutation
async def crash(ctx, args):
    raise RuntimeError("secret internals")


@query
async def broken(ctx, args):
    raise RuntimeError("secret query internals")


@query
async def chatty(ctx, args):
    print("hello from a query")
    logging.getLogger("app").warning("careful")
    return "ok"


@action
async def echo(ctx, args):
    return args


@action(args={"code": v.string()})
async def fail_action(ctx, args):
    raise ConvexError({"code": args["code"]})


@internal_query
async def secret(ctx, args):
    return "internal"


@query
async def whoami(ctx, args):
    return await ctx.auth.get_user_identity()


@query(args={"channel": v.string(), "paginationOpts": pagination_opts_validator})
async def page_desc(ctx, args):
    return await (
        ctx.db.query("messages")
        .with_index("by_channel", lambda r: r.eq("channel", args["channel"]))
        .order("desc")
        .paginate(args["paginationOpts"])
    )


@query
async def greeting(ctx, args):
    """Reads the identity only once the "auth" channel has a message."""
    gate = (
        await ctx.db.query("messages")
        .with_index("by_channel", lambda r: r.eq("channel", "auth"))
        .first()
    )
    if gate is None:
        return "hello"
    identity = await ctx.auth.get_user_identity()
    return f"hello {identity['subject'] if identity else 'stranger'}"
