"""File storage as an app uses it: upload URLs, metadata, URLs, deletes."""

from reactor import ConvexError, action, mutation, query, v


@mutation
async def generate_upload_url(ctx, args):
    return await ctx.storage.generate_upload_url()


@mutation(args={"storageId": v.id("_storage"), "name": v.string()})
async def save(ctx, args):
    return await ctx.db.insert("uploads", args)


@query(args={"storageId": v.id("_storage")})
async def url(ctx, args):
    return await ctx.storage.get_url(args["storageId"])


@query(args={"storageId": v.id("_storage")})
async def row(ctx, args):
    return await ctx.db.system.get(args["storageId"])


@query(args={"storageId": v.id("_storage")})
async def metadata(ctx, args):
    return await ctx.storage.get_metadata(args["storageId"])


@mutation(args={"storageId": v.id("_storage")})
async def remove(ctx, args):
    await ctx.storage.delete(args["storageId"])


@mutation(args={"storageId": v.id("_storage")})
async def remove_then_fail(ctx, args):
    await ctx.storage.delete(args["storageId"])
    raise ConvexError("changed my mind")


@action(args={"text": v.string(), "sha256": v.optional(v.string())})
async def store_text(ctx, args):
    return await ctx.storage.store(
        args["text"].encode(), content_type="text/plain", sha256=args.get("sha256")
    )


@action(args={"storageId": v.id("_storage")})
async def read(ctx, args):
    return await ctx.storage.get(args["storageId"])


@action(args={"storageId": v.id("_storage")})
async def url_from_action(ctx, args):
    return await ctx.storage.get_url(args["storageId"])


@action(args={"storageId": v.id("_storage")})
async def remove_from_action(ctx, args):
    await ctx.storage.delete(args["storageId"])
