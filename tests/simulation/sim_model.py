"""The reference model: every committed state, by timestamp, and the app's queries
re-implemented over it in plain Python.

The model is fed every ``Commit`` the committer hands the store, in order. It
checks each one against the state just before it (is this a write a
serializable run of the app's mutations could have made?) and keeps the state
after it, so the result any query should have at any timestamp can be
computed independently of the engine, the live queries and the sessions.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reactor.engine._cursor import decode_cursor
from reactor.storage import Commit
from reactor.sync import SESSION_REQUESTS
from reactor.values import decode_stored, encode_key

__all__ = [
    "PAGINATED",
    "STRICT_LIMIT",
    "Expected",
    "Model",
    "ModelViolation",
    "QuerySpec",
    "identity_of",
]

STRICT_LIMIT = 3  # simapp/functions/messages.py
PAGINATED = frozenset({"messages:page"})

Doc = dict[str, Any]
Table = dict[str, Doc]
State = dict[str, Table]
Expected = tuple[bool, Any]
"""(True, value) for a result, (False, errorData) for a ConvexError failure."""


class ModelViolation(AssertionError):
    """A commit no serializable run of the app's mutations could have made."""


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """One subscribable query: a path and its arguments (as canonical JSON, hashable)."""

    path: str
    args: str

    @classmethod
    def of(cls, path: str, **args: Any) -> QuerySpec:
        return cls(path, json.dumps(args, sort_keys=True))

    def args_dict(self) -> dict[str, Any]:
        args: dict[str, Any] = json.loads(self.args)
        return args

    def __str__(self) -> str:
        return f"{self.path}({self.args})"


def _order(doc: Doc) -> tuple[float, str]:
    # Index keys end in (_creationTime, _id); ids are ASCII, so str order is byte order.
    return doc["_creationTime"], doc["_id"]


def _channel(state: State, channel: str) -> list[Doc]:
    return sorted((d for d in state["messages"].values() if d["channel"] == channel), key=_order)


def _counter(state: State, name: str) -> Doc | None:
    found = [d for d in state["counters"].values() if d["name"] == name]
    return found[0] if found else None


def identity_of(user: str | None) -> dict[str, Any] | None:
    """The identity the simulated server's authenticator gives the token of ``user``."""
    if user is None:
        return None
    return {"subject": user, "issuer": "https://sim.invalid", "tokenIdentifier": f"sim|{user}"}


def _strict(state: State, user: str | None, channel: str) -> Expected:
    rows = _channel(state, channel)
    if len(rows) > STRICT_LIMIT:
        return False, {"tooMany": len(rows)}
    return True, [d["tag"] for d in rows]


def _head(state: State, user: str | None, channel: str) -> Expected:
    rows = _channel(state, channel)
    if not rows:
        return True, None
    counter = _counter(state, channel)
    return True, {"tag": rows[0]["tag"], "counter": None if counter is None else counter["value"]}


def _with_body(state: State, user: str | None, body: str) -> Expected:
    rows = sorted((d for d in state["messages"].values() if d["body"] == body), key=_order)
    return True, [d["tag"] for d in rows]


def _mine(state: State, user: str | None, channel: str) -> Expected:
    me = user or ""
    return True, {
        "me": me,
        "tags": [d["tag"] for d in _channel(state, channel) if d["author"] == me],
    }


def _maybe_mine(state: State, user: str | None, channel: str) -> Expected:
    rows = _channel(state, channel)
    if len(rows) <= 2:
        return True, len(rows)
    return True, [d["tag"] for d in rows if d["author"] == (user or "")]


def _page(
    state: State, user: str | None, journal: str | None, channel: str, paginationOpts: Any
) -> Expected:
    """A first page whose end the journal pinned: every row up to that key (all rows
    once the first run reached the end)."""
    if journal is None:
        return False, "a page without a journal"
    end = _journal_key(journal)
    rows = _channel(state, channel)
    if end is not None:
        rows = [d for d in rows if encode_key([channel, d["_creationTime"], d["_id"]]) <= end]
    page = {"page": rows, "isDone": end is None, "continueCursor": journal}
    return True, {**page, "splitCursor": None, "pageStatus": None}


def _journal_key(journal: str) -> bytes | None:
    raw = base64.urlsafe_b64decode(journal + "=" * (-len(journal) % 4))
    return decode_cursor(journal, fingerprint=raw[1:9]).key


def _counter_value(state: State, user: str | None, name: str) -> Expected:
    row = _counter(state, name)
    return True, None if row is None else row["value"]


def _total(state: State, user: str | None, pause: float = 0.0) -> Expected:
    return True, sum(d["value"] for d in state["counters"].values())


_QUERIES: dict[str, Callable[..., Expected]] = {
    "messages:list": lambda s, user, channel: (True, _channel(s, channel)),
    "messages:slow_list": lambda s, user, channel, pause: (True, _channel(s, channel)),
    "messages:latest": lambda s, user, channel, k: (True, _channel(s, channel)[::-1][: int(k)]),
    "messages:count": lambda s, user, channel: (True, len(_channel(s, channel))),
    "messages:strict": _strict,
    "messages:page": _page,
    "messages:head": _head,
    "messages:with_body": _with_body,
    "messages:mine": _mine,
    "messages:maybe_mine": _maybe_mine,
    "messages:whoami": lambda s, user: (True, identity_of(user)),
    "messages:constant": lambda s, user: (True, "constant"),
    "counters:get": _counter_value,
    "counters:total": _total,
    "counters:slow_total": _total,
}


