"""Server settings, with the limits they enforce named where they are refused."""

from __future__ import annotations

from dataclasses import dataclass, field

from reactor.sync import SessionLimits

__all__ = ["ServerConfig"]

MIB = 1024 * 1024


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
    session_request_retention_s: float = 600.0
    """How long exactly-once mutation records are kept (a re-send after that runs again)."""
    session_request_gc_interval_s: float = 60.0
    ws_ping_interval_s: float = 5.0
    """WebSocket ping frames (the Rust client counts them as liveness)."""
    ws_ping_timeout_s: float = 120.0
    """Drop a connection whose pong does not come back in this long."""
    cors: bool = True
    """Answer browsers from any origin, as the reference backend does."""
