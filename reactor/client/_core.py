"""The protocol state of one client across all its connections.

No sockets here: the transport tells the core a connection opened, hands it
each parsed server message and tells it the connection was lost; the core
fills ``outbox`` with the frames to send. Everything runs on the client's
event loop, so nothing needs a lock.

Per client (kept across reconnects): sessionId, query ids, request ids, the
highest ts observed, the auth token. Per connection (reset on each open): the
StateVersion, the query-set and identity versions sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from reactor.client._errors import AuthenticationError, ClientClosedError
from reactor.client._queries import Listener, LocalQueries
from reactor.client._requests import Kind, Requests
from reactor.sync import (
    ActionResponse,
    Authenticate,
    AuthError,
    ClientMessage,
    Connect,
    FatalError,
    ModifyQuerySet,
    MutationResponse,
    Ping,
    QuerySetModification,
    ServerMessage,
    StateVersion,
    Transition,
    encode_client_message,
)

__all__ = ["ClientCore"]

log = logging.getLogger("reactor.client")

ErrorFactory = Callable[[], BaseException]


class ClientCore:
    def __init__(self) -> None:
        self.session_id = str(uuid.uuid4())
        self.queries = LocalQueries()
        self.requests = Requests()
        self.outbox: deque[str] = deque()
        self.wake = asyncio.Event()  # set whenever the outbox grows
        self.ended: ErrorFactory | None = None  # why the client is over, once it is
        self.max_observed_ts: int | None = None
        self.last_close_reason = "InitialConnect"
        self._opened = 0  # successful opens so far: Connect.connectionCount
        self._serial: int | None = None  # the open connection, if any
        self.heard = False  # the open connection has received a message
        self.version = StateVersion.initial()
        self._query_set = 0
        self._identity = 0  # Authenticates sent on this connection
        self._token: str | None = None
        self._auth_sent = False
        self._auth_waiters: list[asyncio.Future[None]] = []

    # -- calls -------------------------------------------------------------------

    def check_open(self) -> None:
        if self.ended is not None:
            raise self.ended()

    def listen(self, path: str, args: dict[str, Any]) -> Listener:
        self.check_open()
        listener, add = self.queries.listen(path, args)
        if add is not None:
            self._modify(add)
        return listener

    def unlisten(self, listener: Listener) -> None:
        remove = self.queries.unlisten(listener)
        if remove is not None:
            self._modify(remove)

    def _modify(self, modification: QuerySetModification) -> None:
        # Offline changes need no message: the next connection re-adds the whole set.
        if self._serial is not None:
            self._send(ModifyQuerySet(self._query_set, self._query_set + 1, (modification,)))
            self._query_set += 1

    def request(self, kind: Kind, path: str, args: dict[str, Any]) -> asyncio.Future[Any]:
        self.check_open()
        _, request = self.requests.new(kind, path, args)
        if self._serial is not None:
            request.sent_on = self._serial
            self._push(request.frame)
        return request.future

    def set_auth(self, token: str | None) -> asyncio.Future[None]:
        """Resolves once the server has accepted every Authenticate sent so far on
        the open connection (a Transition's identity version reaches it)."""
        self.check_open()
        if token is not None and not isinstance(token, str):
            raise TypeError(f"an auth token is a str (a JWT) or None, got {type(token).__name__}")
        self._token = token
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._auth_waiters.append(waiter)
        if self._serial is not None:
            self._authenticate()
            self._settle_auth()
        return waiter

    def _authenticate(self) -> None:
        if self._token is not None:
            self._send(Authenticate("User", self._token, self._identity))
        elif self._auth_sent:
            self._send(Authenticate("None", None, self._identity))
        else:
            return  # never authenticated on this connection: nothing to clear
        self._identity += 1
        self._auth_sent = True

    def _settle_auth(self) -> None:
        if self._serial is not None and self.version.identity >= self._identity:
            waiters, self._auth_waiters = self._auth_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _send(self, message: ClientMessage) -> None:
        self._push(encode_client_message(message))

    def _push(self, frame: str) -> None:
        self.outbox.append(frame)
        self.wake.set()

    # -- connection events -------------------------------------------------------

    def opened(self, serial: int) -> None:
        """A socket is open: queue Connect, Authenticate, the whole query set in one
        ModifyQuerySet, then the re-sends (the order npm uses, PROTOCOL.md §3)."""
        self._serial = serial
        self.heard = False
        self.version = StateVersion.initial()
        self._query_set = 0
        self._identity = 0
        self._auth_sent = False
        self.outbox.clear()
        self._send(
            Connect(
                session_id=self.session_id,
                connection_count=self._opened,
                last_close_reason=self.last_close_reason,
                max_observed_timestamp=self.max_observed_ts,
                client_ts=time.time() * 1000,
            )
        )
        self._opened += 1
        self._authenticate()
        adds = self.queries.re_adds()
        if adds:
            self._send(ModifyQuerySet(0, 1, adds))
            self._query_set = 1
        for frame in self.requests.sending(serial):
            self._push(frame)
        self._settle_auth()

    def lost(self, serial: int, reason: str) -> None:
        if self._serial != serial:
            return
        self._serial = None
        self.last_close_reason = reason
        self.outbox.clear()
        self.requests.connection_lost(serial)

    def receive(self, message: ServerMessage) -> str | None:
        """Apply one server message; a reason to drop the connection, if any."""
        self.heard = True
        match message:
            case Transition():
                return self._transition(message)
            case MutationResponse():
                if message.ts is not None:
                    self._observe(message.ts)
                self.requests.mutation_response(message)
            case ActionResponse():
                self.requests.action_response(message)
            case AuthError():
                return self._auth_error(message)
            case FatalError():
                error = message.error
                log.error("the server ended the session: %s", error)
                self.end(lambda: ClientClosedError(f"the server ended the session: {error}"))
                return "FatalError"
            case Ping():
                pass  # liveness only: the transport's inactivity timer was reset
        return None

    def _transition(self, message: Transition) -> str | None:
        start, end = message.start_version, message.end_version
        if start != self.version:
            # Chained wrong: our view is inconsistent. Start over on a new connection.
            return f"InvalidStartVersion: expected {self.version}, got {start}"
        if end.ts < start.ts:
            return f"InvalidTransition: ts went back from {start.ts} to {end.ts}"
        for modification in message.modifications:
            self.queries.apply(modification)
        self.version = end
        self._observe(end.ts)
        # After the results are in: a mutation resolves seeing its own write.
        self.requests.transition(end.ts)
        self._settle_auth()
        return None

    def _auth_error(self, message: AuthError) -> str:
        text = message.error

        def error() -> BaseException:
            return AuthenticationError(f"the server refused the auth token: {text}")

        # Carry on anonymously rather than retry a token the server refuses.
        self._token = None
        waiters, self._auth_waiters = self._auth_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error())
        if not waiters:
            self.queries.interrupt(error)  # nobody else would hear of it
        return "AuthError"  # the server closes after an AuthError anyway

    def _observe(self, ts: int) -> None:
        if self.max_observed_ts is None or ts > self.max_observed_ts:
            self.max_observed_ts = ts

    def end(self, error: ErrorFactory) -> None:
        """The client is over: fail everything pending, refuse new calls."""
        if self.ended is not None:
            return
        self.ended = error
        self.queries.end(error)
        self.requests.end(error)
        waiters, self._auth_waiters = self._auth_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error())
        self.wake.set()
