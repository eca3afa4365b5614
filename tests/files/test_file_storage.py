"""``ctx.storage`` in functions (STO-02..STO-06), through ReactorTest: T38 and friends."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from reactor.engine import MutationCtx
from reactor.errors import ArgumentValidationError, ConvexError
from reactor.files import FileCollector, StorageError
from reactor.testing import ReactorTest

pytestmark = pytest.mark.anyio

HELLO_SHA256 = hashlib.sha256(b"hello").digest()


@pytest.fixture
async def t(apps_dir: Path, tmp_path: Path) -> AsyncIterator[ReactorTest]:
    async with ReactorTest(apps_dir / "webhooks", data_dir=tmp_path) as t:
        yield t


async def test_t38_store_read_metadata_url_delete(t: ReactorTest) -> None:
    storage_id = await t.action("files:store_text", {"text": "hello"})
    row = await t.query("files:row", {"storageId": storage_id})
    assert row == {
        "_id": storage_id,
        "_creationTime": row["_creationTime"],
        "sha256": base64.b64encode(HELLO_SHA256).decode(),  # base64 (discrepancy 7)
        "size": 5,
        "contentType": "text/plain",
    }
    url = await t.query("files:url", {"storageId": storage_id})
    assert isinstance(url, str) and url.endswith(f"/api/storage/{storage_id}")
    assert await t.action("files:url_from_action", {"storageId": storage_id}) == url
    assert await t.action("files:read", {"storageId": storage_id}) == b"hello"

    await t.mutation("files:remove", {"storageId": storage_id})
    assert await t.query("files:url", {"storageId": storage_id}) is None
    assert await t.action("files:read", {"storageId": storage_id}) is None
    assert await t.query("files:row", {"storageId": storage_id}) is None


async def test_deprecated_get_metadata_gives_hex(t: ReactorTest) -> None:
    storage_id = await t.action("files:store_text", {"text": "hello"})
    assert await t.query("files:metadata", {"storageId": storage_id}) == {
        "storageId": storage_id,
        "sha256": HELLO_SHA256.hex(),
        "size": 5,
        "contentType": "text/plain",
    }


async def test_store_checks_an_expected_sha256(t: ReactorTest) -> None:
    for given in (HELLO_SHA256.hex(), base64.b64encode(HELLO_SHA256).decode()):
        assert await t.action("files:store_text", {"text": "hello", "sha256": given})
    with pytest.raises(StorageError, match="sha256"):
        await t.action("files:store_text", {"text": "hello!", "sha256": HELLO_SHA256.hex()})
    rows = await t.run(lambda ctx: ctx.db.system.query("_storage").collect())
    assert len(rows) == 2  # the mismatch stored nothing
    assert sorted(p.name for p in (t.data_dir / "files" / "tmp").iterdir()) == []


async def test_a_delete_rolls_back_with_its_mutation(t: ReactorTest) -> None:
    storage_id = await t.action("files:store_text", {"text": "keep me"})
    with pytest.raises(ConvexError):
        await t.mutation("files:remove_then_fail", {"storageId": storage_id})
    assert await t.action("files:read", {"storageId": storage_id}) == b"keep me"


async def test_deleting_twice_is_an_error(t: ReactorTest) -> None:
    storage_id = await t.action("files:store_text", {"text": "x"})
    await t.action("files:remove_from_action", {"storageId": storage_id})
    assert not (t.data_dir / "files").joinpath("blobs", storage_id[-2:], storage_id).exists()
    with pytest.raises(StorageError, match=f"Storage id {storage_id} not found"):
        await t.mutation("files:remove", {"storageId": storage_id})


async def test_storage_ids_are_checked(t: ReactorTest) -> None:
    payment_id = await t.run(
        lambda ctx: ctx.db.insert("payments", {"eventId": "e", "kind": "k", "amount": 1})
    )
    with pytest.raises(ArgumentValidationError):
        await t.query("files:url", {"storageId": payment_id})

    async def get_url(ctx: MutationCtx, value: Any) -> Any:
        return await ctx.storage.get_url(value)

    for bad in (payment_id, "not-an-id", 3):
        with pytest.raises(StorageError, match="is not a storage id"):
            await t.run(lambda ctx, bad=bad: get_url(ctx, bad))


async def test_a_mutation_can_hand_out_upload_urls(t: ReactorTest) -> None:
    url = await t.mutation("files:generate_upload_url")
    base = (await t.engine()).files.public_url  # no server: REACTOR_PUBLIC_URL or :3210
    assert url.startswith(f"{base}/api/storage/upload?token=")


async def test_the_collector_sweeps_rowless_blobs_after_a_grace_period(t: ReactorTest) -> None:
    engine = await t.engine()
    files = engine.files
    kept = await t.action("files:store_text", {"text": "kept"})
    # Left by a crash between linking a blob and committing its row: an id with no row.
    deleted = await t.action("files:store_text", {"text": "gone"})
    await t.action("files:remove_from_action", {"storageId": deleted})
    orphan = files.blob_path(deleted)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"gone")
    stale_tmp = files.root / "tmp" / "stale"
    stale_tmp.write_bytes(b"half an upload")
    collector = FileCollector(engine)

    assert await collector.sweep() == 0  # young: it may be an upload still committing
    assert orphan.exists() and stale_tmp.exists()
    an_hour_ago = time.time() - 2 * collector.grace_s
    for path in (orphan, stale_tmp, files.blob_path(kept)):
        os.utime(path, (an_hour_ago, an_hour_ago))
    files.in_flight.add(deleted)
    assert await collector.sweep() == 0  # being committed right now: never touched
    files.in_flight.clear()
    assert await collector.sweep() == 1
    assert not orphan.exists() and not stale_tmp.exists()
    assert await t.action("files:read", {"storageId": kept}) == b"kept"  # it has its row
