"""Fixtures for the storage tests.

The contract tests take ``store`` (opened) or ``make_store`` (a fresh, unopened
store on the same location, to test reopening) and must use only the
``reactor.storage`` contract API, so that every store kind runs the same suite.
Add a store kind by adding a param to ``store_kind`` and a branch to ``make_store``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from reactor.storage import SqliteStore, Store

StoreFactory = Callable[[], Store]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(store_kind: str, tmp_path: Path) -> StoreFactory:
    """Each call: a new, unopened store on this test's location (the same one every time)."""
    if store_kind == "sqlite":
        return lambda: SqliteStore(tmp_path / "store.db")
    raise AssertionError(f"unknown store kind {store_kind}")


@pytest.fixture
async def store(make_store: StoreFactory, anyio_backend: str) -> AsyncIterator[Store]:
    store = make_store()
    await store.open()
    try:
        yield store
    finally:
        await store.close()
