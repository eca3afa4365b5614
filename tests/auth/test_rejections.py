"""Every bad token is refused with an ``AuthError`` whose message names the problem."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from typing import Any

import jwt
import pytest
from auth_helpers import APP_ID, Clock, Issuer, MakeAuth, SigningKey
from cryptography.hazmat.primitives import serialization

from reactor.auth import Authenticator
from reactor.errors import AuthError

pytestmark = pytest.mark.anyio


def _oidc(issuer: Issuer) -> dict[str, Any]:
    return {"domain": issuer.base_url, "applicationID": APP_ID}


def _custom(issuer: Issuer) -> dict[str, Any]:
    return {
        "type": "customJwt",
        "issuer": issuer.base_url,
        "jwks": issuer.jwks_url,
        "algorithm": "RS256",
        "applicationID": APP_ID,
    }


@pytest.fixture
def oidc_auth(issuer: Issuer, make_auth: MakeAuth) -> Authenticator:
    return make_auth([_oidc(issuer)])


@pytest.fixture
def custom_auth(issuer: Issuer, make_auth: MakeAuth) -> Authenticator:
    return make_auth([_custom(issuer)])


@pytest.fixture(params=["oidc", "customJwt"])
def either_auth(
    request: pytest.FixtureRequest, issuer: Issuer, make_auth: MakeAuth
) -> Authenticator:
    """The same check against both provider kinds."""
    return make_auth([_oidc(issuer) if request.param == "oidc" else _custom(issuer)])


async def refused(auth: Authenticator, token: Any, *fragments: str) -> str:
    with pytest.raises(AuthError) as info:
        await auth.verify_user_token(token)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d.e", "!!!.@@@.###", _b64({"alg": "RS256"}) + ".bm90IGpzb24.sig"],
)
async def test_malformed(oidc_auth: Authenticator, token: str) -> None:
    await refused(oidc_auth, token, "malformed token")


async def test_payload_not_an_object(oidc_auth: Authenticator) -> None:
    token = _b64({"alg": "RS256", "typ": "JWT"}) + "." + _b64([1, 2]) + ".c2ln"  # type: ignore[arg-type]
    await refused(oidc_auth, token, "malformed token")


async def test_unknown_issuer(
    oidc_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey
) -> None:
    token = rsa_key.sign(issuer.claims(iss="https://evil.example"))
    await refused(oidc_auth, token, "unknown issuer 'https://evil.example'", issuer.base_url)
    assert issuer.counts == {}  # nothing fetched for an issuer nobody configured


async def test_no_providers_configured(
    make_auth: MakeAuth, issuer: Issuer, rsa_key: SigningKey
) -> None:
    auth = make_auth([])
    await refused(auth, rsa_key.sign(issuer.claims()), "unknown issuer", "configured issuers: none")


async def test_forged_signature(
    either_auth: Authenticator,
    issuer: Issuer,
    attacker_key: SigningKey,
) -> None:
    auth = either_auth
    await refused(auth, attacker_key.sign(issuer.claims()), "invalid token signature")


async def test_tampered_payload(
    oidc_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey
) -> None:
    header, _, signature = rsa_key.sign(issuer.claims(sub="alice")).split(".")
    forged = f"{header}.{_b64(issuer.claims(sub='admin'))}.{signature}"
    await refused(oidc_auth, forged, "invalid token signature")


async def test_expired(either_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey) -> None:
    auth = either_auth
    token = rsa_key.sign(issuer.claims(iat=1_000_000_000, exp=1_000_000_600))
    await refused(auth, token, "token expired at 2001-09-09T")


async def test_expired_by_clock(
    oidc_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey, clock: Clock
) -> None:
    token = rsa_key.sign(issuer.claims())
    await oidc_auth.verify_user_token(token)
    clock.advance(3700)  # past exp (one hour) plus the 5 s leeway
    await refused(oidc_auth, token, "token expired")


async def test_not_yet_valid(
    oidc_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey, clock: Clock
) -> None:
    token = rsa_key.sign(issuer.claims(nbf=int(clock.now) + 600))
    await refused(oidc_auth, token, "not valid yet", "nbf")


@pytest.mark.parametrize("aud", ["other-app", ["a", "b"], None])
async def test_wrong_audience(
    oidc_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey, aud: Any
) -> None:
    token = rsa_key.sign(issuer.claims(aud=aud))
    await refused(oidc_auth, token, "wrong audience", repr(APP_ID))


async def test_custom_jwt_wrong_audience(
    custom_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey
) -> None:
    await refused(custom_auth, rsa_key.sign(issuer.claims(aud="x")), "wrong audience")


async def test_wrong_issuer_in_discovery(
    oidc_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey
) -> None:
    issuer.declared_issuer = "https://someone-else.example"
    await refused(
        oidc_auth, rsa_key.sign(issuer.claims()), "wrong issuer", "https://someone-else.example"
    )


async def test_custom_jwt_issuer_must_match_exactly(
    custom_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey
) -> None:
    token = rsa_key.sign(issuer.claims(iss=issuer.base_url + "/"))
    await refused(custom_auth, token, "unknown issuer")


@pytest.mark.parametrize("claim", ["sub", "iss", "exp"])
async def test_missing_required_claim(
    oidc_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey, claim: str
) -> None:
    token = rsa_key.sign(issuer.claims(**{claim: None}))
    await refused(oidc_auth, token, f"token has no `{claim}` claim")


@pytest.mark.parametrize(
    ("claim", "value"), [("sub", 42), ("iss", ""), ("exp", "tomorrow"), ("nbf", "now")]
)
async def test_badly_typed_claim(
    oidc_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey, claim: str, value: Any
) -> None:
    token = rsa_key.sign(issuer.claims(**{claim: value}))
    await refused(oidc_auth, token, f"token claim `{claim}` must be")


async def test_alg_none(oidc_auth: Authenticator, issuer: Issuer) -> None:
    token = jwt.encode(issuer.claims(), "", algorithm="none")
    await refused(oidc_auth, token, "token algorithm 'none' is not allowed")


async def test_hmac_with_public_key_as_secret(
    either_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey
) -> None:
    # The classic algorithm-confusion forgery: HS256 keyed with the public JWK.
    auth = either_auth
    # PyJWT refuses to sign so, hence the hand-made token.
    pem = rsa_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{_b64({'alg': 'HS256', 'kid': 'rsa-1'})}.{_b64(issuer.claims())}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    await refused(auth, token, "token algorithm 'HS256' is not allowed")
    assert issuer.counts == {}


async def test_custom_jwt_other_algorithm(
    custom_auth: Authenticator, issuer: Issuer, ec_key: SigningKey
) -> None:
    # ES256 is a fine algorithm, but this provider is configured for RS256 only.
    await refused(custom_auth, ec_key.sign(issuer.claims()), "'ES256' is not allowed", "'RS256'")


async def test_kid_of_wrong_key_type(
    oidc_auth: Authenticator, issuer: Issuer, ec_key: SigningKey, rsa_key: SigningKey
) -> None:
    # Signed with the EC key but pointing at the RSA key's kid.
    token = jwt.encode(issuer.claims(), ec_key.private, algorithm="ES256", headers={"kid": "rsa-1"})
    await refused(oidc_auth, token, "can verify an ES256 token")


async def test_unknown_kid(
    oidc_auth: Authenticator, issuer: Issuer, rotated_key: SigningKey
) -> None:
    await refused(oidc_auth, rotated_key.sign(issuer.claims()), "no signing key with kid 'rsa-2'")


async def test_jwks_http_error(
    custom_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey
) -> None:
    issuer.status = 500
    await refused(
        custom_auth, rsa_key.sign(issuer.claims()), "could not fetch the JWKS", "HTTP 500"
    )


async def test_discovery_http_error(
    oidc_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey
) -> None:
    issuer.status = 404
    await refused(
        oidc_auth, rsa_key.sign(issuer.claims()), "could not fetch the OIDC discovery document"
    )


async def test_jwks_unreachable(make_auth: MakeAuth, rsa_key: SigningKey) -> None:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    auth = make_auth(
        [{"type": "customJwt", "issuer": dead, "jwks": dead + "/jwks.json", "algorithm": "RS256"}]
    )
    token = rsa_key.sign({"iss": dead, "sub": "u", "exp": 9_999_999_999})
    await refused(auth, token, f"could not fetch the JWKS from {dead}/jwks.json")


async def test_jwks_not_json_or_unusable(
    custom_auth: Authenticator, issuer: Issuer, rsa_key: SigningKey
) -> None:
    issuer.jwks = {"keys": [{"kty": "nope"}]}
    await refused(custom_auth, rsa_key.sign(issuer.claims()), "JWKS at", "unusable")
