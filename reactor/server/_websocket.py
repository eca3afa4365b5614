"""The sync WebSocket: a ``SyncSession`` on a socket, wired to live queries and the engine.

Two tasks per connection. The receiver feeds frames to the session in order
and carries out its commands (subscribe, run a mutation or action, check a
token). The sender asks the session for a frame whenever it is woken (a
result changed, a response is ready, a timestamp was reached, a Ping is due)
and the socket has taken the previous one, so a slow client's pending
updates collapse into the next Transition instead of queueing up.

A changed result usually skips the sender task: if it is parked (it had
nothing to send) and the socket has room, the Transition is built and written
at once from the live queries' own callback (see ``_direct_send``), as a
broadcast would; only a client that is slow to read waits on its sender.

Limits: a socket opened past ``max_connections`` (or while every function slot
is taken) is accepted and closed at once with 1013 and a reason naming the
limit; a call finding no function slot closes its connection the same way,
after the frames already queued (the client re-sends unanswered mutations on
reconnecting); a socket that sends no Connect within ``connect_timeout_s``
gets a FatalError ``ConnectTimeout``. A client that sends requests without
reading the answers cannot make them pile up: past ``MAX_QUEUED_FRAMES``
unsent frames the receiver stops reading until the sender catches up, and
the client's own writes back up (TCP flow control).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from starlette.types import Message
from starlette.websockets import WebSocket

from reactor.errors import AuthError
from reactor.server._direct_send import SCOPE_KEY, DirectSend
from reactor.server._overload import OVERLOAD_CLOSE_CODE, Overloaded
from reactor.sync import (
    CheckAuth,
    Command,
    LiveQueries,
    Outcome,
    ProtocolError,
    QueryResult,
    RunAction,
    RunMutation,
    Subscribe,
    Subscription,
    SyncSession,
    Unsubscribe,
    describe_error,
    exactly_once,
    is_unanswerable,
    outcome_of,
    parse_client_message,
)

if TYPE_CHECKING:
    from reactor.server._app import ReactorServer

__all__ = ["serve_sync_socket"]

log = logging.getLogger("reactor.server")

MAX_QUEUED_FRAMES = 128
"""Responses waiting for a slow (or never-reading) client, beyond which the
connection's incoming frames are not read until the client takes some."""


class _View:
    """The ``ResultView`` of one connection: its subscriptions' shared results."""

    def __init__(self, live: LiveQueries) -> None:
        self.live = live
        self.subscriptions: dict[int, Subscription] = {}

    @property
    def ts(self) -> int:
        return self.live.processed_ts

    def result(self, token: int) -> QueryResult | None:
        subscription = self.subscriptions.get(token)
        return subscription.result if subscription is not None else None


