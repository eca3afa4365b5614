"""Helpers for the auth tests: signing keys, the local issuer's state, a settable clock."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reactor.auth import Authenticator

APP_ID = "my-app"

MakeAuth = Callable[..., Authenticator]


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: Any
    jwk: dict[str, Any]

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        header: dict[str, Any] = {"kid": self.kid, **headers}
        return jwt.encode(claims, self.private, algorithm=self.alg, headers=header)


def make_key(alg: str, kid: str) -> SigningKey:
    private: Any
    if alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return SigningKey(kid, alg, private, {**jwk, "kid": kid, "alg": alg, "use": "sig"})


def jwks_of(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [k.jwk for k in keys]}


@dataclass
class Issuer:
    """The state the local issuer serves; tests mutate it to swap keys or fail."""

    base_url: str = ""
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    counts: Counter[str] = field(default_factory=Counter)
    status: int = 200
    delay_s: float = 0.0
    declared_issuer: str | None = None

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/jwks.json"

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Valid claims for this issuer; an override of None removes the claim."""
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": self.base_url,
            "sub": "user-1",
            "aud": APP_ID,
            "iat": now,
            "exp": now + 3600,
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}


def _issuer_app(state: Issuer) -> Starlette:
    async def discovery(request: Request) -> Response:
        state.counts["discovery"] += 1
        if state.status != 200:
            return Response(status_code=state.status)
        issuer = state.declared_issuer or state.base_url
        return JSONResponse({"issuer": issuer, "jwks_uri": state.jwks_url})

    async def jwks(request: Request) -> Response:
        state.counts["jwks"] += 1
        await anyio.sleep(state.delay_s)
        if state.status != 200:
            return Response(status_code=state.status)
        return JSONResponse(state.jwks)

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks.json", jwks),
        ]
    )


@contextmanager
def serve_issuer(state: Issuer) -> Iterator[Issuer]:
    """Serve ``state`` with uvicorn in a thread of this process, on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    state.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        _issuer_app(state), lifespan="off", ws="none", http="h11", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "issuer did not start"
            time.sleep(0.01)
        yield state
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class Clock:
    """A settable clock, so TTLs and refresh windows pass without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
