"""A session's query set: what the client was last shown, and the changes on the way.

Query-set changes (``ModifyQuerySet``) and identity changes (``Authenticate``)
become ``Step``s, applied in order to what the client is shown. A step is
applied only once every query it adds (or re-runs under a new identity) has a
result, so one Transition can carry all of them at one timestamp.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reactor.sync._codec import encode_query_failed_fragment, encode_query_removed_fragment
from reactor.sync._messages import ModifyQuerySet, QueryAdd
from reactor.sync._session_types import (
    Command,
    Identity,
    ResultLike,
    ResultView,
    Subscribe,
    Unsubscribe,
)

__all__ = ["LocalFailure", "Plan", "QuerySet", "Step", "TrackedQuery", "plan_transition"]


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
    """How many pending steps the Transition applies (the first ones)."""
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
    if not ready:  # the usual case, a result changed: no copy of what is shown
        return _plan_updates(shown, {}, [], view, 0)
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
    return _plan_updates(after, tokens, fragments, view, len(ready))


def _plan_updates(
    after: dict[int, TrackedQuery],
    tokens: dict[TrackedQuery, int],
    fragments: list[bytes],
    view: ResultView,
    steps: int,
) -> Plan | None:
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
    return Plan(steps, fragments, updates)


class QuerySet:
    """The client's queries, as its messages left them (``latest``: what it asked
    for) and as the last Transition showed them (``shown``), with the steps
    between the two."""

    def __init__(self, max_subscriptions: int) -> None:
        self.max_subscriptions = max_subscriptions
        self.version = 0
        """The last ``newVersion`` received."""
        self.latest: dict[int, TrackedQuery] = {}
        self.shown: dict[int, TrackedQuery] = {}
        self.steps: deque[Step] = deque()
        self._tokens = 0

    def _new_token(self) -> int:
        self._tokens += 1
        return self._tokens

    def check(self, msg: ModifyQuerySet) -> str | None:
        """The protocol violation in ``msg``, if any (PROTOCOL.md §4.2)."""
        if msg.base_version != self.version:
            return (
                f"BaseVersionMismatch: ModifyQuerySet.baseVersion is {msg.base_version}, "
                f"but the query set is at version {self.version}"
            )
        if msg.new_version <= msg.base_version:
            return (
                f"InvalidQuerySetVersion: newVersion {msg.new_version} must be greater "
                f"than baseVersion {msg.base_version}"
            )
        present = set(self.latest)
        for m in msg.modifications:
            if isinstance(m, QueryAdd):
                if m.query_id in present:
                    return f"DuplicateQueryId: query {m.query_id} is subscribed"
                present.add(m.query_id)
            elif m.query_id in present:
                present.remove(m.query_id)
            else:
                return f"QueryNotFound: Remove of query {m.query_id}, not subscribed"
        return None

    def modify(
        self, msg: ModifyQuerySet, identity: Identity | None, identity_version: int
    ) -> list[Command]:
        """Take a checked ``ModifyQuerySet``; return the subscriptions to start and stop."""
        commands: list[Command] = []
        step = Step(msg.new_version, identity_version)
        for m in msg.modifications:
            if isinstance(m, QueryAdd):
                step.adds.append(self._add(m, identity, commands))
            else:
                query = self.latest.pop(m.query_id)
                self._drop(query, commands)
                step.removes.append(query)
        self.version = msg.new_version
        self.steps.append(step)
        return commands

    def _add(self, m: QueryAdd, identity: Identity | None, commands: list[Command]) -> TrackedQuery:
        query = TrackedQuery(m.query_id, self._new_token(), m.udf_path, m.args, m.journal)
        if m.component_path:
            query.local = LocalFailure("componentPath is not supported by this server")
        elif len(self.latest) >= self.max_subscriptions:
            query.local = LocalFailure(
                f"TooManySubscriptions: a connection may hold at most "
                f"{self.max_subscriptions} subscriptions (max_subscriptions)"
            )
        else:
            commands.append(Subscribe(query.token, m.udf_path, m.args, m.journal, identity))
        self.latest[m.query_id] = query
        return query

    @staticmethod
    def _drop(query: TrackedQuery, commands: list[Command]) -> None:
        # Its results are never read again (a removed query needs none), so its
        # subscriptions can go now, before the Remove is shown to the client.
        query.removed = True
        if query.local is None:
            commands.extend(Unsubscribe(token) for token in (query.token, *query.next_tokens))
        query.next_tokens.clear()

    def change_identity(
        self, identity: Identity | None, identity_version: int, *, rerun: bool
    ) -> list[Command]:
        """A step to the new identity version; with ``rerun``, every query is
        subscribed again under the new identity (shown once all have results)."""
        commands: list[Command] = []
        step = Step(self.version, identity_version)
        if rerun:
            for query in self.latest.values():
                if query.local is None:
                    token = self._new_token()
                    query.next_tokens.append(token)
                    commands.append(
                        Subscribe(token, query.udf_path, query.args, query.journal, identity)
                    )
                    step.rebinds.append((query, token))
        self.steps.append(step)
        return commands

    def plan(self, view: ResultView) -> Plan | None:
        return plan_transition(self.shown, self.steps, view)

    def apply(self, plan: Plan) -> tuple[Step | None, list[Command]]:
        """Show the plan's steps to the client; return the last one and what to release."""
        last: Step | None = None
        commands: list[Command] = []
        for _ in range(plan.steps):
            last = self.steps.popleft()
            commands.extend(Unsubscribe(token) for token in last.apply(self.shown))
        plan.commit()
        return last, commands
