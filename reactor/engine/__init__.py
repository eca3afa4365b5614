"""The transaction engine: snapshots, read sets, the committer and function runs."""

from reactor.engine._catalog import SYSTEM_TABLES, Catalog, IndexDef
from reactor.engine._committer import CommitNotice, Committer
from reactor.engine._context import ActionCtx, Auth, MutationCtx, QueryCtx
from reactor.engine._engine import Engine, RetryPolicy
from reactor.engine._faults import is_storage_fault, is_system_error
from reactor.engine._intervals import Interval, IntervalSet, ReadSet
from reactor.engine._limits import TransactionLimits
from reactor.engine._query import Query
from reactor.engine._results import FunctionResult
from reactor.engine._subscription_index import SubscriptionIndex

__all__ = [
    "SYSTEM_TABLES",
    "ActionCtx",
    "Auth",
    "Catalog",
    "CommitNotice",
    "Committer",
    "Engine",
    "FunctionResult",
    "IndexDef",
    "Interval",
    "IntervalSet",
    "MutationCtx",
    "Query",
    "QueryCtx",
    "ReadSet",
    "RetryPolicy",
    "SubscriptionIndex",
    "TransactionLimits",
    "is_storage_fault",
    "is_system_error",
]
