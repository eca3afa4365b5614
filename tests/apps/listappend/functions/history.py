"""List-append transactions for the history checker (tests/reliability/elle.py).

``txn`` runs micro-ops in order, each ``[f, key, value]``:

* ``["append", k, v]``: append ``v`` to key ``k``'s list (creating the row);
* ``["r", k, null]``: read ``k``'s whole list.

It returns the ops completed, reads filled in with the list read, plus the
number of rows found for each key read (1 or 0; more is an anomaly). With
``abort`` it throws after doing everything: nothing of it may ever be seen.
"""

import asyncio

from reactor import ConvexError, mutation, query, v

OP = v.array(v.union(v.string(), v.number(), v.null()))


async def _rows(ctx, key):
    return await ctx.db.query("lists").with_index("by_key", lambda r: r.eq("key", key)).collect()


@mutation(args={"ops": v.array(OP), "abort": v.optional(v.boolean())})
async def txn(ctx, args):
    done = []
    for f, key, value in args["ops"]:
        rows = await _rows(ctx, key)
        # Yield between each read and the write that follows it, so that
        # concurrent transactions interleave inside the server.
        await asyncio.sleep(0)
        if f == "r":
            items = [item for row in rows for item in row["items"]]
            done.append(["r", key, items, len(rows)])
        elif f == "append":
            if rows:
                await ctx.db.patch(rows[0]["_id"], {"items": [*rows[0]["items"], value]})
            else:
                await ctx.db.insert("lists", {"key": key, "items": [value]})
            done.append(["append", key, value, len(rows)])
        else:
            raise ConvexError(f"unknown micro-op {f!r}")
    if args.get("abort"):
        raise ConvexError("aborted on purpose")
    return done


@query(args={"after": v.number(), "limit": v.number()})
async def dump(ctx, args):
    """Rows with ``key > after`` in key order, at most ``limit``: the final read."""
    return await (
        ctx.db.query("lists")
        .with_index("by_key", lambda r: r.gt("key", args["after"]))
        .take(int(args["limit"]))
    )
