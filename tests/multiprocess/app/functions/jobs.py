"""Scheduled jobs that record which process ran them."""

import os

from reactor import internal, internal_mutation, mutation, query, v


@mutation(args={"first": v.number(), "count": v.number()})
async def schedule(ctx, args):
    first = int(args["first"])
    for n in range(first, first + int(args["count"])):
        await ctx.scheduler.run_after(0, internal.jobs.run_once, {"n": n})


@internal_mutation(args={"n": v.number()})
async def run_once(ctx, args):
    await ctx.db.insert("runs", {"n": args["n"], "pid": os.getpid()})


@query
async def report(ctx, args):
    runs = await ctx.db.query("runs").collect()
    jobs = await ctx.db.system.query("_scheduled_functions").collect()
    return {
        "runs": [[r["n"], r["pid"]] for r in runs],
        "states": [job["state"]["kind"] for job in jobs],
    }
