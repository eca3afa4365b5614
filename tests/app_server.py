"""Fixtures of an in-process server of one test app, for the test folders whose
conftest imports them and names the app with a ``server_app`` fixture (tests/server
and tests/hostile serve the live app, tests/http and tests/files the webhooks app).

``server`` is configured by ``server_config``, which a test module may override;
``url`` is its base URL while uvicorn serves it, ``http`` an HTTP client of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from reactor.server import ReactorServer, ServerConfig, create_server


@pytest.fixture
def live_app(apps_dir: Path) -> Path:
    return apps_dir / "live"


@pytest.fixture
def webhooks_app(apps_dir: Path) -> Path:
    return apps_dir / "webhooks"


@pytest.fixture
def server_config() -> ServerConfig:
    return ServerConfig()


@pytest.fixture
async def server(
    server_app: Path, tmp_path: Path, server_config: ServerConfig
) -> AsyncIterator[ReactorServer]:
    server = create_server(server_app, db=str(tmp_path / "data.db"), config=server_config)
    async with server:
        yield server


@pytest.fixture
async def url(server: ReactorServer) -> AsyncIterator[str]:
    async with server.serve() as base:
        yield base


@pytest.fixture
async def http(server: ReactorServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with (
        server.serve() as base,
        httpx2.AsyncClient(base_url=base, trust_env=False) as client,
    ):
        yield client
