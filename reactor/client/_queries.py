"""The client's query set: one server query per distinct (path, args), shared by
every ``subscribe()`` and ``query()`` that asks for it (the official clients
de-duplicate the same way, PROTOCOL.md §4.2).

Each caller holds a :class:`Listener`: a one-slot mailbox holding the newest
result it has not taken yet. A slow reader therefore skips intermediate
results and always gets the latest one, which is also what makes
read-your-writes hold for iterators: a Transition fills the slots before the
mutation it confirms resolves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from reactor.client._errors import function_error
from reactor.sync import (
    NO_ERROR_DATA,
    QueryAdd,
    QueryFailed,
    QueryRemove,
    QueryRemoved,
    QueryUpdated,
    StateModification,
)
from reactor.values import dumps, values_equal

__all__ = ["Listener", "LocalQueries", "log_lines"]

log = logging.getLogger("reactor.client")

ErrorFactory = Callable[[], BaseException]


def log_lines(kind: str, path: str, lines: Iterable[str]) -> None:
    """Pass the function's console output on, as npm prints it to the console."""
    for line in lines:
        log.info("[%s %s] %s", kind, path, line)


@dataclass(frozen=True, slots=True)
class _Item:
    value: Any = None
    # A fresh exception per raise: one instance raised twice grows its traceback.
    error: ErrorFactory | None = None

    def unwrap(self) -> Any:
        if self.error is not None:
            raise self.error()
        return self.value


class Listener:
    """One caller's view of a shared query; ``next()`` waits for a result it has
    not seen. Only touched from the event loop that runs the client."""

    def __init__(self, query_id: int) -> None:
        self.query_id = query_id
        self._pending: _Item | None = None
        self._ended = False
        self._end_error: ErrorFactory | None = None
        self._event = asyncio.Event()

    def offer(self, item: _Item) -> None:
        if not self._ended:
            self._pending = item  # replaces an untaken older result on purpose
            self._event.set()

    def finish(self, error: ErrorFactory | None = None) -> None:
        """No more results: ``next()`` raises ``error()``, or StopAsyncIteration."""
        if not self._ended:
            self._ended = True
            self._end_error = error
            self._pending = None
            self._event.set()

    async def next(self) -> Any:
        while True:
            if self._ended:
                if self._end_error is None:
                    raise StopAsyncIteration
                raise self._end_error()
            item = self._pending
            if item is not None:
                self._pending = None
                return item.unwrap()
            self._event.clear()
            await self._event.wait()


@dataclass(eq=False, slots=True)
class _Entry:
    query_id: int
    path: str
    args: dict[str, Any]
    key: tuple[str, bytes]
    journal: str | None = None
    latest: QueryUpdated | QueryFailed | None = None
    listeners: set[Listener] = field(default_factory=set)


def _canonical(path: str) -> str:
    # Only for de-duplication: the server canonicalises the path it is sent.
    module, _, name = path.partition(":")
    return f"{module.removesuffix('.js')}:{name or 'default'}"


def _item(result: QueryUpdated | QueryFailed, path: str) -> _Item:
    if isinstance(result, QueryUpdated):
        return _Item(result.value)
    message, data = result.error_message, result.error_data
    return _Item(error=lambda: function_error(message, data, path))


def _same(old: QueryUpdated | QueryFailed | None, new: QueryUpdated | QueryFailed) -> bool:
    if isinstance(old, QueryUpdated) and isinstance(new, QueryUpdated):
        return values_equal(old.value, new.value)
    if isinstance(old, QueryFailed) and isinstance(new, QueryFailed):
        if old.error_message != new.error_message:
            return False
        if old.error_data is NO_ERROR_DATA or new.error_data is NO_ERROR_DATA:
            return old.error_data is new.error_data
        return values_equal(old.error_data, new.error_data)
    return False


class LocalQueries:
    """Query ids are unique for the client's life (u32 from 0) and kept across
    reconnects: a re-add uses the same id."""

    def __init__(self) -> None:
        self._next_id = 0
        self._by_key: dict[tuple[str, bytes], _Entry] = {}
        self._by_id: dict[int, _Entry] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def listen(self, path: str, args: dict[str, Any]) -> tuple[Listener, QueryAdd | None]:
        """A listener on (path, args), and the Add to send if the query is new."""
        key = (_canonical(path), dumps(args))  # also refuses what is not a Convex value
        entry = self._by_key.get(key)
        add = None
        if entry is None:
            entry = _Entry(self._next_id, path, args, key)
            self._next_id += 1
            self._by_key[key] = entry
            self._by_id[entry.query_id] = entry
            add = QueryAdd(entry.query_id, path, args)
        listener = Listener(entry.query_id)
        entry.listeners.add(listener)
        if entry.latest is not None:
            listener.offer(_item(entry.latest, entry.path))
        return listener, add

    def unlisten(self, listener: Listener) -> QueryRemove | None:
        """Drop a listener; the Remove to send if it was the query's last one."""
        listener.finish()
        entry = self._by_id.get(listener.query_id)
        if entry is None or listener not in entry.listeners:
            return None
        entry.listeners.discard(listener)
        if entry.listeners:
            return None
        del self._by_id[entry.query_id]
        del self._by_key[entry.key]
        return QueryRemove(entry.query_id)

    def re_adds(self) -> tuple[QueryAdd, ...]:
        """Every query, to re-add on a new connection (with the last journal)."""
        return tuple(
            QueryAdd(e.query_id, e.path, e.args, journal=e.journal) for e in self._by_id.values()
        )

    def apply(self, modification: StateModification) -> None:
        """One modification of a Transition; listeners hear only of changes."""
        entry = self._by_id.get(modification.query_id)
        if entry is None or isinstance(modification, QueryRemoved):
            return  # an answer to our Remove, or a late update for a removed query
        log_lines("Q", entry.path, modification.log_lines)
        entry.journal = modification.journal
        changed = not _same(entry.latest, modification)
        entry.latest = modification
        if changed:
            item = _item(modification, entry.path)
            for listener in entry.listeners:
                listener.offer(item)

    def interrupt(self, error: ErrorFactory) -> None:
        """Make every listener raise ``error()`` once; they carry on afterwards."""
        for entry in self._by_id.values():
            for listener in entry.listeners:
                listener.offer(_Item(error=error))

    def end(self, error: ErrorFactory) -> None:
        """The client is over: every listener raises ``error()`` from now on."""
        for entry in self._by_id.values():
            for listener in entry.listeners:
                listener.finish(error)
        self._by_id.clear()
        self._by_key.clear()
