"""Payments recorded from the provider's webhook (see http.py)."""

from reactor import internal_mutation, query, v


@internal_mutation(
    args={"eventId": v.string(), "kind": v.string(), "amount": v.number()},
    returns=v.boolean(),
)
async def record(ctx, args):
    """Record an event unless its receipt exists; True when it was new.

    The receipt check and both inserts are one transaction, so two deliveries
    racing each other still record the event once (the loser re-runs and finds
    the receipt)."""
    receipt = await (
        ctx.db.query("webhookReceipts")
        .with_index("by_event_id", lambda q: q.eq("eventId", args["eventId"]))
        .unique()
    )
    if receipt is not None:
        return False
    await ctx.db.insert("webhookReceipts", {"eventId": args["eventId"], "receivedAt": ctx.now})
    await ctx.db.insert("payments", args)
    return True


@query
async def list_all(ctx, args):
    return await ctx.db.query("payments").collect()
