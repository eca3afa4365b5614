"""A session's query set: what the client was last shown, and the changes on the way.

Query-set changes (``ModifyQuerySet``) and identity changes (``Authenticate``)
become ``Step``s, applied in order to what the client is shown. A step is
applied only once every query it adds (or re-runs under a new identity) has a
result, so one Transition can carry all of them at one timestamp.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reactor.sync._codec import encode_query_failed_fragment, encode_query_removed_fragment
from reactor.sync._session_types import ResultLike, ResultView

__all__ = ["LocalFailure", "Plan", "Step", "TrackedQuery", "plan_transition"]


class LocalFailure:
    """A query failure the session reports itself (a limit), not from a run."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def fragment(self, query_id: int) -> bytes:
        return encode_query_failed_fragment(query_id, self.message)


@dataclass(eq=False, slots=True)
class TrackedQuery:
    """One of the client's queries. Hashed by identity: query ids can be reused."""

    query_id: int
    token: int
    """The live-query subscription its results come from."""
    udf_path: str
    args: dict[str, Any]
    journal: str | None
    local: ResultLike | None = None
    sent: ResultLike | None = None
    """The result the client was last sent (compared by identity)."""
    removed: bool = False
    next_tokens: list[int] = field(default_factory=list)
    """Subscriptions under a new identity, waiting for their step."""


@dataclass(slots=True)
class Step:
    query_set: int
    identity: int
    adds: list[TrackedQuery] = field(default_factory=list)
    removes: list[TrackedQuery] = field(default_factory=list)
    rebinds: list[tuple[TrackedQuery, int]] = field(default_factory=list)

    def ready(self, view: ResultView) -> bool:
        # A query removed meanwhile needs no result: the client dropped it.
        return all(
            q.removed or q.local is not None or view.result(q.token) is not None for q in self.adds
        ) and all(q.removed or view.result(token) is not None for q, token in self.rebinds)

    def apply(self, shown: dict[int, TrackedQuery]) -> list[int]:
        """Apply to what the client is shown; return the tokens no longer needed."""
        for q in self.adds:
            shown[q.query_id] = q
        for q in self.removes:
            if shown.get(q.query_id) is q:
                del shown[q.query_id]
        unused: list[int] = []
        for q, token in self.rebinds:
            if not q.removed:  # a removed query's tokens were released already
                unused.append(q.token)
                q.token = token
                q.next_tokens.remove(token)
        return unused


@dataclass(slots=True)
class Plan:
    steps: int
    """How many pending steps the Transition applies."""
    fragments: list[bytes]
    updates: list[tuple[TrackedQuery, ResultLike]]

    def commit(self) -> None:
        for query, result in self.updates:
            query.sent = result


def plan_transition(
    shown: dict[int, TrackedQuery], steps: Iterable[Step], view: ResultView
) -> Plan | None:
    """What a Transition to ``view.ts`` would carry, without changing anything.

    None if a query the client would be shown has no result yet (cannot
    happen for results a live-query manager keeps; checked all the same).
    """
    ready: list[Step] = []
    for step in steps:
        if not step.ready(view):
            break
        ready.append(step)
    after = dict(shown)
    tokens: dict[TrackedQuery, int] = {}
    fragments: list[bytes] = []
    for step in ready:
        for q in step.adds:
            after[q.query_id] = q
        for q in step.removes:
            if after.get(q.query_id) is q:
                del after[q.query_id]
            fragments.append(encode_query_removed_fragment(q.query_id))
        for q, token in step.rebinds:
            if not q.removed:
                tokens[q] = token
    updates: list[tuple[TrackedQuery, ResultLike]] = []
    for q in after.values():
        if q.removed:
            continue
        result = q.local if q.local is not None else view.result(tokens.get(q, q.token))
        if result is None:
            return None
        if result is not q.sent:
            fragments.append(result.fragment(q.query_id))
            updates.append((q, result))
    return Plan(len(ready), fragments, updates)
