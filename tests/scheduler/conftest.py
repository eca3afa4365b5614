from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reactor.testing import ReactorTest


@pytest.fixture
def app_dir(apps_dir: Path) -> Path:
    return apps_dir / "scheduling"


@pytest.fixture
async def sched(app_dir: Path, tmp_path: Path) -> AsyncIterator[ReactorTest]:
    t = ReactorTest(app_dir, data_dir=tmp_path)
    try:
        yield t
    finally:
        await t.close()
