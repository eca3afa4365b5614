"""Upload tokens: what makes an upload URL valid for one hour, and nothing else.

A token is ``<expires ms>.<nonce>.<signature>``: the expiry in milliseconds
since the epoch, 12 random bytes (base64url), and base64url(HMAC-SHA256(key,
"reactor-upload-v1." + expiry + "." + nonce)). The key is a random secret kept
in the files folder, so a token outlives a server restart but no other
deployment (with its own folder) accepts it. Nothing is stored per token: a
token may upload more than one file until it expires, as the reference's
bearer upload URLs may within their hour.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = [
    "UPLOAD_URL_LIFETIME_MS",
    "ExpiredTokenError",
    "InvalidTokenError",
    "check_upload_token",
    "make_upload_token",
]

UPLOAD_URL_LIFETIME_MS = 60 * 60 * 1000  # STO-01, LIM-10: upload URLs are valid for 1 h
_DOMAIN = b"reactor-upload-v1."


class InvalidTokenError(Exception):
    """Malformed, or not signed with this deployment's key (a forgery)."""


class ExpiredTokenError(Exception):
    """Signed by this deployment, but past its hour."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, _DOMAIN + payload.encode(), hashlib.sha256).digest())


def make_upload_token(key: bytes, now_ms: float) -> str:
    expires = int(now_ms) + UPLOAD_URL_LIFETIME_MS
    payload = f"{expires}.{_b64(secrets.token_bytes(12))}"
    return f"{payload}.{_sign(key, payload)}"


def check_upload_token(key: bytes, token: str | None, now_ms: float) -> None:
    """Raise ``InvalidTokenError`` or ``ExpiredTokenError`` unless ``token`` is good now.

    The signature is checked first, so an expired answer only ever goes to
    someone who once held a real token."""
    if not token or len(token) > 200:
        raise InvalidTokenError("the upload URL has no valid token")
    payload, _, signature = token.rpartition(".")
    expires, _, nonce = payload.partition(".")
    if not (expires.isascii() and expires.isdigit() and nonce and signature):
        raise InvalidTokenError("the upload URL has no valid token")
    if not hmac.compare_digest(signature, _sign(key, payload)):
        raise InvalidTokenError("the upload URL's token is not valid for this deployment")
    if int(expires) <= now_ms:
        raise ExpiredTokenError("the upload URL has expired: upload URLs are valid for 1 hour")
