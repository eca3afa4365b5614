"""Scheduled jobs and crons that record which process ran them (test_scheduler_leases)."""

import asyncio
import os

from reactor import internal, internal_action, internal_mutation, mutation, query, v


@mutation(args={"seconds": v.number()})
async def start_long(ctx, args):
    return await ctx.scheduler.run_after(0, internal.work.long_action, {"seconds": args["seconds"]})


@internal_action(args={"seconds": v.number()})
async def long_action(ctx, args):
    await ctx.run_mutation(internal.work.record, {"what": "long started"})
    await asyncio.sleep(args["seconds"])
    await ctx.run_mutation(internal.work.record, {"what": "long finished"})


@mutation(args={"first": v.number(), "count": v.number()})
async def schedule_many(ctx, args):
    first = int(args["first"])
    for n in range(first, first + int(args["count"])):
        await ctx.scheduler.run_after(0, internal.work.record, {"what": f"job {n}"})


@internal_mutation(args={"what": v.string()})
async def record(ctx, args):
    await ctx.db.insert("runs", {"what": args["what"], "pid": os.getpid()})


@internal_action
async def cron_action(ctx, args):
    await asyncio.sleep(0.2)
    await ctx.run_mutation(internal.work.record, {"what": "cron action"})


@query
async def report(ctx, args):
    runs = await ctx.db.query("runs").collect()
    jobs = await ctx.db.system.query("_scheduled_functions").collect()
    crons = await ctx.db.system.query("_cron_jobs").collect()
    return {
        "runs": [[run["what"], run["pid"]] for run in runs],
        "jobs": [[job["_id"], job["state"]] for job in jobs],
        "crons": {
            cron["name"]: {"state": cron["state"], "history": cron["history"]} for cron in crons
        },
    }
