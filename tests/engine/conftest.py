"""The engine tests run on every store kind: SQLite and MongoDB (see tests/store_kinds.py)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from store_kinds import STORE_KINDS, fresh_database

from reactor.storage import MongoStore, SqliteStore, Store
from reactor.testing import ReactorTest


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Store]]:
    """A factory of unopened stores, all on this test's one location."""
    if store_kind == "sqlite":
        yield lambda: SqliteStore(tmp_path / "data.db")
        return
    lane = "uri" if store_kind == "mongodb-uri" else "jongodb"
    for uri, name in fresh_database(request, lane):
        yield functools.partial(MongoStore, uri, database=name, poll_interval=0.01)


@pytest.fixture
async def core(
    apps_dir: Path, tmp_path: Path, make_store: Callable[[], Store]
) -> AsyncIterator[ReactorTest]:
    t = ReactorTest(apps_dir / "core", data_dir=tmp_path, store=make_store)
    try:
        yield t
    finally:
        await t.close()
