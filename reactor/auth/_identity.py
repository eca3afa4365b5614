"""Verified JWT claims -> the identity dict ``ctx.auth.get_user_identity()`` returns."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["identity_from_claims"]

# OIDC standard claim -> Convex's camelCase UserIdentity field.
_STANDARD: dict[str, str] = {
    "name": "name",
    "given_name": "givenName",
    "family_name": "familyName",
    "nickname": "nickname",
    "preferred_username": "preferredUsername",
    "profile": "profileUrl",
    "picture": "pictureUrl",
    "email": "email",
    "email_verified": "emailVerified",
    "gender": "gender",
    "birthdate": "birthday",
    "zoneinfo": "timezone",
    "locale": "language",
    "phone_number": "phoneNumber",
    "phone_number_verified": "phoneNumberVerified",
    "address": "address",
    "updated_at": "updatedAt",
}

# Dropped: iss/sub become issuer/subject; the rest change on every token
# refresh (or, for Clerk's `fva`, with time), and keeping them would make the
# refreshed identity unequal and bust every per-user query cache entry.
_DROPPED = frozenset({"iss", "sub", "jti", "nbf", "fva", "exp", "iat", "aud"})

_BOOLEAN_FIELDS = frozenset({"email_verified", "phone_number_verified"})


def identity_from_claims(claims: Mapping[str, Any], *, flatten: bool) -> dict[str, Any]:
    """The identity for verified ``claims`` (which must hold string ``iss`` and ``sub``).

    ``flatten`` (customJwt providers) turns nested object claims into dotted
    keys (``{"org": {"id": 1}}`` -> ``"org.id"``), as Convex does.
    """
    issuer: str = claims["iss"]
    subject: str = claims["sub"]
    identity: dict[str, Any] = {
        "tokenIdentifier": f"{issuer}|{subject}",
        "subject": subject,
        "issuer": issuer,
    }
    for claim, value in claims.items():
        if claim in _DROPPED:
            continue
        field = _STANDARD.get(claim)
        if field is not None:
            mapped = _standard_value(claim, value)
            if mapped is not None:
                identity[field] = mapped
        elif flatten and isinstance(value, Mapping):
            for key, leaf in _flatten(value, claim):
                identity.setdefault(key, leaf)
        else:
            identity.setdefault(claim, _convex_value(value))
    return identity


def _standard_value(claim: str, value: Any) -> Any:
    """The field's value, or None to leave the field out (absent, as in Convex)."""
    if claim in _BOOLEAN_FIELDS:
        # Some issuers (AWS Cognito) send "true"/"false" strings.
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return value if isinstance(value, bool) else None
    if claim == "address":
        # Convex exposes the formatted address string (OIDC's address is an object).
        if isinstance(value, Mapping):
            formatted = value.get("formatted")
            return formatted if isinstance(formatted, str) else None
        return value if isinstance(value, str) else None
    if claim == "updated_at":
        # OIDC sends seconds since the epoch; Convex surfaces an RFC 3339 string.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC).isoformat()
        return value if isinstance(value, str) else None
    return value if isinstance(value, str) else _convex_value(value)


def _flatten(value: Mapping[str, Any], prefix: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, leaf in value.items():
        name = f"{prefix}.{key}"
        if isinstance(leaf, Mapping):
            out.extend(_flatten(leaf, name))
        else:
            out.append((name, _convex_value(leaf)))
    return out


def _convex_value(value: Any) -> Any:
    """JSON claim value -> Convex value: JSON numbers are float64, as in JS."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return [_convex_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _convex_value(v) for k, v in value.items()}
    return value
