"""Mutations and actions in flight, and when each one may resolve.

A successful mutation resolves only once a Transition with ``endVersion.ts``
at or after its commit ts has arrived (PROTOCOL.md §6), so every subscribed
query the caller sees afterwards already reflects the write. Until then it is
"unconfirmed", and a new connection re-sends it under the same requestId: the
server recognises (sessionId, requestId) and replays the recorded result
instead of running it twice. A failed mutation wrote nothing and resolves at
once, as npm does.

Actions are not idempotent and never re-sent: one that was handed to a
connection which then died fails with :class:`ConnectionLostError`. One queued
while no connection was open is simply sent on the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from reactor.client._errors import ConnectionLostError, function_error
from reactor.client._queries import log_lines
from reactor.sync import Action, ActionResponse, Mutation, MutationResponse, encode_client_message

__all__ = ["Requests"]

Kind = Literal["mutation", "action"]


@dataclass(eq=False, slots=True)
class _Request:
    kind: Kind
    path: str
    frame: str  # the encoded message, re-sent verbatim after a reconnect
    future: asyncio.Future[Any]
    sent_on: int | None = None  # serial of the connection it was handed to
    ts: int | None = None  # a mutation's commit ts, once its response arrived
    result: Any = None


def _settle(future: asyncio.Future[Any], result: Any = None, error: Any = None) -> None:
    # The caller may have given up (cancelled): its future takes nothing then.
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class Requests:
    """Request ids: one u32 counter from 0 for mutations and actions, per client."""

    def __init__(self) -> None:
        self._next_id = 0
        # Insertion order is request-id order: re-sends keep the original order.
        self._mutations: dict[int, _Request] = {}
        self._actions: dict[int, _Request] = {}

    def __len__(self) -> int:
        return len(self._mutations) + len(self._actions)

    def new(self, kind: Kind, path: str, args: dict[str, Any]) -> tuple[int, _Request]:
        """Register a request; raises (registering nothing) if args cannot be sent."""
        request_id = self._next_id
        message = (Mutation if kind == "mutation" else Action)(request_id, path, args)
        frame = encode_client_message(message)
        future = asyncio.get_running_loop().create_future()
        self._next_id += 1
        request = _Request(kind, path, frame, future)
        (self._mutations if kind == "mutation" else self._actions)[request_id] = request
        return request_id, request

    def sending(self, serial: int) -> list[str]:
        """What a freshly opened connection must send: every unconfirmed mutation
        (again, same requestId) and every action not yet handed to a connection."""
        frames = []
        for request in (*self._mutations.values(), *self._actions.values()):
            if request.kind == "mutation" or request.sent_on is None:
                request.sent_on = serial
                frames.append(request.frame)
        return frames

    def mutation_response(self, msg: MutationResponse) -> None:
        request = self._mutations.get(msg.request_id)
        if request is None:
            return  # unknown or already confirmed: ignored, as npm does
        log_lines("M", request.path, msg.log_lines)
        if not msg.success:
            del self._mutations[msg.request_id]
            _settle(request.future, error=function_error(msg.result, msg.error_data, request.path))
            return
        # Parked until a Transition covers the commit; keep the larger ts if a
        # re-send was answered again (a replay carries a ts at or after the commit).
        request.ts = msg.ts if request.ts is None else max(request.ts, msg.ts or 0)
        request.result = msg.result

    def action_response(self, msg: ActionResponse) -> None:
        request = self._actions.pop(msg.request_id, None)
        if request is None:
            return
        log_lines("A", request.path, msg.log_lines)
        if msg.success:
            _settle(request.future, msg.result)
        else:
            _settle(request.future, error=function_error(msg.result, msg.error_data, request.path))

    def transition(self, ts: int) -> None:
        """A Transition reached ``ts``: resolve the mutations it covers."""
        for request_id, request in list(self._mutations.items()):
            if request.ts is not None and request.ts <= ts:
                del self._mutations[request_id]
                _settle(request.future, request.result)

    def connection_lost(self, serial: int) -> None:
        for request_id, request in list(self._actions.items()):
            if request.sent_on == serial:
                del self._actions[request_id]
                error = ConnectionLostError(
                    f"connection lost while action {request.path!r} was in flight "
                    "(actions are not retried: it may or may not have run)"
                )
                _settle(request.future, error=error)

    def end(self, error: Callable[[], BaseException]) -> None:
        for request in (*self._mutations.values(), *self._actions.values()):
            _settle(request.future, error=error())
        self._mutations.clear()
        self._actions.clear()
