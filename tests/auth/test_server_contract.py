"""``Authenticator`` as ``reactor.server``'s ``(token_type, token) -> identity`` callable."""

from __future__ import annotations

import base64
import json

import pytest
from auth_helpers import APP_ID, Issuer, MakeAuth, SigningKey

from reactor.auth import Authenticator, acting_identity
from reactor.errors import AuthError

pytestmark = pytest.mark.anyio

ADMIN_KEY = "reactor-admin|s3cret"


@pytest.fixture
def auth(issuer: Issuer, make_auth: MakeAuth) -> Authenticator:
    return make_auth([{"domain": issuer.base_url, "applicationID": APP_ID}], admin_key=ADMIN_KEY)


async def test_none_is_anonymous(auth: Authenticator) -> None:
    assert await auth("None", None) is None


async def test_user_token(auth: Authenticator, issuer: Issuer, rsa_key: SigningKey) -> None:
    identity = await auth("User", rsa_key.sign(issuer.claims(sub="u1")))
    assert identity is not None and identity["tokenIdentifier"] == f"{issuer.base_url}|u1"


async def test_user_token_refused(auth: Authenticator, issuer: Issuer) -> None:
    with pytest.raises(AuthError, match="malformed token"):
        await auth("User", "nope")
    with pytest.raises(AuthError, match="needs a value"):
        await auth("User", None)


async def test_admin_key(auth: Authenticator) -> None:
    assert await auth("Admin", ADMIN_KEY) is None
    with pytest.raises(AuthError, match="invalid admin key"):
        await auth("Admin", "reactor-admin|guess")


async def test_admin_acting_as_user(auth: Authenticator) -> None:
    acting = {"issuer": "https://iss", "subject": "u1", "name": "Sarah"}
    suffix = base64.b64encode(json.dumps(acting).encode()).decode()
    identity = await auth("Admin", f"{ADMIN_KEY}:{suffix}")
    assert identity == {**acting, "tokenIdentifier": "https://iss|u1"}
    with pytest.raises(AuthError, match="invalid admin key"):
        await auth("Admin", f"reactor-admin|guess:{suffix}")


async def test_unknown_token_type(auth: Authenticator) -> None:
    with pytest.raises(AuthError, match="unknown token type 'Magic'"):
        await auth("Magic", "x")


def test_acting_identity_needs_an_identifier() -> None:
    assert acting_identity({"tokenIdentifier": "t", "extra": None}) == {"tokenIdentifier": "t"}
    with pytest.raises(AuthError, match="needs `tokenIdentifier`"):
        acting_identity({"name": "nobody"})
