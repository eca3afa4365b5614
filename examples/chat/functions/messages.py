"""Messages of a channel: the last 100, oldest first, read through the by_channel index."""

from reactor import ConvexError, mutation, query, v

from .presence import clear_typing

LIMIT = 100
MAX_BODY = 2000
MAX_AUTHOR = 32


@query(args={"channel": v.id("channels")})
async def list(ctx, args):
    newest_first = await (
        ctx.db.query("messages")
        .with_index("by_channel", lambda r: r.eq("channel", args["channel"]))
        .order("desc")
        .take(LIMIT)
    )
    return newest_first[::-1]  # newest last


@mutation(
    args={"channel": v.id("channels"), "author": v.string(), "body": v.string()},
    returns=v.id("messages"),
)
async def send(ctx, args):
    author = args["author"].strip()
    body = args["body"].strip()
    if not 0 < len(author) <= MAX_AUTHOR:
        raise ConvexError({"code": "BAD_AUTHOR", "message": f"a name is 1-{MAX_AUTHOR} characters"})
    if not body:
        raise ConvexError({"code": "EMPTY_MESSAGE", "message": "a message cannot be empty"})
    if len(body) > MAX_BODY:
        raise ConvexError(
            {"code": "MESSAGE_TOO_LONG", "message": f"a message is at most {MAX_BODY} characters"}
        )
    if await ctx.db.get(args["channel"]) is None:
        raise ConvexError({"code": "NO_SUCH_CHANNEL", "message": "that channel does not exist"})
    message_id = await ctx.db.insert(
        "messages", {"channel": args["channel"], "author": author, "body": body}
    )
    await clear_typing(ctx, args["channel"], author)  # sent: no longer typing
    return message_id
