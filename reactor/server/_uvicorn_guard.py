"""Hardening of uvicorn: a deadline on request headers, bounded logs of client input.

uvicorn times out idle keep-alive connections, but not a connection that
opens and sends nothing, nor one that trickles a request's headers byte by
byte (slowloris): each would hold a socket (and a file descriptor) forever.
With ``GuardedHttpProtocol`` every request, the WebSocket upgrade included,
must send all its headers within ``header_timeout_s`` of the connection
opening (or, on a kept-alive connection, of the request's first byte): a
half-sent request is answered 408, a silent connection just closed. Slow
bodies are timed in the HTTP API (``body_timeout_s``).

``quiet_client_faults`` keeps what clients send from flooding uvicorn's logs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from reactor.server._runs import loggable

__all__ = ["GuardedHttpProtocol", "guarded_http_protocol", "quiet_client_faults"]


class GuardedHttpProtocol(HttpToolsProtocol):
    header_timeout_s: ClassVar[float] = 10.0

    _header_timer: asyncio.TimerHandle | None = None
    _request_started = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_started = True
        if self._header_timer is None:  # a kept-alive connection's next request
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        self._request_started = False
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request waits (reading paused) for the one before it to
            # be answered, however long that takes: time it from then on.
            self._arm()
            return
        if self._request_started:
            # A request is half-sent: say why it is dropped (a client silent since
            # it connected has asked nothing, and gets no answer).
            message = (
                f"RequestHeaderTimeout: the request headers did not arrive within "
                f"{self.header_timeout_s:g} s (header_timeout_s)"
            ).encode()
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\n"
                b"content-type: text/plain; charset=utf-8\r\n"
                b"content-length: " + str(len(message)).encode() + b"\r\n"
                b"connection: close\r\n\r\n" + message
            )
        self.transport.close()


def guarded_http_protocol(header_timeout_s: float) -> type[GuardedHttpProtocol]:
    """The protocol class to give uvicorn (``http=``) for this deadline."""
    return type(
        "GuardedHttpProtocol", (GuardedHttpProtocol,), {"header_timeout_s": header_timeout_s}
    )


_CLIENT_FAULTS = frozenset({"Invalid UTF-8 sequence received from client."})
_MAX_LOGGED_ARG = 1000


class _ClientInputFilter(logging.Filter):
    """What clients send, kept from flooding or stalling uvicorn's logs.

    A text frame that is not UTF-8 (closed with 1007) is logged by uvicorn as an
    exception, traceback and all; it is the client's fault: one warning line.
    A request path (in every access line) may be megabytes long, and some
    handlers (rich) take quadratic time to wrap a long word: arguments are
    cut to 1000 characters.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in _CLIENT_FAULTS:
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        if isinstance(record.args, tuple) and any(
            isinstance(arg, str) and len(arg) > _MAX_LOGGED_ARG for arg in record.args
        ):
            record.args = tuple(
                loggable(arg, _MAX_LOGGED_ARG) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def quiet_client_faults() -> None:
    """Install the filter on uvicorn's loggers (once)."""
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ClientInputFilter) for f in logger.filters):
            logger.addFilter(_ClientInputFilter())
