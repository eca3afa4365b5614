from pathlib import Path

import pytest
from app_server import http, server, server_config, webhooks_app

__all__ = ["http", "server", "server_app", "server_config", "webhooks_app"]


@pytest.fixture
def server_app(webhooks_app: Path) -> Path:
    return webhooks_app
