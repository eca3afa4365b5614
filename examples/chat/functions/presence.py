"""Who is typing in a channel.

A query only re-runs when data it read changes, never because time passes, so
"typed in the last few seconds" cannot be a filter on the clock inside the
query. Instead the data expires itself: ``heartbeat`` upserts one row per
(channel, user) with ``expiresAt = now + TYPING_MS`` and schedules ``expire``
for that moment. ``expire`` deletes the row only if no later heartbeat moved
``expiresAt`` (the later heartbeat scheduled its own ``expire``), so the row
lives exactly as long as the user keeps typing plus TYPING_MS. ``typing`` then
simply lists the rows of a channel, and every subscriber re-renders when a row
appears or is deleted, without polling and without trusting client clocks.
Sending a message deletes the sender's row at once.
"""

from reactor import ConvexError, internal, internal_mutation, mutation, query, v

TYPING_MS = 3000
MAX_USER = 32


async def _row(ctx, channel, user):
    return (
        await ctx.db.query("presence")
        .with_index("by_channel_user", lambda r: r.eq("channel", channel).eq("user", user))
        .unique()
    )


async def clear_typing(ctx, channel, user):
    row = await _row(ctx, channel, user)
    if row is not None:
        await ctx.db.delete(row["_id"])


@mutation(args={"channel": v.id("channels"), "user": v.string()})
async def heartbeat(ctx, args):
    """``user`` is typing in ``channel`` now (clients send this at most every second)."""
    user = args["user"].strip()
    if not 0 < len(user) <= MAX_USER:
        raise ConvexError({"code": "BAD_AUTHOR", "message": f"a name is 1-{MAX_USER} characters"})
    expires_at = ctx.now + TYPING_MS
    row = await _row(ctx, args["channel"], user)
    if row is None:
        row_id = await ctx.db.insert(
            "presence",
            {
                "channel": args["channel"],
                "user": user,
                "updatedAt": ctx.now,
                "expiresAt": expires_at,
            },
        )
    else:
        row_id = row["_id"]
        await ctx.db.patch(row_id, {"updatedAt": ctx.now, "expiresAt": expires_at})
    await ctx.scheduler.run_after(
        TYPING_MS, internal.presence.expire, {"id": row_id, "expiresAt": expires_at}
    )
    return None


@internal_mutation(args={"id": v.id("presence"), "expiresAt": v.number()})
async def expire(ctx, args):
    row = await ctx.db.get(args["id"])
    if row is not None and row["expiresAt"] == args["expiresAt"]:
        await ctx.db.delete(row["_id"])


@query(args={"channel": v.id("channels")})
async def typing(ctx, args):
    """Who is typing in ``channel``: ``[{"user", "updatedAt"}]``, by name."""
    rows = await (
        ctx.db.query("presence")
        .with_index("by_channel_user", lambda r: r.eq("channel", args["channel"]))
        .collect()
    )
    return [{"user": row["user"], "updatedAt": row["updatedAt"]} for row in rows]
