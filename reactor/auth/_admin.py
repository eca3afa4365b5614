"""The deployment admin key, and the ``Authorization`` header of HTTP requests."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import secrets
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from reactor.errors import AuthError

__all__ = [
    "ADMIN_KEY_ENV",
    "ADMIN_KEY_FILE",
    "ADMIN_KEY_PREFIX",
    "acting_identity",
    "load_or_create_admin_key",
    "parse_authorization_header",
    "split_acting_as",
]

log = logging.getLogger("reactor.auth")

ADMIN_KEY_ENV = "REACTOR_ADMIN_KEY"
ADMIN_KEY_FILE = "admin_key"
# Recognisable in logs and secret scanners; the "|" mirrors Convex's
# "<deployment>|<secret>" keys and never collides with base64url characters.
ADMIN_KEY_PREFIX = "reactor-admin|"


def load_or_create_admin_key(data_dir: Path) -> str:
    """``$REACTOR_ADMIN_KEY``, else ``<data_dir>/admin_key``, else a new key saved there (0600)."""
    from_env = os.environ.get(ADMIN_KEY_ENV, "").strip()
    if from_env:
        return from_env
    path = Path(data_dir) / ADMIN_KEY_FILE
    existing = _read_key(path)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ADMIN_KEY_PREFIX + secrets.token_urlsafe(32)
    try:
        # O_EXCL: if two processes start at once, exactly one key wins and the
        # other process reads it below. The mode is set at creation, so the
        # secret is never readable by others, not even briefly.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process created it first and may still be writing: wait a little.
        for _ in range(20):
            raced = _read_key(path)
            if raced:
                return raced
            time.sleep(0.025)
        # An empty file left by a crash between create and write: replace it.
        tmp = path.with_name(f".{ADMIN_KEY_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        _write_all(fd, key)
        os.replace(tmp, path)
        return key
    _write_all(fd, key)
    return key


def _read_key(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by other users; run `chmod 600 %s`", path, path)
    return text or None


def _write_all(fd: int, key: str) -> None:
    try:
        os.write(fd, key.encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def parse_authorization_header(
    value: str | None,
) -> tuple[Literal["user", "admin", "none"], str | None]:
    """``Bearer <jwt>`` -> ("user", jwt); ``Convex <key>`` -> ("admin", key); absent -> none.

    The scheme is case-insensitive (RFC 9110). Anything else is an ``AuthError``
    rather than "none": a client that sent credentials we cannot read should
    hear so, not silently run unauthenticated.
    """
    if value is None or not value.strip():
        return "none", None
    scheme, *rest = value.strip().split(None, 1)
    credentials = rest[0].strip() if rest else ""
    kind: Literal["user", "admin"]
    if scheme.lower() == "bearer":
        kind = "user"
    elif scheme.lower() == "convex":
        kind = "admin"
    else:
        raise AuthError(
            "Authorization header must be `Bearer <token>` or `Convex <admin key>`, "
            f"got scheme {scheme[:20]!r}"
        )
    if not credentials:
        raise AuthError(f"Authorization header `{scheme}` has no credentials")
    return kind, credentials


def split_acting_as(admin_value: str) -> tuple[str, dict[str, Any] | None]:
    """Split npm's ``<admin key>:<base64(JSON identity)>`` into key and identity.

    The npm client appends the user an admin acts as to the key after a colon.
    Admin keys may themselves contain colons, so the suffix counts only when
    it decodes to a JSON object; otherwise the whole value is the key.
    """
    key, sep, suffix = admin_value.rpartition(":")
    if not sep or not key or not suffix:
        return admin_value, None
    try:
        decoded = json.loads(base64.b64decode(suffix + "=" * (-len(suffix) % 4), validate=True))
    except (binascii.Error, ValueError):
        return admin_value, None
    if not isinstance(decoded, dict):
        return admin_value, None
    return key, decoded


def acting_identity(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The identity an admin acts as (WebSocket ``impersonating`` or npm's header suffix).

    Only an admin can send one, so its claims are trusted; it still needs a
    ``tokenIdentifier`` (built as ``issuer|subject`` when only those are given)
    because per-user caching and ``ctx.auth`` are keyed by it.
    """
    identity = {str(k): v for k, v in raw.items() if v is not None}
    if not isinstance(identity.get("tokenIdentifier"), str):
        issuer, subject = identity.get("issuer"), identity.get("subject")
        if not (isinstance(issuer, str) and isinstance(subject, str)):
            raise AuthError(
                "the identity to act as needs `tokenIdentifier`, or `issuer` and `subject`"
            )
        identity["tokenIdentifier"] = f"{issuer}|{subject}"
    return identity
