"""Fixtures of the scheduler tests. ``sched`` runs on every store kind (see
tests/store_kinds.py); the restart and crash tests use SQLite files directly."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from store_kinds import STORE_KINDS, fresh_database

from reactor.storage import MongoStore, SqliteStore, Store
from reactor.testing import ReactorTest


@pytest.fixture
def app_dir(apps_dir: Path) -> Path:
    return apps_dir / "scheduling"


@pytest.fixture(params=STORE_KINDS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    if request.param == "sqlite":
        yield lambda: SqliteStore(tmp_path / "data.db")
        return
    lane = "uri" if request.param == "mongodb-uri" else "jongodb"
    for uri, name in fresh_database(request, lane):
        yield functools.partial(MongoStore, uri, database=name, poll_interval=0.01)


@pytest.fixture
async def sched(
    app_dir: Path, tmp_path: Path, make_store: Callable[[], Store]
) -> AsyncIterator[ReactorTest]:
    t = ReactorTest(app_dir, data_dir=tmp_path, store=make_store)
    try:
        yield t
    finally:
        await t.close()
