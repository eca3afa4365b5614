"""Server-wide limits and load shedding: sync connections and function calls in flight.

Past a limit the server refuses new work at once, cheaply and with a reason
naming the limit, instead of queueing it without bound: a sync connection is
closed with 1013 ("try again later"), which every official client answers by
backing off and reconnecting, and an HTTP call gets 503 with ``Retry-After``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

__all__ = ["OVERLOAD_CLOSE_CODE", "Admission", "Overloaded", "ensure_fd_limit"]

log = logging.getLogger("reactor.server")

_SPARE_FDS = 256
"""Files beside the sync connections: the store, HTTP clients, the listening socket."""

OVERLOAD_CLOSE_CODE = 1013
"""RFC 6455 "Try Again Later": the reference backend's close code for overload."""


class Overloaded(Exception):
    """A server-wide limit is reached; ``str(exc)`` is ``"<Code>: <what and which limit>"``."""

    def __init__(self, code: str, detail: str, retry_after_s: int) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.retry_after_s = retry_after_s


class Admission:
    """Counts what the server holds and refuses what would go past a limit.

    Taking a slot is synchronous (check and count in one step), so concurrent
    callers on the event loop never overshoot a limit.
    """

    def __init__(
        self, *, max_connections: int, max_concurrent_functions: int, retry_after_s: int = 1
    ) -> None:
        self.max_connections = max_connections
        self.max_concurrent_functions = max_concurrent_functions
        self.retry_after_s = retry_after_s
        self.connections = 0
        self.functions = 0
        self.refused_connections = 0
        self.refused_functions = 0

    def _too_many_connections(self) -> Overloaded:
        return Overloaded(
            "TooManyConnections",
            f"the server takes at most {self.max_connections} sync connections "
            "(max_connections); retry later",
            self.retry_after_s,
        )

    def _too_many_functions(self) -> Overloaded:
        return Overloaded(
            "TooManyConcurrentFunctions",
            f"the server runs at most {self.max_concurrent_functions} functions at once "
            "(max_concurrent_functions)",
            self.retry_after_s,
        )

    def admit_connection(self) -> None:
        """Count a new sync connection (``release_connection`` when it ends); raise
        ``Overloaded`` if it is one too many, or if the server already runs all
        the functions it may (a new client would only add to the backlog)."""
        if self.connections >= self.max_connections:
            self.refused_connections += 1
            raise self._too_many_connections()
        if self.functions >= self.max_concurrent_functions:
            self.refused_connections += 1
            raise self._too_many_functions()
        self.connections += 1

    def release_connection(self) -> None:
        self.connections -= 1

    @contextlib.contextmanager
    def function(self) -> Iterator[None]:
        """Hold a function slot for one client call; raise ``Overloaded`` if none is free."""
        if self.functions >= self.max_concurrent_functions:
            self.refused_functions += 1
            raise self._too_many_functions()
        self.functions += 1
        try:
            yield
        finally:
            self.functions -= 1

    def stats(self) -> dict[str, int]:
        return {
            "connections": self.connections,
            "maxConnections": self.max_connections,
            "functionsInFlight": self.functions,
            "maxConcurrentFunctions": self.max_concurrent_functions,
            "refusedConnections": self.refused_connections,
            "refusedFunctions": self.refused_functions,
        }


def ensure_fd_limit(max_connections: int) -> int:
    """Raise the soft limit on open files (up to the hard limit) so that
    ``max_connections`` sockets fit, and warn if they cannot: past the limit the
    server cannot even accept a connection to tell it to retry. Returns the limit."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not a POSIX system
        return max_connections + _SPARE_FDS
    needed = max_connections + _SPARE_FDS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if raised > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning(
            "max_connections is %d but this process may open only %d files: "
            "raise its limit (ulimit -n) or lower max_connections",
            max_connections,
            soft,
        )
    return needed if soft == resource.RLIM_INFINITY else soft
