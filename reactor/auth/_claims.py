"""Reading a JWT before and after its signature is checked: header, claims, times."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from jwt import PyJWS
from jwt.exceptions import PyJWTError

from reactor.auth._config import AuthProvider, OidcProvider
from reactor.errors import AuthError

__all__ = [
    "JWS",
    "audiences",
    "decode_unverified",
    "iso",
    "issuer_of",
    "string_claim",
    "time_claim",
]

JWS = PyJWS()


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, read before the signature is checked (to pick the key)."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise AuthError("malformed token: a JWT has three dot-separated parts")
    try:
        parts = JWS.decode_complete(token, options={"verify_signature": False})
        claims = json.loads(parts["payload"])
    except (PyJWTError, ValueError) as exc:
        raise AuthError(f"malformed token: {exc}") from exc
    if not isinstance(claims, dict):
        raise AuthError("malformed token: the payload is not a JSON object")
    return parts["header"], claims


def string_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if value is None:
        raise AuthError(f"token has no `{name}` claim")
    if not isinstance(value, str) or not value:
        raise AuthError(f"token claim `{name}` must be a non-empty string, got {value!r}")
    return value


def time_claim(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthError(f"token claim `{name}` must be a number of seconds, got {value!r}")
    return float(value)


def audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


def issuer_of(provider: AuthProvider) -> str:
    return provider.domain if isinstance(provider, OidcProvider) else provider.issuer


def iso(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return f"{seconds:g} (epoch seconds)"
