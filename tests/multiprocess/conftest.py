"""Fixtures for the multi-process tests: ``reactor serve`` processes sharing one MongoDB.

Every test here is parametrized by ``mongo_lane``: ``jongodb`` (the wire
server the session starts) always, ``uri`` when ``MONGODB_URI`` names a real
replica set; ``REACTOR_SKIP_MONGO=1`` deselects them all (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_helpers import Cluster, Database
from store_kinds import MONGO_LANES, fresh_database


@pytest.fixture(params=MONGO_LANES)
def mongo_lane(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database(request: pytest.FixtureRequest, mongo_lane: str) -> Iterator[Database]:
    for uri, name in fresh_database(request, mongo_lane):
        yield Database(uri, name, mongo_lane)


@pytest.fixture
def cluster(database: Database, tmp_path: Path) -> Iterator[Cluster]:
    """Start processes with ``cluster.start(n)``; all are reaped after the test."""
    processes = Cluster(database, tmp_path)
    try:
        yield processes
    finally:
        processes.close()
