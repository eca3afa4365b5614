from __future__ import annotations

from pathlib import Path

import pytest

APPS = Path(__file__).parent / "apps"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def apps_dir() -> Path:
    return APPS
