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
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from mongo_server import WireServerError, running_jongodb
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from reactor.storage import MongoStore, SqliteStore, Store

StoreFactory = Callable[[], Store]

SKIP_MONGO = os.environ.get("REACTOR_SKIP_MONGO") == "1"
REAL_URI = os.environ.get("MONGODB_URI", "")
MONGO_LANES = ["jongodb", *(["uri"] if REAL_URI else [])]
STORE_KINDS = ["sqlite", "mongodb", *(["mongodb-uri"] if REAL_URI else [])]

_deselected = pytest.StashKey[int]()
_timings = pytest.StashKey[dict[str, float]]()


def is_mongo_test(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return str(params.get("store_kind", "")).startswith("mongodb") or "mongo_lane" in params


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not SKIP_MONGO:
        return
    dropped = [item for item in items if is_mongo_test(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not is_mongo_test(item)]
    config.stash[_deselected] = len(dropped)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    if SKIP_MONGO:
        count = config.stash.get(_deselected, 0)
        terminalreporter.write_line(
            f"REACTOR_SKIP_MONGO=1: {count} MongoDB store tests were deselected (not run)",
            yellow=True,
        )
    timings = config.stash.get(_timings, None)
    if timings is not None:
        terminalreporter.write_line(
            "jongodb wire server: install/check {install:.2f} s, start {start:.3f} s".format(
                **timings
            )
        )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def jongodb_uri(pytestconfig: pytest.Config) -> Iterator[str]:
    """The URI of a jongodb server started for this session (installed from npm if needed)."""
    try:
        with running_jongodb() as (server, timings):
            pytestconfig.stash[_timings] = timings
            yield server.uri
    except (WireServerError, OSError) as exc:
        raise RuntimeError(
            f"could not start the MongoDB wire server for the MongoDB store tests: {exc}\n"
            "Set REACTOR_SKIP_MONGO=1 to deselect those tests."
        ) from exc


@pytest.fixture(params=MONGO_LANES)
def mongo_lane(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _fresh_database(request: pytest.FixtureRequest, lane: str) -> Iterator[tuple[str, str]]:
    """A new database on the lane's server; real servers drop it afterwards."""
    uri = REAL_URI if lane == "uri" else request.getfixturevalue("jongodb_uri")
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield uri, name
    if lane == "uri":  # jongodb has no dropDatabase: its databases die with the server
        client: MongoClient[dict[str, object]] = MongoClient(uri)
        try:
            client.drop_database(name)
        except OperationFailure:
            pass
        finally:
            client.close()


@pytest.fixture
def mongo_database(request: pytest.FixtureRequest, mongo_lane: str) -> Iterator[tuple[str, str]]:
    """``(uri, database)``: a fresh database for a MongoDB-specific test."""
    yield from _fresh_database(request, mongo_lane)


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
        for uri, name in _fresh_database(request, lane):
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
