"""The functions ../shared/conformance/README.md asks the server under test for."""

from reactor import ConvexError, action, mutation, query, v


@query(args={"channel": v.string()})
async def list(ctx, args):
    return await (
        ctx.db.query("messages")
        .filter(lambda f: f.eq(f.field("channel"), args["channel"]))
        .collect()
    )


@mutation(args={"channel": v.string(), "body": v.string(), "author": v.string()})
async def send(ctx, args):
    return await ctx.db.insert("messages", args)


@mutation(args={})
async def fail(ctx, args):
    raise ConvexError({"code": "BAD"})


@action
async def echo(ctx, args):
    return args
