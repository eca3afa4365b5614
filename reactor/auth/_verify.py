"""``Authenticator``: user JWTs -> identities, and the admin key check."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx2
from jwt import PyJWS
from jwt.exceptions import InvalidSignatureError, PyJWTError

from reactor.auth._config import AuthConfig, AuthProvider, CustomJwtProvider, OidcProvider
from reactor.auth._fetch import DocumentCache, fetch_json
from reactor.auth._identity import identity_from_claims
from reactor.auth._keys import ASYMMETRIC_ALGORITHMS, KeySet, parse_jwks
from reactor.errors import AuthError

__all__ = ["Authenticator", "VerifiedUser"]

_JWS = PyJWS()
_DISCOVERY_SUFFIX = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class VerifiedUser:
    """A verified user token: its identity, expiry (``exp``, epoch seconds) and provider."""

    identity: dict[str, Any]
    expires_at: float
    provider: AuthProvider


class Authenticator:
    """Verifies user JWTs against an app's providers, and the deployment admin key.

    One instance per server: it caches discovery documents and JWKS (keyed by
    URL, for ``jwks_ttl_s``) and owns its HTTP client unless one is passed.
    ``clock`` (epoch seconds) drives both the token time checks and the cache.
    """

    def __init__(
        self,
        config: AuthConfig,
        *,
        admin_key: str | None,
        http_client: httpx2.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        leeway_s: float = 5.0,
        jwks_ttl_s: float = 600.0,
        jwks_min_refresh_s: float = 30.0,
        http_timeout_s: float = 10.0,
    ) -> None:
        self.config = config
        self._admin_key = admin_key
        self._client = http_client
        self._owns_client = http_client is None
        self._http_timeout_s = http_timeout_s
        self._clock = clock
        self._leeway_s = leeway_s
        self._min_refresh_s = jwks_min_refresh_s
        self._discovery = DocumentCache(
            self._load_discovery, clock=clock, ttl_s=jwks_ttl_s, min_refresh_s=jwks_min_refresh_s
        )
        self._jwks = DocumentCache(
            self._load_jwks, clock=clock, ttl_s=jwks_ttl_s, min_refresh_s=jwks_min_refresh_s
        )

    async def __aenter__(self) -> Authenticator:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this instance created it."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    # -- admin ---------------------------------------------------------------

    async def verify_admin_key(self, key: str) -> None:
        """Return if ``key`` is this deployment's admin key, else raise ``AuthError``."""
        if self._admin_key is None:
            raise AuthError("admin keys are not accepted: this server has no admin key")
        # Constant time, so response timing reveals nothing about the key.
        if not hmac.compare_digest(key.encode(), self._admin_key.encode()):
            raise AuthError("invalid admin key")

    # -- users ---------------------------------------------------------------

    async def verify_user_token(self, token: str) -> dict[str, Any]:
        """The identity for a valid user JWT; ``AuthError`` saying why otherwise."""
        return (await self.authenticate_user(token)).identity

    async def authenticate_user(self, token: str) -> VerifiedUser:
        """Like ``verify_user_token``, also returning the token's expiry and provider."""
        header, claims = _decode_unverified(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in ASYMMETRIC_ALGORITHMS:
            raise AuthError(
                f"token algorithm {algorithm!r} is not allowed: tokens must be signed with "
                "a public-key algorithm such as RS256 or ES256 ('none' and HS* never are)"
            )
        issuer = _string_claim(claims, "iss")
        _string_claim(claims, "sub")
        expires_at = _time_claim(claims, "exp", required=True)
        provider = await self._check_signature(token, header, claims, issuer, algorithm)
        now = self._clock()
        assert expires_at is not None
        if now >= expires_at + self._leeway_s:
            raise AuthError(f"token expired at {_iso(expires_at)} (now {_iso(now)})")
        not_before = _time_claim(claims, "nbf", required=False)
        if not_before is not None and now + self._leeway_s < not_before:
            raise AuthError(f"token is not valid yet: nbf is {_iso(not_before)} (now {_iso(now)})")
        identity = identity_from_claims(claims, flatten=isinstance(provider, CustomJwtProvider))
        return VerifiedUser(identity, expires_at, provider)

    async def _check_signature(
        self,
        token: str,
        header: dict[str, Any],
        claims: dict[str, Any],
        issuer: str,
        algorithm: str,
    ) -> AuthProvider:
        """The provider whose key signed ``token``, after the issuer and audience match."""
        by_issuer = [p for p in self.config.providers if p.accepts_issuer(issuer)]
        if not by_issuer:
            known = ", ".join(_issuer_of(p) for p in self.config.providers) or "none"
            raise AuthError(
                f"unknown issuer {issuer!r}: no provider in auth.py accepts it "
                f"(configured issuers: {known})"
            )
        audiences = _audiences(claims)
        matching = [
            p for p in by_issuer if p.application_id is None or p.application_id in audiences
        ]
        if not matching:
            wanted = ", ".join(repr(p.application_id) for p in by_issuer)
            raise AuthError(
                f"wrong audience: token aud {claims.get('aud')!r} does not contain the "
                f"applicationID {wanted} of issuer {issuer!r}"
            )
        first_error: AuthError | None = None
        for provider in matching:
            try:
                await self._verify_with(token, header, provider, algorithm)
            except AuthError as exc:
                first_error = first_error or exc
            else:
                return provider
        assert first_error is not None
        raise first_error

    async def _verify_with(
        self, token: str, header: dict[str, Any], provider: AuthProvider, algorithm: str
    ) -> None:
        if isinstance(provider, CustomJwtProvider) and algorithm != provider.algorithm:
            raise AuthError(
                f"token algorithm {algorithm!r} is not allowed for {provider.describe()}: "
                f"auth.py sets algorithm {provider.algorithm!r}"
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthError("malformed token: header `kid` is not a string")
        keys = await self._keys(provider, refresh=False)
        candidates = keys.candidates(kid, algorithm)
        if not candidates and kid is not None and not keys.has_kid(kid):
            # The issuer may have rotated its keys since we cached them.
            keys = await self._keys(provider, refresh=True)
            candidates = keys.candidates(kid, algorithm)
        if not candidates:
            if kid is not None and not keys.has_kid(kid):
                raise AuthError(
                    f"no signing key with kid {kid!r} in the JWKS of {provider.describe()} "
                    f"(if the keys were rotated, they are refetched at most every "
                    f"{self._min_refresh_s:g}s)"
                )
            raise AuthError(
                f"no key in the JWKS of {provider.describe()} can verify an {algorithm} token"
                + (f" with kid {kid!r}" if kid else "")
            )
        for key in candidates:
            try:
                _JWS.decode_complete(token, key=key, algorithms=[algorithm])
            except InvalidSignatureError:
                continue
            except PyJWTError as exc:
                raise AuthError(f"token signature check failed: {exc}") from exc
            return
        raise AuthError(
            f"invalid token signature: not signed by any key of {provider.describe()} "
            "(forged or tampered with?)"
        )

    async def _keys(self, provider: AuthProvider, *, refresh: bool) -> KeySet:
        if isinstance(provider, CustomJwtProvider):
            if provider.static_keys is not None:
                return provider.static_keys
            assert provider.jwks_url is not None
            return await self._jwks.get(provider.jwks_url, refresh=refresh)
        jwks_uri = await self._discovery.get(provider.discovery_url)
        return await self._jwks.get(jwks_uri, refresh=refresh)

    # -- fetching ------------------------------------------------------------

    def _http(self) -> httpx2.AsyncClient:
        # Created on first use, inside the running event loop that will use it.
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=self._http_timeout_s, follow_redirects=True)
        return self._client

    async def _load_discovery(self, url: str) -> str:
        """The ``jwks_uri`` of the discovery document at ``url``."""
        document = await fetch_json(self._http(), url, "OIDC discovery document")
        if not isinstance(document, dict):
            raise AuthError(f"the OIDC discovery document at {url} is not a JSON object")
        domain = url.removesuffix(_DISCOVERY_SUFFIX)
        declared = document.get("issuer")
        # OIDC Discovery 1.0 §4.3: the document's issuer must be the issuer we
        # asked, else its keys vouch for someone else's tokens.
        if not isinstance(declared, str) or declared.rstrip("/") != domain.rstrip("/"):
            raise AuthError(
                f"wrong issuer: the OIDC discovery document at {url} declares issuer "
                f"{declared!r}, but auth.py has domain {domain!r}"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise AuthError(f"the OIDC discovery document at {url} has no usable `jwks_uri`")
        return jwks_uri

    async def _load_jwks(self, url: str) -> KeySet:
        document = await fetch_json(self._http(), url, "JWKS")
        try:
            return parse_jwks(document)
        except ValueError as exc:
            raise AuthError(f"the JWKS at {url} is unusable: {exc}") from exc


def _decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, read before the signature is checked (to pick the key)."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise AuthError("malformed token: a JWT has three dot-separated parts")
    try:
        parts = _JWS.decode_complete(token, options={"verify_signature": False})
        claims = json.loads(parts["payload"])
    except (PyJWTError, ValueError) as exc:
        raise AuthError(f"malformed token: {exc}") from exc
    if not isinstance(claims, dict):
        raise AuthError("malformed token: the payload is not a JSON object")
    return parts["header"], claims


def _string_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if value is None:
        raise AuthError(f"token has no `{name}` claim")
    if not isinstance(value, str) or not value:
        raise AuthError(f"token claim `{name}` must be a non-empty string, got {value!r}")
    return value


def _time_claim(claims: dict[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise AuthError(f"token has no `{name}` claim")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthError(f"token claim `{name}` must be a number of seconds, got {value!r}")
    return float(value)


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []


def _issuer_of(provider: AuthProvider) -> str:
    return provider.domain if isinstance(provider, OidcProvider) else provider.issuer


def _iso(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return f"{seconds:g} (epoch seconds)"
