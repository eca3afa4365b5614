"""Fixtures of an in-process server of the webhooks test app, for tests/http and
tests/files (each conftest imports them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from reactor.server import ReactorServer, ServerConfig, create_server


@pytest.fixture
def webhooks_app(apps_dir: Path) -> Path:
    return apps_dir / "webhooks"


@pytest.fixture
def server_config() -> ServerConfig:
    return ServerConfig()


@pytest.fixture
async def server(
    webhooks_app: Path, tmp_path: Path, server_config: ServerConfig
) -> AsyncIterator[ReactorServer]:
    server = create_server(webhooks_app, db=str(tmp_path / "data.db"), config=server_config)
    async with server:
        yield server


@pytest.fixture
async def http(server: ReactorServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with (
        server.serve() as url,
        httpx2.AsyncClient(base_url=url, trust_env=False) as client,
    ):
        yield client
