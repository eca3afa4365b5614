"""``Authenticator``: user JWTs -> identities, and the admin key check."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx2
from jwt.exceptions import InvalidSignatureError, PyJWTError

from reactor.auth._admin import acting_identity, split_acting_as
from reactor.auth._claims import (
    JWS,
    audiences,
    decode_unverified,
    iso,
    issuer_of,
    string_claim,
    time_claim,
)
from reactor.auth._config import AuthConfig, AuthProvider, CustomJwtProvider
from reactor.auth._fetch import DocumentCache, fetch_json
from reactor.auth._identity import identity_from_claims
from reactor.auth._keys import ASYMMETRIC_ALGORITHMS, KeySet, parse_jwks
from reactor.errors import AuthError

__all__ = ["Authenticator", "VerifiedUser"]

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

    async def __call__(self, token_type: str, token: str | None) -> dict[str, Any] | None:
        """``reactor.server``'s authenticator contract: the identity, or None for nobody.

        ``token_type`` is the WebSocket ``Authenticate`` tokenType (or what the
        HTTP ``Authorization`` scheme maps to): "User" verifies a JWT; "Admin"
        checks the admin key and yields the identity the admin acts as, if
        any (npm's ``<key>:<base64 JSON>``), else None; "None" is anonymous.
        """
        if token_type == "None":
            return None
        if not token:
            raise AuthError(f"an {token_type} token needs a value")
        if token_type == "User":
            return await self.verify_user_token(token)
        if token_type == "Admin":
            key, acting = split_acting_as(token)
            await self.verify_admin_key(key)
            return None if acting is None else acting_identity(acting)
        raise AuthError(f"unknown token type {token_type!r}")

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
        header, claims = decode_unverified(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in ASYMMETRIC_ALGORITHMS:
            raise AuthError(
                f"token algorithm {algorithm!r} is not allowed: tokens must be signed with "
                "a public-key algorithm such as RS256 or ES256 ('none' and HS* never are)"
            )
        issuer = string_claim(claims, "iss")
        string_claim(claims, "sub")
        expires_at = time_claim(claims, "exp")
        if expires_at is None:
            raise AuthError("token has no `exp` claim")
        provider = await self._check_signature(token, header, claims, issuer, algorithm)
        now = self._clock()
        if now >= expires_at + self._leeway_s:
            raise AuthError(f"token expired at {iso(expires_at)} (now {iso(now)})")
        not_before = time_claim(claims, "nbf")
        if not_before is not None and now + self._leeway_s < not_before:
            raise AuthError(f"token is not valid yet: nbf is {iso(not_before)} (now {iso(now)})")
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
            known = ", ".join(issuer_of(p) for p in self.config.providers) or "none"
            raise AuthError(
                f"unknown issuer {issuer!r}: no provider in auth.py accepts it "
                f"(configured issuers: {known})"
            )
        accepted = audiences(claims)
        matching = [
            p for p in by_issuer if p.application_id is None or p.application_id in accepted
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
                JWS.decode_complete(token, key=key, algorithms=[algorithm])
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
