"""``auth.py`` loading and validation: clear errors naming the provider and field."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from auth_helpers import SigningKey, jwks_of

from reactor.auth import (
    AuthConfig,
    AuthConfigError,
    CustomJwtProvider,
    OidcProvider,
    load_auth_config,
    parse_providers,
)

OIDC = {"domain": "https://issuer.example.com", "applicationID": "my-app"}
CUSTOM = {
    "type": "customJwt",
    "issuer": "https://auth.example.com",
    "jwks": "https://auth.example.com/.well-known/jwks.json",
    "algorithm": "RS256",
    "applicationID": "my-app",
}


def write_auth(tmp_path: Path, source: str) -> Path:
    (tmp_path / "auth.py").write_text(source)
    return tmp_path


def test_no_auth_py_means_no_providers(tmp_path: Path) -> None:
    assert load_auth_config(tmp_path) == AuthConfig(providers=())


def test_load_both_kinds(tmp_path: Path) -> None:
    app = write_auth(tmp_path, f"providers = [{OIDC!r}, {CUSTOM!r}]\n")
    config = load_auth_config(app)
    assert config.providers == (
        OidcProvider(domain="https://issuer.example.com", application_id="my-app"),
        CustomJwtProvider(
            issuer="https://auth.example.com",
            algorithm="RS256",
            application_id="my-app",
            jwks_url="https://auth.example.com/.well-known/jwks.json",
        ),
    )
    oidc = config.providers[0]
    assert isinstance(oidc, OidcProvider)
    assert oidc.discovery_url == "https://issuer.example.com/.well-known/openid-configuration"


def test_reload_sees_edits(tmp_path: Path) -> None:
    write_auth(tmp_path, "providers = []\n")
    assert load_auth_config(tmp_path).providers == ()
    write_auth(tmp_path, f"providers = [{OIDC!r}]\n")
    assert len(load_auth_config(tmp_path).providers) == 1


def test_data_uri_jwks_parsed_at_load(rsa_key: SigningKey) -> None:
    encoded = base64.b64encode(json.dumps(jwks_of(rsa_key)).encode()).decode().rstrip("=")
    config = parse_providers([{**CUSTOM, "jwks": f"data:application/json;base64,{encoded}"}])
    provider = config.providers[0]
    assert isinstance(provider, CustomJwtProvider)
    assert provider.jwks_url is None
    assert provider.static_keys is not None and provider.static_keys.has_kid("rsa-1")


def test_missing_application_id_warns(caplog: pytest.LogCaptureFixture) -> None:
    provider = {k: v for k, v in CUSTOM.items() if k != "applicationID"}
    with caplog.at_level(logging.WARNING, logger="reactor.auth"):
        parse_providers([OIDC, provider])
    assert "auth.py providers[1]" in caplog.text
    assert "`aud` is not checked" in caplog.text


def without(provider: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in provider.items() if k != field}


@pytest.mark.parametrize(
    ("providers", "message"),
    [
        ({"domain": "x"}, "auth.py: `providers` must be a list of dicts, got dict"),
        (["https://issuer"], "auth.py providers[0]: expected a dict, got str"),
        ([OIDC, without(CUSTOM, "issuer")], "auth.py providers[1]: customJwt needs `issuer`"),
        ([without(CUSTOM, "jwks")], "auth.py providers[0]: customJwt needs `jwks`"),
        ([without(CUSTOM, "algorithm")], "auth.py providers[0]: customJwt needs `algorithm`"),
        (
            [{**CUSTOM, "algorithm": "HS256"}],
            "auth.py providers[0]: customJwt `algorithm` must be 'RS256' or 'ES256', got 'HS256'",
        ),
        ([without(OIDC, "domain")], "auth.py providers[0]: OIDC provider needs `domain`"),
        (
            [without(OIDC, "applicationID")],
            "auth.py providers[0]: OIDC provider needs `applicationID`",
        ),
        (
            [{"domain": "https://i", "applicationId": "a"}],
            "auth.py providers[0]: unknown field `applicationId` (did you mean `applicationID`?)",
        ),
        (
            [{**CUSTOM, "type": "oauth"}],
            "auth.py providers[0]: unknown `type` 'oauth'",
        ),
        (
            [{**OIDC, "domain": "issuer.example.com"}],
            "auth.py providers[0]: `domain` must be an http(s) URL, got 'issuer.example.com'",
        ),
        (
            [{**CUSTOM, "jwks": "ftp://x/jwks"}],
            "auth.py providers[0]: `jwks` must be an http(s) URL or a data: URI",
        ),
        (
            [{**OIDC, "applicationID": 7}],
            "auth.py providers[0]: `applicationID` must be a non-empty",
        ),
        (
            [{**CUSTOM, "applicationID": ""}],
            "auth.py providers[0]: `applicationID` must be a non-empty",
        ),
        (
            [{**CUSTOM, "jwks": "data:application/json;base64,!!!"}],
            "auth.py providers[0]: `jwks` the data: URI is not valid base64",
        ),
        (
            [{**CUSTOM, "jwks": "data:application/json,not%20json"}],
            "auth.py providers[0]: `jwks` the data: URI does not hold JSON",
        ),
        (
            [{**CUSTOM, "jwks": "data:application/json," + '{"keys": []}'}],
            "auth.py providers[0]: `jwks` the JWKS holds no usable key",
        ),
        (
            [{**CUSTOM, "jwks": "data:application/json,[]"}],
            'auth.py providers[0]: `jwks` a JWKS must be a JSON object with a "keys" list',
        ),
    ],
)
def test_validation_errors(providers: Any, message: str) -> None:
    with pytest.raises(AuthConfigError) as info:
        parse_providers(providers)
    assert str(info.value).startswith(message), str(info.value)


def test_auth_py_without_providers(tmp_path: Path) -> None:
    write_auth(tmp_path, "PROVIDERS = []\n")
    with pytest.raises(AuthConfigError, match=r"auth\.py defines no `providers` list"):
        load_auth_config(tmp_path)


def test_auth_py_that_fails_to_import(tmp_path: Path) -> None:
    write_auth(tmp_path, "providers = [undefined_name]\n")
    with pytest.raises(AuthConfigError, match=r"auth\.py failed to import: NameError"):
        load_auth_config(tmp_path)


def test_errors_from_a_file_name_it(tmp_path: Path) -> None:
    write_auth(tmp_path, f"providers = [{without(CUSTOM, 'issuer')!r}]\n")
    with pytest.raises(AuthConfigError, match=r"auth.py providers\[0\]: customJwt needs `issuer`"):
        load_auth_config(tmp_path)
