"""Echo any Convex value through each kind of function."""

from reactor import action, mutation, query


@query
async def echo_query(ctx, args):
    return args


@mutation
async def echo_mutation(ctx, args):
    return args


@action
async def echo_action(ctx, args):
    return args
