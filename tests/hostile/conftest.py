"""Hostile-input tests: property tests of the decoders, a fuzzed live server,
slow clients, limits and overload.

``REACTOR_LONG=1`` or ``--long`` runs the long variants (100,000 bad frames
instead of 10,000, and more hypothesis examples).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from app_server import live_app, server, server_config, url

__all__ = [
    "live_app",
    "long_mode",
    "pytest_configure",
    "server",
    "server_app",
    "server_config",
    "url",
]

# raw_client (a raw-protocol WebSocket client) lives with the server tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))


def pytest_configure(config: pytest.Config) -> None:
    # Module-level settings (hypothesis example counts) read the environment.
    if config.getoption("--long", default=False):
        os.environ["REACTOR_LONG"] = "1"


@pytest.fixture
def server_app(live_app: Path) -> Path:
    return live_app


@pytest.fixture(scope="session")
def long_mode() -> bool:
    return os.environ.get("REACTOR_LONG") == "1"
