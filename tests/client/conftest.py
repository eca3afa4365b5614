from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from client_relay import FaultyRelay

from reactor.client import AsyncReactorClient
from reactor.errors import AuthError
from reactor.server import ReactorServer, create_server
from reactor.sync import TokenType

_used_once: set[str] = set()


async def authenticate(token_type: TokenType, token: str | None) -> Mapping[str, Any] | None:
    """Accepts "good:<subject>" as a user token, and "once:<subject>" the first
    time it is seen (a token that expires); refuses everything else."""
    if token_type == "None":
        return None
    if token_type == "User" and token is not None:
        kind, _, subject = token.partition(":")
        if kind == "good" or (kind == "once" and token not in _used_once):
            _used_once.add(token)
            return {"subject": subject, "issuer": "test", "tokenIdentifier": f"test|{subject}"}
    raise AuthError(f"bad token {token!r}")


@pytest.fixture(autouse=True)
def no_protocol_errors(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """The client reconnects after a protocol error, which would hide a server bug:
    fail the test if it warned about one (unless the test provokes them)."""
    caplog.set_level(logging.WARNING, logger="reactor.client")
    yield
    if "protocol_errors_expected" in request.fixturenames:
        return
    problems = [
        r.getMessage()
        for r in caplog.records
        if r.name == "reactor.client" and r.levelno >= logging.WARNING
    ]
    assert not problems, problems


@pytest.fixture
def protocol_errors_expected() -> None:
    """Request it in a test that feeds the client bad frames on purpose."""


@pytest.fixture
def client_app(apps_dir: Path) -> Path:
    return apps_dir / "clientapp"


@pytest.fixture
async def server(client_app: Path, tmp_path: Path) -> AsyncIterator[ReactorServer]:
    server = create_server(client_app, db=str(tmp_path / "data.db"), authenticator=authenticate)
    async with server:
        yield server


@pytest.fixture
async def url(server: ReactorServer) -> AsyncIterator[str]:
    async with server.serve() as base:
        yield base


@pytest.fixture
async def client(url: str) -> AsyncIterator[AsyncReactorClient]:
    async with AsyncReactorClient(url) as c:
        yield c


@pytest.fixture
async def other(url: str) -> AsyncIterator[AsyncReactorClient]:
    """A second client, to make changes the first one should hear about."""
    async with AsyncReactorClient(url) as c:
        yield c


@pytest.fixture
async def relay(url: str) -> AsyncIterator[FaultyRelay]:
    relay = FaultyRelay(url)
    async with relay.running():
        yield relay


@pytest.fixture
async def relayed(relay: FaultyRelay) -> AsyncIterator[AsyncReactorClient]:
    """A client whose connection goes through the relay (so tests can break it)."""
    async with AsyncReactorClient(relay.url, initial_backoff=0.02, max_backoff=0.2) as c:
        yield c
