"""Functions the scheduler tests schedule and call."""

import asyncio
import contextlib
from pathlib import Path

from reactor import action, internal, internal_action, internal_mutation, mutation, query, v


@mutation(args={"delay": v.number(), "ref": v.string(), "args": v.any()})
async def schedule(ctx, args):
    return await ctx.scheduler.run_after(args["delay"], args["ref"], args["args"])


@mutation(args={"when": v.number(), "ref": v.string(), "args": v.any()})
async def schedule_at(ctx, args):
    return await ctx.scheduler.run_at(args["when"], args["ref"], args["args"])


@mutation(args={"id": v.string()})
async def cancel(ctx, args):
    await ctx.scheduler.cancel(args["id"])


@mutation
async def schedule_then_fail(ctx, args):
    """T09: the schedule rolls back with the mutation."""
    await ctx.db.insert("items", {"name": "doomed"})
    await ctx.scheduler.run_after(0, internal.jobs.record, {"tag": "never"})
    raise ValueError("the mutation fails after scheduling")


@internal_mutation
async def child_schedules_then_fails(ctx, args):
    await ctx.scheduler.run_after(0, internal.jobs.record, {"tag": "child"})
    raise ValueError("the child fails")


@mutation
async def parent_catches_child(ctx, args):
    """A failed nested run_mutation takes its schedules with it."""
    with contextlib.suppress(ValueError):
        await ctx.run_mutation(internal.jobs.child_schedules_then_fails, {})
    return await ctx.scheduler.run_after(0, internal.jobs.record, {"tag": "parent"})


@mutation
async def schedule_then_insert(ctx, args):
    """T32: the job runs after this commit, so it sees the insert made after scheduling."""
    job = await ctx.scheduler.run_after(0, internal.jobs.record_seeing_b, {})
    await ctx.db.insert("items", {"name": "B"})
    return job


@internal_mutation
async def record_seeing_b(ctx, args):
    items = await ctx.db.query("items").collect()
    b = [item for item in items if item["name"] == "B"]
    await ctx.db.insert(
        "events", {"tag": "A", "sawB": bool(b), "bCreation": b[0]["_creationTime"] if b else None}
    )


@internal_mutation(args={"tag": v.string()})
async def record(ctx, args):
    identity = await ctx.auth.get_user_identity()
    await ctx.db.insert("events", {"tag": args["tag"], "identity": identity})


@internal_mutation(args={"n": v.number()})
async def typed(ctx, args):
    await ctx.db.insert("events", {"tag": "typed", "n": args["n"]})


@internal_mutation
async def fail(ctx, args):
    await ctx.db.insert("events", {"tag": "fail-wrote"})
    raise ValueError("x")


@internal_action
async def fail_action(ctx, args):
    jobs = await ctx.run_query(internal.jobs.all_jobs, {})
    states = [job["state"]["kind"] for job in jobs if job["name"] == "jobs.js:fail_action"]
    await ctx.run_mutation(internal.jobs.record_value, {"tag": "fail_action", "value": states})
    raise RuntimeError("the action fails")


@internal_mutation(args={"tag": v.string(), "value": v.any()})
async def record_value(ctx, args):
    await ctx.db.insert("events", {"tag": args["tag"], "value": args["value"]})


@action
async def schedule_then_throw(ctx, args):
    """T31: scheduling from an action commits at once, whatever the action does next."""
    await ctx.scheduler.run_after(0, internal.jobs.record, {"tag": "from-action"})
    raise RuntimeError("the action fails after scheduling")


@action(args={"delay": v.number(), "ref": v.string(), "args": v.any()})
async def schedule_from_action(ctx, args):
    return await ctx.scheduler.run_after(args["delay"], args["ref"], args["args"])


@action(args={"id": v.string()})
async def cancel_from_action(ctx, args):
    await ctx.scheduler.cancel(args["id"])


@internal_action(args={"marker": v.string(), "seconds": v.number()})
async def slow_action(ctx, args):
    """Appends a line to ``marker`` each time it starts, then sleeps."""
    await asyncio.to_thread(_append, Path(args["marker"]), "started\n")
    await asyncio.sleep(args["seconds"])
    await ctx.scheduler.run_after(0, internal.jobs.record, {"tag": "after-slow"})


def _append(path, text):
    with path.open("a") as marker:
        marker.write(text)


@internal_mutation(args={"n": v.number()})
async def chain(ctx, args):
    """Schedules itself n more times, 1 s apart."""
    await ctx.db.insert("events", {"tag": "chain", "n": args["n"]})
    if args["n"] > 0:
        await ctx.scheduler.run_after(1000, internal.jobs.chain, {"n": args["n"] - 1})


@query
async def all_jobs(ctx, args):
    return await ctx.db.system.query("_scheduled_functions").collect()


@query(args={"id": v.string()})
async def get_job(ctx, args):
    return await ctx.db.system.get(args["id"])


@query
async def events(ctx, args):
    return await ctx.db.query("events").collect()


@query
async def a_query(ctx, args):
    return None
