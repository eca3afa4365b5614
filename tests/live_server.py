"""Fixtures of an in-process server of the live test app (``server``, ``url``),
configured by ``server_config``, which a test module may override: for
tests/server and tests/hostile (each conftest imports them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reactor.server import ReactorServer, ServerConfig, create_server


@pytest.fixture
def live_app(apps_dir: Path) -> Path:
    return apps_dir / "live"


@pytest.fixture
def server_config() -> ServerConfig:
    return ServerConfig()


@pytest.fixture
async def server(
    live_app: Path, tmp_path: Path, server_config: ServerConfig
) -> AsyncIterator[ReactorServer]:
    server = create_server(live_app, db=str(tmp_path / "data.db"), config=server_config)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def url(server: ReactorServer) -> AsyncIterator[str]:
    async with server.serve() as base:
        yield base