@dataclass(slots=True)
class Record:
    """An exactly-once record: a client mutation that committed."""

    ts: int
    result: Any


class Model:
    def __init__(self, initial_ts: int = 0) -> None:
        self.timestamps: list[int] = [initial_ts]
        self.states: list[State] = [{"messages": {}, "counters": {}}]
        self.records: dict[tuple[str, int], Record] = {}
        self.tags: dict[str, int] = {}
        """Every message tag ever inserted, with the ts of its commit."""
        self.increments: dict[str, int] = {}
        """Per counter, how many commits incremented it."""
        self._cache: dict[tuple[QuerySpec, int, str | None, str | None], Expected] = {}

    @property
    def latest_ts(self) -> int:
        return self.timestamps[-1]

    def _index_at(self, ts: int) -> int:
        return bisect.bisect_right(self.timestamps, ts) - 1

    def state_at(self, ts: int) -> State:
        return self.states[self._index_at(ts)]

    def expected(
        self, spec: QuerySpec, ts: int, user: str | None, journal: str | None = None
    ) -> Expected:
        """What ``spec`` returns to ``user`` on the committed state at ``ts`` (a
        paginated query: with the end its ``journal`` pinned)."""
        index = self._index_at(ts)
        key = (spec, index, user, journal)
        cached = self._cache.get(key)
        if cached is None:
            state, args = self.states[index], spec.args_dict()
            if spec.path in PAGINATED:
                cached = _QUERIES[spec.path](state, user, journal, **args)
            else:
                cached = _QUERIES[spec.path](state, user, **args)
            self._cache[key] = cached
        return cached

    # -- commits -----------------------------------------------------------------

    def apply(self, commit: Commit) -> None:
        """Check ``commit`` against the latest state and make the state after it latest."""
        if commit.ts <= self.latest_ts:
            raise ModelViolation(f"commit ts {commit.ts} is not after {self.latest_ts}")
        before = self.states[-1]
        after: State = dict(before)
        for table in {w.table for w in commit.documents} & set(before):
            after[table] = dict(before[table])
        for write in commit.documents:
            value = None if write.value is None else decode_stored(write.value)
            if write.table == SESSION_REQUESTS:
                self._record(commit.ts, write.id, value)
            elif write.table not in after:
                raise ModelViolation(f"a write to an unknown table {write.table}")
            elif value is None:
                after[write.table].pop(write.id, None)
            else:
                after[write.table][write.id] = value
        self._check(commit, before, after)
        self.timestamps.append(commit.ts)
        self.states.append(after)

    def _record(self, ts: int, doc_id: str, value: Doc | None) -> None:
        if value is None:
            return  # purged records: the sim does not purge
        key = (value["sessionId"], int(value["requestId"]))
        if key in self.records:
            raise ModelViolation(f"request {key} recorded twice: the mutation applied twice")
        self.records[key] = Record(ts, value.get("result"))

    def _check(self, commit: Commit, before: State, after: State) -> None:
        """Each change must be one a serializable run of the app could make."""
        for write in commit.documents:
            if write.table == "messages":
                self._check_message(commit.ts, write.id, before, after)
            elif write.table == "counters":
                self._check_counter(write.id, before, after)
        names = [d["name"] for d in after["counters"].values()]
        if len(names) != len(set(names)):
            raise ModelViolation(f"two counters share a name: {sorted(names)}")

    def _check_message(self, ts: int, doc_id: str, before: State, after: State) -> None:
        old, new = before["messages"].get(doc_id), after["messages"].get(doc_id)
        if old is None and new is not None:  # send: n follows the channel's newest
            if new["tag"] in self.tags:
                raise ModelViolation(f"message {new['tag']} inserted twice")
            self.tags[new["tag"]] = ts
            rows = _channel(before, new["channel"])
            n = rows[-1]["n"] + 1 if rows else 1
            if new["n"] != n or (rows and _order(new) < _order(rows[-1])):
                raise ModelViolation(
                    f"message {new['tag']} has n={new['n']} (expected {n}) or is not the "
                    f"newest of {new['channel']}: not serializable"
                )
        elif old is not None and new is None:  # remove_oldest
            rows = _channel(before, old["channel"])
            if rows[0]["_id"] != doc_id:
                raise ModelViolation(f"deleted {old['tag']}, not the oldest {rows[0]['tag']}")
        elif old is not None and new is not None:  # edit_newest
            rows = _channel(before, old["channel"])
            if rows[-1]["_id"] != doc_id or {**new, "body": ""} != {**old, "body": ""}:
                raise ModelViolation(f"edited {old['tag']}: not the newest, or not its body")

    def _check_counter(self, doc_id: str, before: State, after: State) -> None:
        old, new = before["counters"].get(doc_id), after["counters"].get(doc_id)
        if new is None:
            raise ModelViolation("a counter was deleted")
        expected = 1 if old is None else old["value"] + 1
        if new["value"] != expected:
            raise ModelViolation(
                f"counter {new['name']} went from {None if old is None else old['value']} "
                f"to {new['value']}: a lost update"
            )
        self.increments[new["name"]] = self.increments.get(new["name"], 0) + 1
