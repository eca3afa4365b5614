from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reactor.testing import ReactorTest


@pytest.fixture
async def core(apps_dir: Path, tmp_path: Path) -> AsyncIterator[ReactorTest]:
    t = ReactorTest(apps_dir / "core", data_dir=tmp_path)
    try:
        yield t
    finally:
        await t.close()