class _Connection:
    def __init__(self, socket: WebSocket, server: ReactorServer) -> None:
        self.socket = socket
        self.server = server
        self.live = server.live
        self.loop = asyncio.get_running_loop()
        self.session = SyncSession(limits=server.config.session, now=self.loop.time())
        self.view = _View(self.live)
        self.wake = asyncio.Event()
        self.drained = asyncio.Event()
        """Set while the session has room for more queued frames."""
        self.drained.set()
        self.requests: set[asyncio.Task[None]] = set()
        self.connect_by = self.loop.time() + server.config.connect_timeout_s
        self.ping_timer: asyncio.TimerHandle | None = None
        """Wakes the sender when a Ping may be due (see ``_ping_check``)."""
        self.direct: DirectSend | None = None
        self.parked = False
        """The sender is waiting for ``wake`` with nothing to send."""
        self.unsent: str | None = None
        """A frame ``_changed`` took from the session but could not write."""

    async def run(self) -> None:
        self.direct = self.socket.scope.get(SCOPE_KEY)
        sender = asyncio.create_task(self._sending(), name="reactor-ws-sender")
        try:
            await self._receive_loop(sender)
        except Exception:
            # A bug, not the client's doing: say so with 1011 and let it reconnect.
            log.exception("the sync connection failed")
            await self._close_quietly(1011, "InternalServerError")
        finally:
            for task in (*self.requests, sender):
                task.cancel()
            await asyncio.gather(*self.requests, sender, return_exceptions=True)
            for subscription in self.view.subscriptions.values():
                self.live.unsubscribe(subscription)
            self.view.subscriptions.clear()

    async def _receive(self) -> Message | None:
        """The next message; None once the client has been too long without Connect."""
        if self.session.session_id is not None:
            return await self.socket.receive()
        timeout_s = self.server.config.connect_timeout_s
        try:
            async with asyncio.timeout(max(0.0, self.connect_by - self.loop.time())):
                return await self.socket.receive()
        except TimeoutError:
            self.session.protocol_error(
                f"ConnectTimeout: no Connect message within {timeout_s:g} s of opening "
                "the connection (connect_timeout_s)"
            )
            return None

    async def _receive_loop(self, sender: asyncio.Task[None]) -> None:
        while not self.session.finished:
            if self.session.queued >= MAX_QUEUED_FRAMES and not sender.done():
                self.drained.clear()
                self.wake.set()
                await self.drained.wait()  # set by the sender, also when it stops
                continue
            message = await self._receive()
            if message is None:
                self.wake.set()
                break
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self.session.protocol_error("binary frames are not supported: send JSON text")
            else:
                try:
                    parsed = parse_client_message(text)
                except ProtocolError as exc:
                    self.session.protocol_error(str(exc))
                else:
                    self.session.receive(
                        parsed,
                        now_ms=time.time() * 1000,
                        latest_ts=self.server.engine.committer.last_ts,
                    )
            await self._carry_out(self.session.take_commands())
            self.wake.set()
        # A FatalError or AuthError is queued: let the sender flush it and close.
        await sender

    async def _carry_out(self, commands: list[Command]) -> None:
        while commands:
            for command in commands:
                if isinstance(command, CheckAuth):
                    await self._check_auth(command)
                else:
                    self._dispatch(command)
            commands = self.session.take_commands()

    def _dispatch(self, command: Command) -> None:
        if isinstance(command, Subscribe):
            self.view.subscriptions[command.token] = self.live.subscribe(
                command.udf_path,
                command.args,
                journal=command.journal,
                identity=command.identity,
                on_change=self._changed,
            )
        elif isinstance(command, Unsubscribe):
            subscription = self.view.subscriptions.pop(command.token, None)
            if subscription is not None:
                self.live.unsubscribe(subscription)
        elif isinstance(command, RunMutation | RunAction):
            task = asyncio.create_task(self._run(command))
            self.requests.add(task)
            task.add_done_callback(self.requests.discard)

    async def _check_auth(self, command: CheckAuth) -> None:
        try:
            identity = await self.server.authenticator(command.token_type, command.value)
        except AuthError as exc:
            self.session.auth_failed(str(exc))
        except Exception:
            log.exception("the authenticator failed")
            self.session.auth_failed("InternalServerError: the token could not be checked")
        else:
            self.session.auth_succeeded(identity)

    async def _run(self, command: RunMutation | RunAction) -> None:
        dev_errors = self.server.config.dev_errors
        try:
            if isinstance(command, RunMutation):
                hook = exactly_once(command.session_id, command.request_id)
                result = await self.server.runner.mutation(
                    command.udf_path, command.args, command.identity, "websocket", hook
                )
                if is_unanswerable(result):
                    # The server failed to run it (a storage fault that persisted),
                    # and an earlier run of this request may have committed: a
                    # failed response would tell the client it did not. Close
                    # instead (1011, after what is queued); the client reconnects
                    # and re-sends it, and it runs once (or its record answers).
                    log.error(
                        "closing a sync connection: a mutation met a persistent storage error: %s",
                        result.error,
                    )
                    self.session.close_after_queued(1011, "InternalServerError")
                    self.wake.set()
                    return
            else:
                result = await self.server.runner.action(
                    command.udf_path, command.args, command.identity, "websocket"
                )
            outcome = outcome_of(result, dev_errors=dev_errors)
        except Overloaded as exc:
            # Nothing ran. Close (after what is queued) so the client backs off; it
            # re-sends the mutation after reconnecting, and it runs once.
            self.session.close_after_queued(OVERLOAD_CLOSE_CODE, str(exc))
            self.wake.set()
            return
        except Exception as exc:
            # Never leave the request unanswered: the next mutation waits for it.
            message, _ = describe_error(exc, dev_errors=dev_errors)
            outcome = Outcome(False, message)
        if isinstance(command, RunMutation):
            self.session.mutation_done(command.request_id, outcome)
        else:
            self.session.action_done(command.request_id, outcome)
        # Only the next queued mutation can come of this: nothing to await.
        for follow_up in self.session.take_commands():
            self._dispatch(follow_up)
        self.wake.set()

    async def _close_quietly(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.socket.close(code, reason)

    async def _sending(self) -> None:
        try:
            await self._send_loop()
        except Exception:
            log.exception("sending on a sync connection failed")
            await self._close_quietly(1011, "InternalServerError")
        finally:
            self.drained.set()  # nothing will drain the queue now: let the receiver on

    def _changed(self) -> None:
        """A subscribed result changed (called by the live queries, once per refresh)."""
        direct = self.direct
        if not self.parked or self.unsent is not None or direct is None or not direct.ready:
            self.wake.set()
            return
        try:
            self._send_now(direct)
        except Exception:
            log.exception("sending an update on a sync connection failed")
            self.wake.set()

    def _send_now(self, direct: DirectSend) -> None:
        """What the sender would do on waking, without waking it: the next frame is
        written at once. Anything left after it (more frames, a close) wakes it."""
        session = self.session
        frame = self._next_frame()
        if frame is None:
            return  # the sender would find nothing either
        sent = direct.send(frame)
        if sent:
            self.server.frames["direct"] += 1
        elif sent is None:
            self.unsent = frame
        if sent is not True or not session.settled or session.queued:
            self.wake.set()

    def _next_frame(self) -> str | None:
        """The session's next frame, if any, with the commands it made carried out
        (a Transition releases the subscriptions it retired)."""
        wall_ns = self.server.delivery.wall_ns or time.time_ns()
        frame = self.session.next_frame(self.view, self.loop.time(), wall_ns=wall_ns)
        if frame is not None:
            for command in self.session.take_commands():
                self._dispatch(command)
        return frame

    def _ping_check(self) -> None:
        """The idle timer: wake the sender if a Ping is due, else wait until it may be.

        One timer per connection, moved only when it fires: frames sent in
        between push ``ping_at`` later without touching it."""
        self.ping_timer = None
        ping_at = self.session.ping_at
        if self.loop.time() >= ping_at:
            self.wake.set()
        else:
            self.ping_timer = self.loop.call_at(ping_at, self._ping_check)

    async def _send_loop(self) -> None:
        session = self.session
        # The ASGI send callable itself, not starlette's WebSocket.send: that
        # one only checks the state machine, and after the socket is accepted
        # only this loop sends text frames (a close ends it; a send after a
        # close raises in the server and ends it too).
        send = self.socket._send
        try:
            while True:
                self.wake.clear()
                frame, self.unsent = self.unsent, None
                if frame is None:
                    frame = self._next_frame()
                if frame is not None:
                    try:
                        await send({"type": "websocket.send", "text": frame})
                    except Exception:
                        return  # the client is gone; the receiver sees the disconnect
                    self.server.frames["by_sender"] += 1
                    if session.queued < MAX_QUEUED_FRAMES // 2:
                        self.drained.set()
                    # After a Transition only an event (which sets `wake`) can make
                    # another frame: skip asking for one that cannot be there.
                    if not session.settled or self.wake.is_set():
                        continue
                close = session.close
                if close is not None:
                    await self._close_quietly(*close)
                    return
                waiting = session.waiting_for_ts(self.view.ts)
                if waiting is not None and self.live.wait_for_ts(waiting, self.wake.set):
                    continue
                if self.ping_timer is None:
                    self.ping_timer = self.loop.call_at(session.ping_at, self._ping_check)
                self.parked = True
                try:
                    await self.wake.wait()
                finally:
                    self.parked = False
        finally:
            if self.ping_timer is not None:
                self.ping_timer.cancel()
                self.ping_timer = None


async def serve_sync_socket(socket: WebSocket, server: ReactorServer) -> None:
    """Serve one sync connection until either side closes it."""
    try:
        server.admission.admit_connection()
    except Overloaded as exc:
        # Accepted only to say why: a refused handshake would reach a browser
        # client as a bare 1006, with no reason and no back-off hint.
        with contextlib.suppress(Exception):  # the client may be gone already
            await socket.accept()
            await socket.close(OVERLOAD_CLOSE_CODE, str(exc))
        return
    try:
        await socket.accept()
        await _Connection(socket, server).run()
    finally:
        server.admission.release_connection()
