"""The client's one WebSocket: connect, pump frames, reconnect with back-off.

``run`` owns the socket for the client's whole life. Each connection gets a
sender task (drains ``core.outbox``) and a receive loop (parses frames and
feeds the core). Whatever ends a connection (server close, network error,
protocol error, 60 s of silence) is reported to the core as the close
reason, which the next Connect carries as ``lastCloseReason``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from reactor.client._core import ClientCore
from reactor.sync import ProtocolError, parse_server_message

__all__ = ["TransportOptions", "run", "sync_url"]

log = logging.getLogger("reactor.client")

_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_MAX_REASON_BYTES = 123  # RFC 6455: a close reason fits in one control frame


def sync_url(base_url: str) -> str:
    """``http://host:port[/prefix]`` -> ``ws://host:port[/prefix]/api/sync``
    (``https`` -> ``wss``). A path prefix is kept, as npm keeps it."""
    parts = urlsplit(base_url)
    scheme = _SCHEMES.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"a deployment URL looks like http://127.0.0.1:3210, got {base_url!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/api/sync", "", ""))


@dataclass(frozen=True, slots=True)
class TransportOptions:
    inactivity_timeout: float = 60.0
    """Reconnect when no message (not even a Ping) arrives for this long."""
    initial_backoff: float = 0.1
    max_backoff: float = 10.0
    open_timeout: float = 10.0
    close_timeout: float = 2.0


def backoff(attempt: int, options: TransportOptions) -> float:
    """Doubling from ``initial_backoff`` up to ``max_backoff``, with jitter so that
    many clients dropped together do not come back in step."""
    base = min(options.max_backoff, options.initial_backoff * 2.0 ** min(attempt, 32))
    return base * random.uniform(0.5, 1.0)


async def run(core: ClientCore, url: str, options: TransportOptions) -> None:
    """Keep a connection open until the core ends (or this task is cancelled)."""
    attempt = 0
    serial = 0
    while core.ended is None:
        serial += 1
        try:
            ws = await connect(
                url,
                max_size=None,  # as the official clients: results can be large
                open_timeout=options.open_timeout,
                close_timeout=options.close_timeout,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            log.debug("connecting to %s failed: %r", url, exc)
            heard = False
        else:
            async with ws:
                heard = await _serve(core, ws, serial, options)
        if core.ended is not None:
            return
        # A server that answered us is healthy: retry at once-ish. Else back off.
        attempt = 0 if heard else attempt + 1
        await asyncio.sleep(backoff(attempt, options))


async def _serve(
    core: ClientCore, ws: ClientConnection, serial: int, options: TransportOptions
) -> bool:
    """Run one open connection to its end; whether the server said anything on it."""
    core.opened(serial)
    reason = "closed by the client"
    try:
        reason = await _connection(core, ws, options)
        log.debug("connection %d ended: %s", serial, reason)
    finally:
        # Also on cancellation (close()): what was in flight on it is settled.
        core.lost(serial, reason)
    return core.heard


async def _connection(core: ClientCore, ws: ClientConnection, options: TransportOptions) -> str:
    sender = asyncio.create_task(_send_loop(core, ws), name="reactor-client-sender")
    receiver = asyncio.create_task(_receive_loop(core, ws, options), name="reactor-client-receiver")
    try:
        done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, receiver):
            task.cancel()
        await asyncio.gather(sender, receiver, return_exceptions=True)
    if receiver in done:
        return receiver.result()
    # The sender only ever stops by raising: the socket closed under it.
    error = sender.exception()
    if isinstance(error, ConnectionClosed):
        return _close_reason(error)
    raise RuntimeError("the sync client's sender failed") from error


async def _send_loop(core: ClientCore, ws: ClientConnection) -> None:
    while True:
        while core.outbox:
            await ws.send(core.outbox.popleft())
        core.wake.clear()
        await core.wake.wait()


async def _receive_loop(core: ClientCore, ws: ClientConnection, options: TransportOptions) -> str:
    while True:
        try:
            async with asyncio.timeout(options.inactivity_timeout):
                frame = await ws.recv()
        except TimeoutError:
            # A silent server may not answer a close handshake either: just drop it.
            ws.transport.abort()
            return "InactiveServer"
        except ConnectionClosed as exc:
            return _close_reason(exc)
        if isinstance(frame, bytes):
            reason = "ProtocolError: the server sent a binary frame"
        else:
            try:
                message = parse_server_message(frame)
            except ProtocolError as exc:
                reason = f"ProtocolError: {exc}"
            else:
                reason = core.receive(message) or ""
        if reason:
            # A protocol error is a server bug (or not a reactor/Convex server):
            # worth a warning, even though reconnecting usually recovers.
            level = logging.WARNING if _is_protocol_error(reason) else logging.DEBUG
            log.log(level, "dropping the connection: %s", reason)
            await _close(ws, reason)
            return reason


async def _close(ws: ClientConnection, reason: str) -> None:
    short = reason.encode()[:_MAX_REASON_BYTES].decode(errors="ignore")
    with contextlib.suppress(ConnectionClosed):
        await ws.close(1000, short)


def _is_protocol_error(reason: str) -> bool:
    return reason.startswith(("ProtocolError", "InvalidStartVersion", "InvalidTransition"))


def _close_reason(exc: ConnectionClosed) -> str:
    """What npm reports as ``lastCloseReason``: the server's reason, else the code."""
    frame = exc.rcvd
    if frame is None:
        return "closed with code 1006"  # no close frame: the connection just died
    return frame.reason or f"closed with code {frame.code}"
