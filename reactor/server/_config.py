"""Server settings, with the limits they enforce named where they are refused.

Every number here can also be set from the environment as ``REACTOR_<NAME>``
(``REACTOR_MAX_CONNECTIONS=2000``), and the per-connection limits as
``REACTOR_SESSION_<NAME>`` (``REACTOR_SESSION_MAX_SUBSCRIPTIONS=500``):
``reactor serve`` reads them through ``ServerConfig.from_env``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reactor.sync import SessionLimits

__all__ = ["ServerConfig"]

MIB = 1024 * 1024
ENV_PREFIX = "REACTOR_"


@dataclass(frozen=True)
class ServerConfig:
    dev_errors: bool = True
    """Show internal errors' messages to clients ("Uncaught Error: ..."); off in
    production, where clients get "[Request ID: <id>] Server Error"."""
    max_frame_bytes: int = 16 * MIB
    """Largest WebSocket message; a larger one closes that connection with 1009."""
    max_body_bytes: int = 16 * MIB
    """Largest HTTP request body (413 beyond)."""
    session: SessionLimits = field(default_factory=SessionLimits)
    """Per-connection limits: subscriptions, requests in flight, JSON Ping interval."""
    max_connections: int = 5_000
    """Sync WebSocket connections served at once (each costs about 40 KiB and a
    file descriptor). One more is accepted and closed at once with 1013 ("try
    again later") and reason ``TooManyConnections: ...``; clients back off and
    reconnect. The open-files limit is raised to fit, or a warning says it cannot."""
    max_concurrent_functions: int = 1_000
    """Queries, mutations and actions called by clients (HTTP and WebSocket) in
    flight at once, server-wide; live-query re-runs are not counted. Beyond it an
    HTTP call gets 503 with ``Retry-After``, a WebSocket call closes its
    connection with 1013 (the client re-sends its mutations after reconnecting)
    and new sync connections are refused with 1013, reason
    ``TooManyConcurrentFunctions: ...``."""
    retry_after_s: int = 1
    """The ``Retry-After`` of an HTTP 503 answered under overload."""
    connect_timeout_s: float = 10.0
    """A sync connection must send Connect this soon after opening; else FatalError
    ``ConnectTimeout: ...`` and close (1002)."""
    header_timeout_s: float = 10.0
    """An HTTP request (a WebSocket upgrade too) must have sent all its headers this
    soon after its first byte, or after the connection opened; else 408 and close."""
    body_timeout_s: float = 30.0
    """An HTTP request body must have arrived this soon after its headers; else 408."""
    keep_alive_timeout_s: int = 5
    """An idle HTTP keep-alive connection is closed after this long (uvicorn's
    ``timeout_keep_alive``)."""
    session_request_retention_s: float = 600.0
    """How long exactly-once mutation records are kept (a re-send after that runs again)."""
    session_request_gc_interval_s: float = 60.0
    ws_ping_interval_s: float = 5.0
    """WebSocket ping frames (the Rust client counts them as liveness)."""
    ws_ping_timeout_s: float = 120.0
    """Drop a connection whose pong does not come back in this long."""
    cors: bool = True
    """Answer browsers from any origin, as the reference backend does (the API and
    file storage; HTTP actions follow the app's own ``http.cors(...)``)."""
    public_url: str | None = None
    """The base of file URLs (``ctx.storage.get_url``, upload URLs), e.g.
    ``https://files.example.com``. None: ``REACTOR_PUBLIC_URL``, else the address
    the server is bound to (``http://127.0.0.1:<port>``)."""
    upload_timeout_s: float = 120.0
    """An upload to a ``generate_upload_url`` URL must finish in this long (LIM-10)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServerConfig:
        """Defaults, then ``REACTOR_<NAME>`` / ``REACTOR_SESSION_<NAME>`` variables,
        then ``overrides``. A malformed value raises ``ValueError`` naming it."""
        env = os.environ if environ is None else environ
        values = _read_env(cls, env, ENV_PREFIX, skip=frozenset({"session"}))
        session = SessionLimits(**_read_env(SessionLimits, env, ENV_PREFIX + "SESSION_"))
        return cls(**{"session": session, **values, **overrides})


def _read_env(
    cls: Any, env: Mapping[str, str], prefix: str, skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The numeric fields of dataclass ``cls`` set in ``env`` as ``<prefix><NAME>``."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        name = prefix + f.name.upper()
        raw = env.get(name, "").strip()
        kind = str(f.type)
        if f.name in skip or not raw or kind not in ("int", "float"):
            continue
        try:
            values[f.name] = int(raw) if kind == "int" else float(raw)
        except ValueError:
            raise ValueError(f"{name}={raw!r} is not a valid {kind}") from None
    return values
