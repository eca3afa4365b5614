"""A query that waits on a gate the test opens: it makes a run overlap a commit."""

import asyncio

from reactor import action, query, v

gate = asyncio.Event()
entered = asyncio.Event()


@query(args={"channel": v.string()})
async def gated_list(ctx, args):
    # Read first, then wait: the commit the test makes meanwhile lands after this
    # run's snapshot, so the result is stale until the run is checked.
    rows = await (
        ctx.db.query("messages")
        .with_index("by_channel", lambda r: r.eq("channel", args["channel"]))
        .collect()
    )
    if not gate.is_set():
        entered.set()
        await gate.wait()
    return [row["body"] for row in rows]


action_gate = asyncio.Event()


@action
async def held(ctx, args):
    """An action that stays in flight until the test opens ``action_gate``."""
    await action_gate.wait()
    return "released"
