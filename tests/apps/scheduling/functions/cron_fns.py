"""Targets for crons. Tests reach the module globals through ``app.modules``."""

import asyncio

from reactor import internal_action, internal_mutation

gate: asyncio.Event | None = None  # set by a test: the slow action waits for it
running = 0
max_running = 0
starts: list[float] = []


@internal_mutation
async def tick(ctx, args):
    await ctx.db.insert("events", {"tag": "tick", **args})


@internal_action
async def slow(ctx, args):
    global running, max_running
    running += 1
    max_running = max(max_running, running)
    try:
        starts.append(ctx.now)
        if gate is not None:
            await gate.wait()
    finally:
        running -= 1


@internal_mutation
async def boom(ctx, args):
    raise ValueError("cron failure")
