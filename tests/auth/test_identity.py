"""Claims -> identity: Convex's field names, dropped volatile claims, flattened custom claims."""

from __future__ import annotations

from typing import Any

import pytest
from auth_helpers import APP_ID, Issuer, MakeAuth, SigningKey, jwks_of

from reactor.auth import identity_from_claims

pytestmark = pytest.mark.anyio


def test_t33_token_identifier_and_name() -> None:
    identity = identity_from_claims(
        {"iss": "https://iss", "sub": "u1", "name": "Sarah", "exp": 1, "iat": 0}, flatten=False
    )
    assert identity == {
        "tokenIdentifier": "https://iss|u1",
        "subject": "u1",
        "issuer": "https://iss",
        "name": "Sarah",
    }


def test_standard_claims_map_to_camel_case() -> None:
    claims: dict[str, Any] = {
        "iss": "https://iss",
        "sub": "u1",
        "name": "Sarah Connor",
        "given_name": "Sarah",
        "family_name": "Connor",
        "nickname": "sc",
        "preferred_username": "sarah",
        "profile": "https://example.com/sarah",
        "picture": "https://example.com/sarah.png",
        "email": "sarah@example.com",
        "email_verified": True,
        "gender": "female",
        "birthdate": "1965-05-13",
        "zoneinfo": "America/Los_Angeles",
        "locale": "en-US",
        "phone_number": "+1 555 0100",
        "phone_number_verified": "false",
        "address": {"formatted": "1 Main St\nLA", "country": "US"},
        "updated_at": 1_700_000_000,
    }
    identity = identity_from_claims(claims, flatten=False)
    assert identity == {
        "tokenIdentifier": "https://iss|u1",
        "subject": "u1",
        "issuer": "https://iss",
        "name": "Sarah Connor",
        "givenName": "Sarah",
        "familyName": "Connor",
        "nickname": "sc",
        "preferredUsername": "sarah",
        "profileUrl": "https://example.com/sarah",
        "pictureUrl": "https://example.com/sarah.png",
        "email": "sarah@example.com",
        "emailVerified": True,
        "gender": "female",
        "birthday": "1965-05-13",
        "timezone": "America/Los_Angeles",
        "language": "en-US",
        "phoneNumber": "+1 555 0100",
        "phoneNumberVerified": False,  # Cognito-style string booleans become booleans
        "address": "1 Main St\nLA",
        "updatedAt": "2023-11-14T22:13:20+00:00",
    }


def test_volatile_claims_are_dropped() -> None:
    claims = {
        "iss": "i",
        "sub": "s",
        "jti": "x",
        "nbf": 1,
        "fva": [1, 2],
        "exp": 2,
        "iat": 0,
        "aud": "app",
        "role": "admin",
    }
    assert identity_from_claims(claims, flatten=False) == {
        "tokenIdentifier": "i|s",
        "subject": "s",
        "issuer": "i",
        "role": "admin",
    }


def test_custom_claims_flattened_for_custom_jwt_only() -> None:
    claims = {
        "iss": "i",
        "sub": "s",
        "properties": {"id": "p1", "org": {"plan": "pro", "seats": 5}, "none": None},
        "tags": ["a", 1],
        "level": 3,
    }
    assert identity_from_claims(claims, flatten=True) == {
        "tokenIdentifier": "i|s",
        "subject": "s",
        "issuer": "i",
        "properties.id": "p1",
        "properties.org.plan": "pro",
        "properties.org.seats": 5.0,
        "properties.none": None,
        "tags": ["a", 1.0],
        "level": 3.0,  # JSON numbers are float64, as in Convex's JS runtime
    }
    nested = identity_from_claims(claims, flatten=False)
    assert nested["properties"] == {"id": "p1", "org": {"plan": "pro", "seats": 5.0}, "none": None}


async def test_refreshed_token_gives_equal_identity(
    issuer: Issuer, make_auth: MakeAuth, rsa_key: SigningKey
) -> None:
    auth = make_auth([{"domain": issuer.base_url, "applicationID": APP_ID}])
    first = issuer.claims(name="Sarah", jti="a", nbf=0, sid="session-1")
    second = issuer.claims(
        name="Sarah", jti="b", nbf=5, sid="session-1", iat=first["iat"] + 60, exp=first["exp"] + 60
    )
    one = await auth.verify_user_token(rsa_key.sign(first))
    two = await auth.verify_user_token(rsa_key.sign(second))
    assert one == two
    assert one["name"] == "Sarah" and one["sid"] == "session-1"


async def test_custom_jwt_end_to_end_flattening(
    issuer: Issuer, make_auth: MakeAuth, ec_key: SigningKey
) -> None:
    import base64
    import json

    data = base64.b64encode(json.dumps(jwks_of(ec_key)).encode()).decode()
    auth = make_auth(
        [
            {
                "type": "customJwt",
                "issuer": "https://iss",
                "algorithm": "ES256",
                "jwks": f"data:application/json;base64,{data}",
            }
        ]
    )
    token = ec_key.sign(
        issuer.claims(
            iss="https://iss",
            sub="u1",
            name="Sarah",
            properties={"id": "42", "team": {"role": "owner"}},
        )
    )
    identity = await auth.verify_user_token(token)
    assert identity == {
        "tokenIdentifier": "https://iss|u1",
        "subject": "u1",
        "issuer": "https://iss",
        "name": "Sarah",
        "properties.id": "42",
        "properties.team.role": "owner",
    }
