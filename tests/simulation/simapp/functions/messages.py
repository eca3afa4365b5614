"""Messages per channel. Every function here has a twin in ``sim_model``: change both."""

import asyncio

from reactor import ConvexError, mutation, pagination_opts_validator, query, v

STRICT_LIMIT = 3


def _channel(ctx, channel):
    return ctx.db.query("messages").with_index("by_channel", lambda r: r.eq("channel", channel))


@query(args={"channel": v.string()})
async def list(ctx, args):
    return await _channel(ctx, args["channel"]).collect()


@query(args={"channel": v.string(), "pause": v.number()})
async def slow_list(ctx, args):
    """Reads, then takes a while: commits land during its runs."""
    rows = await _channel(ctx, args["channel"]).collect()
    await asyncio.sleep(args["pause"])
    return rows


@query(args={"channel": v.string(), "paginationOpts": pagination_opts_validator})
async def page(ctx, args):
    """The first page pins its end (the journal): later runs keep that end."""
    return await _channel(ctx, args["channel"]).paginate(args["paginationOpts"])


@query(args={"channel": v.string(), "k": v.number()})
async def latest(ctx, args):
    """A ``take``: depends on the range up to its k-th key only."""
    return await _channel(ctx, args["channel"]).order("desc").take(int(args["k"]))


@query(args={"channel": v.string()})
async def count(ctx, args):
    return len(await _channel(ctx, args["channel"]).collect())


@query(args={"channel": v.string()})
async def strict(ctx, args):
    """Fails (a QueryFailed) while the channel holds more than STRICT_LIMIT messages."""
    rows = await _channel(ctx, args["channel"]).collect()
    if len(rows) > STRICT_LIMIT:
        raise ConvexError({"tooMany": len(rows)})
    return [row["tag"] for row in rows]


@query(args={"channel": v.string()})
async def head(ctx, args):
    """The oldest message, read again by id (a point read), with the channel's counter."""
    first = await _channel(ctx, args["channel"]).first()
    if first is None:
        return None
    again = await ctx.db.get(first["_id"])
    counter = await (
        ctx.db.query("counters").with_index("by_name", lambda r: r.eq("name", args["channel"]))
    ).unique()
    return {"tag": again["tag"], "counter": None if counter is None else counter["value"]}


@query(args={"body": v.string()})
async def with_body(ctx, args):
    """A filter: reads the whole table."""
    matching = ctx.db.query("messages").filter(lambda q: q.eq(q.field("body"), args["body"]))
    return [row["tag"] for row in await matching.collect()]


@query(args={"channel": v.string()})
async def mine(ctx, args):
    """Depends on who asks: one live query per identity."""
    author = await _author(ctx)
    rows = await _channel(ctx, args["channel"]).collect()
    return {"me": author, "tags": [row["tag"] for row in rows if row["author"] == author]}


@query(args={"channel": v.string()})
async def maybe_mine(ctx, args):
    """Reads the identity only once the channel has over two messages: shared by
    every identity until then, split per identity after."""
    rows = await _channel(ctx, args["channel"]).collect()
    if len(rows) <= 2:
        return len(rows)
    author = await _author(ctx)
    return [row["tag"] for row in rows if row["author"] == author]


@query
async def whoami(ctx, args):
    return await ctx.auth.get_user_identity()


@query
async def constant(ctx, args):
    return "constant"


@mutation(args={"channel": v.string(), "tag": v.string(), "body": v.string(), "pause": v.number()})
async def send(ctx, args):
    """Insert with ``n`` one more than the channel's newest: a read-modify-write."""
    newest = await _channel(ctx, args["channel"]).order("desc").first()
    if args["pause"]:
        await asyncio.sleep(args["pause"])  # widen the window for a conflict
    n = 1 if newest is None else newest["n"] + 1
    fields = {k: args[k] for k in ("channel", "tag", "body")}
    return await ctx.db.insert("messages", {**fields, "n": n, "author": await _author(ctx)})


async def _author(ctx):
    identity = await ctx.auth.get_user_identity()
    return "" if identity is None else identity["subject"]


@mutation(args={"channel": v.string()})
async def remove_oldest(ctx, args):
    oldest = await _channel(ctx, args["channel"]).first()
    if oldest is None:
        return None
    await ctx.db.delete(oldest["_id"])
    return oldest["tag"]


@mutation(args={"channel": v.string(), "body": v.string()})
async def edit_newest(ctx, args):
    newest = await _channel(ctx, args["channel"]).order("desc").first()
    if newest is None:
        return None
    await ctx.db.patch(newest["_id"], {"body": args["body"]})
    return newest["tag"]


@mutation(args={"channel": v.string(), "tag": v.string()})
async def fail(ctx, args):
    """Writes, then throws: the write rolls back and the client sees the error."""
    await ctx.db.insert("messages", {**args, "body": "rolled back", "n": -1, "author": ""})
    raise ConvexError({"tag": args["tag"]})
