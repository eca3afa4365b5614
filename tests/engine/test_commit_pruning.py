"""A shared store's commit records are pruned by the running engine, not kept forever."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from pymongo import AsyncMongoClient
from store_kinds import MONGO_LANES, fresh_database

from reactor.engine import Engine
from reactor.functions import load_app
from reactor.storage import MongoStore

pytestmark = pytest.mark.anyio


@pytest.fixture(params=MONGO_LANES)
def mongo_lane(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_old_commit_records_are_pruned(
    mongo_lane: str, request: pytest.FixtureRequest, apps_dir: Path
) -> None:
    for uri, name in fresh_database(request, mongo_lane):
        store = MongoStore(uri, database=name, poll_interval=0.01, retention=0.3)
        engine = Engine(load_app(apps_dir / "core"), store, run_scheduler=False)
        engine.commit_prune_interval_s = 0.05
        await engine.start()
        try:
            for i in range(5):
                await engine.run_mutation("messages:send", {"channel": "c", "body": str(i)})
            client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
            try:
                commits = client[name]["commits"]
                with anyio.fail_after(10):
                    # The prune task runs every prune_interval_s; records older than
                    # the 0.3 s retention go, the newest one is always kept.
                    while await commits.count_documents({}) > 1:  # noqa: ASYNC110
                        await anyio.sleep(0.05)
            finally:
                await client.close()
            assert engine.committer.resyncs == 0
        finally:
            await engine.stop()
