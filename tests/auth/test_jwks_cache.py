"""JWKS and discovery caching: TTL, key rotation, rate-limited refresh, shared fetches."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from auth_helpers import APP_ID, Clock, Issuer, MakeAuth, SigningKey, jwks_of

from reactor.auth import Authenticator
from reactor.errors import AuthError

pytestmark = pytest.mark.anyio

TTL = 600.0
MIN_REFRESH = 30.0


@pytest.fixture
def auth(issuer: Issuer, make_auth: MakeAuth) -> Authenticator:
    return make_auth(
        [{"domain": issuer.base_url, "applicationID": APP_ID}],
        jwks_ttl_s=TTL,
        jwks_min_refresh_s=MIN_REFRESH,
    )


def fresh(
    issuer: Issuer, key: SigningKey, clock: Clock, kid: str | None = None, **claims: Any
) -> str:
    """A token valid at the fake clock's time (with ``kid`` instead of the key's own)."""
    now = int(clock.now)
    token_claims = issuer.claims(iat=now, exp=now + 3600, **claims)
    return key.sign(token_claims, kid=kid) if kid else key.sign(token_claims)


async def test_documents_are_cached(
    auth: Authenticator, issuer: Issuer, rsa_key: SigningKey, ec_key: SigningKey, clock: Clock
) -> None:
    for i in range(5):
        await auth.verify_user_token(fresh(issuer, rsa_key, clock, sub=f"u{i}"))
        await auth.verify_user_token(fresh(issuer, ec_key, clock, sub=f"u{i}"))
    assert issuer.counts == {"discovery": 1, "jwks": 1}


async def test_ttl_expiry_refetches(
    auth: Authenticator, issuer: Issuer, rsa_key: SigningKey, clock: Clock
) -> None:
    await auth.verify_user_token(fresh(issuer, rsa_key, clock))
    clock.advance(TTL - 1)
    await auth.verify_user_token(fresh(issuer, rsa_key, clock))
    assert issuer.counts == {"discovery": 1, "jwks": 1}
    clock.advance(2)
    await auth.verify_user_token(fresh(issuer, rsa_key, clock))
    assert issuer.counts == {"discovery": 2, "jwks": 2}


async def test_key_rotation(
    auth: Authenticator,
    issuer: Issuer,
    rsa_key: SigningKey,
    rotated_key: SigningKey,
    clock: Clock,
) -> None:
    await auth.verify_user_token(fresh(issuer, rsa_key, clock))
    issuer.jwks = jwks_of(rotated_key)  # the issuer rotates: old key gone, new kid
    clock.advance(MIN_REFRESH + 1)
    identity = await auth.verify_user_token(fresh(issuer, rotated_key, clock, sub="new"))
    assert identity["subject"] == "new"
    assert issuer.counts == {"discovery": 1, "jwks": 2}  # JWKS refetched, discovery not
    # The old key is gone from the refreshed set (and stays gone, with no refetch
    # because its kid-miss falls inside the refresh window).
    with pytest.raises(AuthError, match="no signing key with kid 'rsa-1'"):
        await auth.verify_user_token(fresh(issuer, rsa_key, clock))
    assert issuer.counts["jwks"] == 2


async def test_unknown_kid_refresh_is_rate_limited(
    auth: Authenticator,
    issuer: Issuer,
    rsa_key: SigningKey,
    rotated_key: SigningKey,
    clock: Clock,
) -> None:
    await auth.verify_user_token(fresh(issuer, rsa_key, clock))
    issuer.jwks = jwks_of(rsa_key, rotated_key)
    # Within the window since the first fetch: the new kid is refused, no refetch.
    for _ in range(10):
        with pytest.raises(AuthError, match="no signing key with kid 'rsa-2'"):
            await auth.verify_user_token(fresh(issuer, rotated_key, clock))
        clock.advance(1)
    assert issuer.counts["jwks"] == 1
    clock.advance(MIN_REFRESH)
    await auth.verify_user_token(fresh(issuer, rotated_key, clock))
    assert issuer.counts["jwks"] == 2
    # A burst of made-up kids right after costs at most one more fetch per window.
    for i in range(10):
        with pytest.raises(AuthError, match="no signing key"):
            await auth.verify_user_token(fresh(issuer, rsa_key, clock, kid=f"bogus-{i}"))
    assert issuer.counts["jwks"] == 2


async def test_concurrent_cold_fetches_are_shared(
    auth: Authenticator, issuer: Issuer, rsa_key: SigningKey, ec_key: SigningKey, clock: Clock
) -> None:
    issuer.delay_s = 0.2  # keep the first fetch in flight while the others arrive
    results: list[str] = []

    async def verify(i: int) -> None:
        key = rsa_key if i % 2 else ec_key
        identity = await auth.verify_user_token(fresh(issuer, key, clock, sub=f"u{i}"))
        results.append(identity["subject"])

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(verify, i)
    assert sorted(results) == sorted(f"u{i}" for i in range(20))
    assert issuer.counts == {"discovery": 1, "jwks": 1}


async def test_stale_keys_survive_an_outage(
    auth: Authenticator, issuer: Issuer, rsa_key: SigningKey, clock: Clock
) -> None:
    await auth.verify_user_token(fresh(issuer, rsa_key, clock))
    issuer.status = 503
    clock.advance(TTL + 1)
    # The refetch fails; the keys fetched before keep working.
    assert (await auth.verify_user_token(fresh(issuer, rsa_key, clock)))["subject"] == "user-1"
    issuer.status = 200
    clock.advance(MIN_REFRESH + 1)
    await auth.verify_user_token(fresh(issuer, rsa_key, clock))
    assert issuer.counts["discovery"] == 3


async def test_failed_fetch_is_not_retried_at_once(
    auth: Authenticator, issuer: Issuer, rsa_key: SigningKey, clock: Clock
) -> None:
    issuer.status = 500
    for _ in range(3):
        with pytest.raises(AuthError, match="could not fetch the OIDC discovery document"):
            await auth.verify_user_token(fresh(issuer, rsa_key, clock))
    assert issuer.counts == {"discovery": 1}
    issuer.status = 200
    clock.advance(MIN_REFRESH + 1)
    await auth.verify_user_token(fresh(issuer, rsa_key, clock))
    assert issuer.counts == {"discovery": 2, "jwks": 1}


async def test_custom_jwt_url_rotation(
    issuer: Issuer, make_auth: MakeAuth, rsa_key: SigningKey, rotated_key: SigningKey, clock: Clock
) -> None:
    auth = make_auth(
        [
            {
                "type": "customJwt",
                "issuer": issuer.base_url,
                "jwks": issuer.jwks_url,
                "algorithm": "RS256",
                "applicationID": APP_ID,
            }
        ],
        jwks_min_refresh_s=MIN_REFRESH,
    )
    await auth.verify_user_token(fresh(issuer, rsa_key, clock))
    issuer.jwks = jwks_of(rotated_key)
    clock.advance(MIN_REFRESH + 1)
    await auth.verify_user_token(fresh(issuer, rotated_key, clock))
    assert issuer.counts == {"jwks": 2}


async def test_passed_http_client_is_used_and_left_open(
    issuer: Issuer, rsa_key: SigningKey, clock: Clock
) -> None:
    import httpx2

    from reactor.auth import parse_providers

    seen: list[str] = []

    async def record(request: httpx2.Request) -> None:
        seen.append(request.url.path)

    async with httpx2.AsyncClient(event_hooks={"request": [record]}) as client:
        config = parse_providers([{"domain": issuer.base_url, "applicationID": APP_ID}])
        async with Authenticator(config, admin_key=None, http_client=client, clock=clock) as auth:
            await auth.verify_user_token(fresh(issuer, rsa_key, clock))
        assert not client.is_closed
    assert seen == ["/.well-known/openid-configuration", "/jwks.json"]
