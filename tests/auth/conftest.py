"""Fixtures: signing keys, a real OIDC/JWKS issuer on 127.0.0.1, an ``Authenticator`` factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from auth_helpers import Clock, Issuer, MakeAuth, SigningKey, jwks_of, make_key, serve_issuer

from reactor.auth import Authenticator, parse_providers


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return make_key("RS256", "rsa-1")


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return make_key("ES256", "ec-1")


@pytest.fixture(scope="session")
def rotated_key() -> SigningKey:
    return make_key("RS256", "rsa-2")


@pytest.fixture(scope="session")
def attacker_key() -> SigningKey:
    # Same kid as rsa_key, different secret: what a forger would try.
    return make_key("RS256", "rsa-1")


@pytest.fixture
def issuer(rsa_key: SigningKey, ec_key: SigningKey) -> Iterator[Issuer]:
    with serve_issuer(Issuer(jwks=jwks_of(rsa_key, ec_key))) as state:
        yield state


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make_auth(clock: Clock) -> AsyncIterator[MakeAuth]:
    """Build an ``Authenticator`` from a providers list; all are closed at teardown."""
    made: list[Authenticator] = []

    def make(providers: list[dict[str, Any]], **kwargs: Any) -> Authenticator:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("admin_key", None)
        auth = Authenticator(parse_providers(providers), **kwargs)
        made.append(auth)
        return auth

    yield make
    for auth in made:
        await auth.aclose()
