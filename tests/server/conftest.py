from pathlib import Path

import pytest
from app_server import live_app, server, server_config, url

__all__ = ["live_app", "server", "server_app", "server_config", "url"]


@pytest.fixture
def server_app(live_app: Path) -> Path:
    return live_app
