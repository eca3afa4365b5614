"""Fixtures for the storage tests.

The contract tests take ``store`` (opened) or ``make_store`` (a fresh, unopened
store on the same location, to test reopening) and must use only the
``reactor.storage`` contract API, so that every store kind runs the same suite.
Add a store kind by adding a param to ``store_kind`` and a branch to ``make_store``.

Store kinds: ``sqlite``; ``mongodb`` (the jongodb wire server the session
starts, see ``tests/mongo_server.py``); ``mongodb-uri`` when ``MONGODB_URI``
names a real replica set. ``REACTOR_SKIP_MONGO=1`` deselects every MongoDB test.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from store_kinds import MONGO_LANES, STORE_KINDS, fresh_database

from reactor.storage import MongoStore, SqliteStore, Store

StoreFactory = Callable[[], Store]


@pytest.fixture(params=MONGO_LANES)
def mongo_lane(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mongo_database(request: pytest.FixtureRequest, mongo_lane: str) -> Iterator[tuple[str, str]]:
    """``(uri, database)``: a fresh database for a MongoDB-specific test."""
    yield from fresh_database(request, mongo_lane)


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[StoreFactory]:
    """Each call: a new, unopened store on this test's location (the same one every time)."""
    if store_kind == "sqlite":
        yield lambda: SqliteStore(tmp_path / "store.db")
        return
    if store_kind.startswith("mongodb"):
        lane = "uri" if store_kind == "mongodb-uri" else "jongodb"
        for uri, name in fresh_database(request, lane):
            yield functools.partial(MongoStore, uri, database=name, poll_interval=0.01)
        return
    raise AssertionError(f"unknown store kind {store_kind}")


@pytest.fixture
async def store(make_store: StoreFactory, anyio_backend: str) -> AsyncIterator[Store]:
    store = make_store()
    await store.open()
    try:
        yield store
    finally:
        await store.close()
