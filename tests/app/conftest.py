from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reactor.testing import ReactorTest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[ReactorTest]:
    t = ReactorTest(ROOT, data_dir=tmp_path)
    try:
        yield t
    finally:
        await t.close()
