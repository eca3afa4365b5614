"""``auth.py``: the JWT providers an app accepts, loaded and checked up front."""

from __future__ import annotations

import difflib
import importlib.util
import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from reactor.auth._keys import KeySet, decode_data_uri, parse_jwks
from reactor.errors import ReactorError

__all__ = [
    "AuthConfig",
    "AuthConfigError",
    "AuthProvider",
    "CustomJwtProvider",
    "OidcProvider",
    "load_auth_config",
    "parse_providers",
]

log = logging.getLogger("reactor.auth")

_counter = itertools.count(1)

_OIDC_FIELDS = ("domain", "applicationID")
_CUSTOM_FIELDS = ("type", "issuer", "jwks", "algorithm", "applicationID")
_CUSTOM_ALGORITHMS = ("RS256", "ES256")


class AuthConfigError(ReactorError):
    """``auth.py`` is missing something or has a malformed provider."""


@dataclass(frozen=True)
class OidcProvider:
    """An OpenID Connect issuer: keys found by discovery, ``aud`` must hold the app id."""

    domain: str
    application_id: str

    @property
    def discovery_url(self) -> str:
        return self.domain.rstrip("/") + "/.well-known/openid-configuration"

    def accepts_issuer(self, issuer: str) -> bool:
        # Providers disagree on whether the issuer ends with "/" (Auth0's
        # tokens do, its docs don't), so compare without it, as Convex does.
        return issuer.rstrip("/") == self.domain.rstrip("/")

    def describe(self) -> str:
        return f"OIDC provider {self.domain}"


@dataclass(frozen=True)
class CustomJwtProvider:
    """A JWT issuer with a fixed JWKS location and one algorithm."""

    issuer: str
    algorithm: Literal["RS256", "ES256"]
    application_id: str | None
    jwks_url: str | None = None
    # Parsed once at load from a data: URI, so a bad inline JWKS fails the load.
    static_keys: KeySet | None = field(default=None, compare=False, repr=False)

    def accepts_issuer(self, issuer: str) -> bool:
        return issuer == self.issuer

    def describe(self) -> str:
        return f"customJwt provider {self.issuer}"


AuthProvider = OidcProvider | CustomJwtProvider


@dataclass(frozen=True)
class AuthConfig:
    """The providers of one app; empty when the app has no ``auth.py``."""

    providers: tuple[AuthProvider, ...] = ()


def load_auth_config(app_dir: Path) -> AuthConfig:
    """Import ``<app_dir>/auth.py`` by path and check its ``providers``."""
    path = Path(app_dir) / "auth.py"
    if not path.is_file():
        return AuthConfig()
    # A unique name per load, kept out of sys.modules, so a reload re-executes
    # the file and never shadows another module called "auth".
    spec = importlib.util.spec_from_file_location(f"reactor_auth_config_{next(_counter)}", path)
    if spec is None or spec.loader is None:
        raise AuthConfigError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise AuthConfigError(f"{path} failed to import: {type(exc).__name__}: {exc}") from exc
    if not hasattr(module, "providers"):
        raise AuthConfigError(f"{path} defines no `providers` list")
    return parse_providers(module.providers)


def parse_providers(providers: Any, *, source: str = "auth.py") -> AuthConfig:
    """Check a ``providers`` value (as found in ``auth.py``) and build the config."""
    if not isinstance(providers, list | tuple):
        raise AuthConfigError(
            f"{source}: `providers` must be a list of dicts, got {type(providers).__name__}"
        )
    parsed = tuple(_parse_one(p, f"{source} providers[{i}]") for i, p in enumerate(providers))
    return AuthConfig(parsed)


def _parse_one(raw: Any, where: str) -> AuthProvider:
    if not isinstance(raw, Mapping):
        raise AuthConfigError(f"{where}: expected a dict, got {type(raw).__name__}")
    kind = raw.get("type")
    if kind is None:
        return _parse_oidc(raw, where)
    if kind == "customJwt":
        return _parse_custom(raw, where)
    raise AuthConfigError(
        f"{where}: unknown `type` {kind!r} (use 'customJwt', or no `type` for an OIDC provider)"
    )


def _parse_oidc(raw: Mapping[str, Any], where: str) -> OidcProvider:
    _reject_unknown(raw, _OIDC_FIELDS, where)
    domain = _required_str(raw, "domain", where, "OIDC provider")
    _check_url(domain, "domain", where)
    app_id = _required_str(raw, "applicationID", where, "OIDC provider")
    return OidcProvider(domain=domain, application_id=app_id)


def _parse_custom(raw: Mapping[str, Any], where: str) -> CustomJwtProvider:
    _reject_unknown(raw, _CUSTOM_FIELDS, where)
    issuer = _required_str(raw, "issuer", where, "customJwt")
    jwks = _required_str(raw, "jwks", where, "customJwt")
    algorithm = _required_str(raw, "algorithm", where, "customJwt")
    if algorithm not in _CUSTOM_ALGORITHMS:
        raise AuthConfigError(
            f"{where}: customJwt `algorithm` must be 'RS256' or 'ES256', got {algorithm!r}"
        )
    app_id = raw.get("applicationID")
    if app_id is not None and (not isinstance(app_id, str) or not app_id):
        raise AuthConfigError(f"{where}: `applicationID` must be a non-empty string")
    if app_id is None:
        log.warning(
            "%s: customJwt provider %s has no `applicationID`, so tokens' `aud` is not "
            "checked: any token this issuer signs for any audience is accepted",
            where,
            issuer,
        )
    static_keys: KeySet | None = None
    jwks_url: str | None = None
    if jwks.lower().startswith("data:"):
        try:
            static_keys = parse_jwks(decode_data_uri(jwks))
        except ValueError as exc:
            raise AuthConfigError(f"{where}: `jwks` {exc}") from exc
    else:
        _check_url(jwks, "jwks", where, data_ok=True)
        jwks_url = jwks
    return CustomJwtProvider(
        issuer=issuer,
        algorithm="RS256" if algorithm == "RS256" else "ES256",
        application_id=app_id,
        jwks_url=jwks_url,
        static_keys=static_keys,
    )


def _required_str(raw: Mapping[str, Any], name: str, where: str, kind: str) -> str:
    value = raw.get(name)
    if value is None:
        raise AuthConfigError(f"{where}: {kind} needs `{name}`")
    if not isinstance(value, str) or not value.strip():
        raise AuthConfigError(f"{where}: `{name}` must be a non-empty string, got {value!r}")
    return value.strip()


def _check_url(value: str, name: str, where: str, *, data_ok: bool = False) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        also = " or a data: URI" if data_ok else ""
        raise AuthConfigError(f"{where}: `{name}` must be an http(s) URL{also}, got {value!r}")


def _reject_unknown(raw: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    # A typo such as `applicationId` would otherwise silently drop the aud check.
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise AuthConfigError(f"{where}: unknown field `{key}`{hint}")
