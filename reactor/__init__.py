"""reactor: a Python backend with the semantics of Convex.

Write backend functions with ``@query``, ``@mutation`` and ``@action``,
declare a schema, and every mutation is a serializable transaction while
every subscribed query is pushed again when a commit changes its result.
"""

from reactor.errors import ConvexError
from reactor.functions import (
    FunctionReference,
    action,
    api,
    internal,
    internal_action,
    internal_mutation,
    internal_query,
    mutation,
    query,
)
from reactor.http import HttpRouter, http_action
from reactor.scheduler import Crons
from reactor.schema import define_schema, define_table, pagination_opts_validator, v, zid
from reactor.values import UNSET, Int64

__all__ = [
    "UNSET",
    "ConvexError",
    "Crons",
    "FunctionReference",
    "HttpRouter",
    "Int64",
    "action",
    "api",
    "define_schema",
    "define_table",
    "http_action",
    "internal",
    "internal_action",
    "internal_mutation",
    "internal_query",
    "mutation",
    "pagination_opts_validator",
    "query",
    "v",
    "zid",
]
