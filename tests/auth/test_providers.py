"""Tokens accepted through each provider kind: OIDC discovery, customJwt URL and data: URI."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from auth_helpers import APP_ID, Clock, Issuer, MakeAuth, SigningKey, jwks_of

pytestmark = pytest.mark.anyio


def oidc(issuer: Issuer, **extra: Any) -> dict[str, Any]:
    return {"domain": issuer.base_url, "applicationID": APP_ID, **extra}


def custom(issuer: Issuer, alg: str, jwks: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "customJwt",
        "issuer": issuer.base_url,
        "jwks": jwks or issuer.jwks_url,
        "algorithm": alg,
        "applicationID": APP_ID,
        **extra,
    }


@pytest.fixture(params=["RS256", "ES256"])
def key(request: pytest.FixtureRequest, rsa_key: SigningKey, ec_key: SigningKey) -> SigningKey:
    return rsa_key if request.param == "RS256" else ec_key


async def test_oidc_discovery(issuer: Issuer, make_auth: MakeAuth, key: SigningKey) -> None:
    auth = make_auth([oidc(issuer)])
    identity = await auth.verify_user_token(key.sign(issuer.claims(sub="u1")))
    assert identity == {
        "tokenIdentifier": f"{issuer.base_url}|u1",
        "subject": "u1",
        "issuer": issuer.base_url,
    }
    assert issuer.counts == {"discovery": 1, "jwks": 1}


async def test_custom_jwt_url(issuer: Issuer, make_auth: MakeAuth, key: SigningKey) -> None:
    auth = make_auth([custom(issuer, key.alg)])
    identity = await auth.verify_user_token(key.sign(issuer.claims(sub="u2")))
    assert identity["tokenIdentifier"] == f"{issuer.base_url}|u2"
    assert issuer.counts == {"jwks": 1}  # no discovery for customJwt


async def test_custom_jwt_base64_data_uri(
    issuer: Issuer, make_auth: MakeAuth, key: SigningKey
) -> None:
    encoded = base64.b64encode(json.dumps(jwks_of(key)).encode()).decode()
    auth = make_auth([custom(issuer, key.alg, jwks=f"data:application/json;base64,{encoded}")])
    identity = await auth.verify_user_token(key.sign(issuer.claims()))
    assert identity["subject"] == "user-1"
    assert issuer.counts == {}  # the keys came from the config, not the network


async def test_custom_jwt_urlencoded_data_uri(
    issuer: Issuer, make_auth: MakeAuth, key: SigningKey
) -> None:
    uri = "data:application/json," + quote(json.dumps(jwks_of(key)))
    auth = make_auth([custom(issuer, key.alg, jwks=uri)])
    assert (await auth.verify_user_token(key.sign(issuer.claims())))["subject"] == "user-1"


async def test_custom_jwt_without_application_id_skips_aud(
    issuer: Issuer, make_auth: MakeAuth, rsa_key: SigningKey
) -> None:
    provider = custom(issuer, "RS256")
    del provider["applicationID"]
    auth = make_auth([provider])
    for aud in ("someone-else", None):
        token = rsa_key.sign(issuer.claims(aud=aud))
        assert (await auth.verify_user_token(token))["subject"] == "user-1"


@pytest.mark.parametrize("slash_in", ["config", "token"])
async def test_oidc_trailing_slash_difference(
    issuer: Issuer, make_auth: MakeAuth, rsa_key: SigningKey, slash_in: str
) -> None:
    domain = issuer.base_url + ("/" if slash_in == "config" else "")
    iss = issuer.base_url + ("/" if slash_in == "token" else "")
    auth = make_auth([{"domain": domain, "applicationID": APP_ID}])
    identity = await auth.verify_user_token(rsa_key.sign(issuer.claims(iss=iss)))
    assert identity["issuer"] == iss  # the token's own iss, as Convex reports it
    assert identity["tokenIdentifier"] == f"{iss}|user-1"


async def test_aud_list_containing_application_id(
    issuer: Issuer, make_auth: MakeAuth, ec_key: SigningKey
) -> None:
    auth = make_auth([oidc(issuer)])
    token = ec_key.sign(issuer.claims(aud=["other", APP_ID]))
    assert (await auth.verify_user_token(token))["subject"] == "user-1"


async def test_token_without_kid_tries_fitting_keys(
    issuer: Issuer, make_auth: MakeAuth, rsa_key: SigningKey
) -> None:
    auth = make_auth([oidc(issuer)])
    token = jwt.encode(issuer.claims(), rsa_key.private, algorithm="RS256")
    assert (await auth.verify_user_token(token))["subject"] == "user-1"


async def test_second_provider_with_same_issuer_other_app(
    issuer: Issuer, make_auth: MakeAuth, rsa_key: SigningKey
) -> None:
    auth = make_auth([oidc(issuer), {"domain": issuer.base_url, "applicationID": "admin-ui"}])
    claims = issuer.claims(aud="admin-ui")
    verified = await auth.authenticate_user(rsa_key.sign(claims))
    assert verified.provider.application_id == "admin-ui"
    assert verified.expires_at == claims["exp"]


async def test_leeway_accepts_just_expired(
    issuer: Issuer, make_auth: MakeAuth, rsa_key: SigningKey, clock: Clock
) -> None:
    auth = make_auth([oidc(issuer)], leeway_s=30)
    token = rsa_key.sign(issuer.claims(exp=int(clock.now) - 10))
    assert (await auth.verify_user_token(token))["subject"] == "user-1"
