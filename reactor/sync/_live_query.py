"""Which clients share which live query: keys, subscriptions and the read-set index.

A live query is keyed by (path, canonical args, journal asked for, identity).
While its first run is in flight it is filed under the subscriber's identity;
once a run shows it did not read ``ctx.auth``, the identity drops out of the
key (``ANY_IDENTITY``) and one result serves every user (SEMANTICS.md RX-04).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from reactor.engine import FunctionResult, ReadSet, SubscriptionIndex
from reactor.functions import function_path
from reactor.sync._query_result import QueryResult, query_result
from reactor.values import convex_to_json

__all__ = ["ANY_IDENTITY", "LiveQuery", "LiveRegistry", "QueryKey", "Subscription"]

QueryKey = tuple[str, bytes, str | None, bytes]
"""(path, canonical args JSON, journal asked for, identity JSON or ``ANY_IDENTITY``)."""
ANY_IDENTITY = b"*"


ANONYMOUS = b"null"


def identity_key(identity: Mapping[str, Any] | None) -> bytes:
    if identity is None:
        return ANONYMOUS  # shared: orjson's result would keep ~4 KiB per subscription
    # bytes() copies into an exact-size object for the same reason.
    return bytes(orjson.dumps(dict(identity), option=orjson.OPT_SORT_KEYS))


class LiveQuery:
    """One shared live query. Hashed by identity (it is a key of the index)."""

    __slots__ = ("args", "dead", "identity", "journal", "key", "path", "result", "subscriptions")

    def __init__(
        self, key: QueryKey, args: dict[str, Any], identity: Mapping[str, Any] | None
    ) -> None:
        self.key = key
        self.path = key[0]
        self.args = args
        self.identity = identity
        """The identity it runs with (a subscriber's)."""
        self.journal = key[2]
        """Passed to every run: after the first, the page end that run pinned."""
        self.result: QueryResult | None = None
        self.subscriptions: set[Subscription] = set()
        self.dead = False


class Subscription:
    """One client's hold on a live query (what ``LiveQueries.subscribe`` returns)."""

    __slots__ = ("identity", "identity_key", "live", "on_change")

    def __init__(
        self, live: LiveQuery, identity: Mapping[str, Any] | None, on_change: Callable[[], None]
    ) -> None:
        self.live = live
        self.identity = identity
        self.identity_key = identity_key(identity)
        self.on_change = on_change

    @property
    def result(self) -> QueryResult | None:
        """The latest result, valid at ``LiveQueries.processed_ts``; None until the first."""
        return self.live.result


class LiveRegistry:
    """The live queries by key, and their read sets in a ``SubscriptionIndex``.

    ``start_first_run`` is called for every new live query (it must compute a
    first result and ``publish`` it).
    """

    def __init__(self, start_first_run: Callable[[LiveQuery], None], *, dev_errors: bool) -> None:
        self._start = start_first_run
        self._dev_errors = dev_errors
        self.by_key: dict[QueryKey, LiveQuery] = {}
        self.index: SubscriptionIndex[LiveQuery] = SubscriptionIndex()

    def subscribe(
        self,
        udf_path: str,
        args: dict[str, Any],
        journal: str | None,
        identity: Mapping[str, Any] | None,
        on_change: Callable[[], None],
    ) -> Subscription:
        try:
            path = function_path(udf_path)
        except TypeError:
            path = udf_path  # the run reports the bad path as the query's error
        args_key = orjson.dumps(convex_to_json(args), option=orjson.OPT_SORT_KEYS)
        key: QueryKey = (path, args_key, journal, identity_key(identity))
        live = self.by_key.get((*key[:3], ANY_IDENTITY)) or self.by_key.get(key)
        if live is None:
            live = self._create(key, args, identity)
        subscription = Subscription(live, identity, on_change)
        live.subscriptions.add(subscription)
        return subscription

    def _create(
        self, key: QueryKey, args: dict[str, Any], identity: Mapping[str, Any] | None
    ) -> LiveQuery:
        live = LiveQuery(key, args, identity)
        self.by_key[key] = live
        self._start(live)
        return live

    def unsubscribe(self, subscription: Subscription) -> None:
        live = subscription.live
        live.subscriptions.discard(subscription)
        if not live.subscriptions:
            self.drop(live)

    def drop(self, live: LiveQuery) -> None:
        live.dead = True
        if self.by_key.get(live.key) is live:
            del self.by_key[live.key]
        if live in self.index:
            self.index.remove(live)

    def publish(self, live: LiveQuery, result: FunctionResult) -> bool:
        """Swap in a run's result and read set; True if what clients see changed."""
        previous = live.result
        live.result = query_result(result, previous, dev_errors=self._dev_errors)
        if result.journal is not None:
            live.journal = result.journal
        self.index.add(live, result.read_set if result.read_set is not None else ReadSet())
        return live.result is not previous

    def share(self, live: LiveQuery) -> LiveQuery:
        """After a first run that did not read the identity: serve every identity."""
        return self._rekey(live, ANY_IDENTITY)

    def _rekey(self, live: LiveQuery, key_identity: bytes) -> LiveQuery:
        """File ``live`` under another identity key, merging into an equal live query."""
        key = (*live.key[:3], key_identity)
        other = self.by_key.get(key)
        if other is not None and other is not live:
            for subscription in live.subscriptions:
                subscription.live = other
                other.subscriptions.add(subscription)
            live.subscriptions.clear()
            self.drop(live)
            return other
        if self.by_key.get(live.key) is live:
            del self.by_key[live.key]
        live.key = key
        self.by_key[key] = live
        return live

    def split(self, live: LiveQuery) -> LiveQuery | None:
        """A query shared across identities read ``ctx.auth`` after all. Every other
        identity's subscribers move to a live query of their own, computed afresh
        (their sessions hold back Transitions until it has a result). Returns the
        live query that keeps this run's result, if any."""
        own = identity_key(live.identity)
        for subscription in [s for s in live.subscriptions if s.identity_key != own]:
            live.subscriptions.discard(subscription)
            key = (*live.key[:3], subscription.identity_key)
            target = self.by_key.get(key) or self._create(key, live.args, subscription.identity)
            subscription.live = target
            target.subscriptions.add(subscription)
        if not live.subscriptions:
            self.drop(live)
            return None
        kept = self._rekey(live, own)
        return kept if kept is live else None
