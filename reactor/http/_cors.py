"""CORS for HTTP actions: answering preflights and marking responses (HTTP-03).

Convex leaves CORS to the developer; this is the helper most apps write by
hand (or take from convex-helpers' ``corsRouter``). A router configured with
``http.cors(...)`` answers an ``OPTIONS`` preflight to any of its paths (unless
the app routes ``OPTIONS`` for that path itself) and adds the
``Access-Control-*`` headers to every response to an allowed origin. A
preflight from another origin gets a 403 without those headers, so the
browser refuses the real request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders

__all__ = ["CorsConfig"]


@dataclass(frozen=True)
class CorsConfig:
    allowed_origins: tuple[str, ...]
    """Exact origins (``https://app.example.com``), or ``"*"`` for any."""
    allowed_headers: tuple[str, ...] = ("Content-Type", "Authorization")
    """Request headers a browser may send; ``"*"`` echoes whatever it asks for."""
    exposed_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age_s: int = 86400

    def __post_init__(self) -> None:
        for origin in self.allowed_origins:
            if origin != "*" and (origin.endswith("/") or "://" not in origin):
                raise ValueError(
                    f"CORS origins look like https://app.example.com (no path), got {origin!r}"
                )

    def allows(self, origin: str | None) -> bool:
        return origin is not None and (
            "*" in self.allowed_origins or origin in self.allowed_origins
        )

    def _allow_origin(self, origin: str) -> str:
        # "*" cannot go with credentials: name the origin then, as browsers require.
        if "*" in self.allowed_origins and not self.allow_credentials:
            return "*"
        return origin

    def preflight_headers(
        self, origin: str, request_headers: Headers, methods: Iterable[str]
    ) -> dict[str, str]:
        asked = request_headers.get("access-control-request-headers", "")
        allowed = asked if "*" in self.allowed_headers else ", ".join(self.allowed_headers)
        headers = {
            "Access-Control-Allow-Origin": self._allow_origin(origin),
            "Access-Control-Allow-Methods": ", ".join(sorted(methods)),
            "Access-Control-Max-Age": str(self.max_age_s),
            "Vary": "Origin",
        }
        if allowed:
            headers["Access-Control-Allow-Headers"] = allowed
        if self.allow_credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers

    def mark(self, origin: str, headers: MutableHeaders) -> None:
        """Add the response headers of an allowed cross-origin request."""
        headers["Access-Control-Allow-Origin"] = self._allow_origin(origin)
        headers.add_vary_header("Origin")
        if self.allow_credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        if self.exposed_headers:
            headers["Access-Control-Expose-Headers"] = ", ".join(self.exposed_headers)
