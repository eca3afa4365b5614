"""Uploads and downloads over HTTP against a real server (STO-01, STO-03, STO-05, LIM-10)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest

from reactor.client import AsyncReactorClient
from reactor.engine import MutationCtx
from reactor.files import UPLOAD_URL_LIFETIME_MS
from reactor.server import ReactorServer, ServerConfig

pytestmark = pytest.mark.anyio

FIVE_MB = 5 * 1024 * 1024


async def call(server: ReactorServer, kind: str, path: str, args: dict[str, Any]) -> Any:
    run = getattr(server.engine, f"run_{kind}")
    return (await run(path, args, allow_internal=True)).unwrap()


async def storage_rows(server: ReactorServer) -> list[dict[str, Any]]:
    async def body(ctx: MutationCtx) -> list[dict[str, Any]]:
        return await ctx.db.system.query("_storage").collect()

    rows: list[dict[str, Any]] = (await server.engine.run_in_transaction(body)).unwrap()
    return rows


def stored_files(server: ReactorServer) -> list[str]:
    root = server.engine.files.root
    return sorted(
        str(path.relative_to(root))
        for folder in ("blobs", "tmp")
        for path in (root / folder).rglob("*")
        if path.is_file()
    )


async def test_a_5_mb_upload_comes_back_byte_for_byte(
    server: ReactorServer, http: httpx2.AsyncClient
) -> None:
    data = os.urandom(FIVE_MB)
    upload_url = await call(server, "mutation", "files:generate_upload_url", {})
    base = str(http.base_url).rstrip("/")  # the address the server is bound to
    assert upload_url.startswith(f"{base}/api/storage/upload?token=")

    async def chunks() -> AsyncIterator[bytes]:  # streamed, as a browser sends a big file
        view = memoryview(data)
        for start in range(0, len(data), 256 * 1024):
            yield bytes(view[start : start + 256 * 1024])

    tracemalloc.start()
    try:
        uploaded = await http.post(
            upload_url, content=chunks(), headers={"content-type": "application/x-test"}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Streamed to disk: client and server together never held the file even once.
    assert peak < FIVE_MB
    assert uploaded.status_code == 200, uploaded.text
    storage_id = uploaded.json()["storageId"]
    await call(server, "mutation", "files:save", {"storageId": storage_id, "name": "big.bin"})

    url = await call(server, "query", "files:url", {"storageId": storage_id})
    assert url == f"{base}/api/storage/{storage_id}"
    downloaded = await http.get(url)
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.content).digest() == hashlib.sha256(data).digest()
    assert downloaded.content == data
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert downloaded.headers["digest"] == f"sha-256={digest}"
    assert downloaded.headers["content-type"] == "application/x-test"
    assert downloaded.headers["content-length"] == str(FIVE_MB)

    row = await call(server, "query", "files:row", {"storageId": storage_id})
    assert (row["size"], row["sha256"], row["contentType"]) == (
        FIVE_MB,
        digest,
        "application/x-test",
    )
    head = await http.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(FIVE_MB)


async def test_text_content_types_come_back_unchanged(
    server: ReactorServer, http: httpx2.AsyncClient
) -> None:
    upload_url = await call(server, "mutation", "files:generate_upload_url", {})
    uploaded = await http.post(upload_url, content=b"hi", headers={"content-type": "text/plain"})
    url = await call(server, "query", "files:url", {"storageId": uploaded.json()["storageId"]})
    assert (await http.get(url)).headers["content-type"] == "text/plain"  # no charset added


async def test_expired_and_forged_upload_urls_store_nothing(
    server: ReactorServer, http: httpx2.AsyncClient
) -> None:
    files = server.engine.files
    two_hours_ago = time.time() * 1000 - 2 * UPLOAD_URL_LIFETIME_MS
    expired = files.upload_url(two_hours_ago)
    refused = await http.post(expired, content=b"late")
    assert refused.status_code == 401 and refused.json()["code"] == "UploadUrlExpired"

    good = files.upload_url(time.time() * 1000)
    payload, _, signature = good.rpartition(".")
    forged_signature = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    # A later expiry under the old signature: the signature no longer matches.
    stretched = good.replace("token=", "token=9", 1)
    for url in (forged_signature, stretched, good.partition("?")[0], good + "x"):
        response = await http.post(url, content=b"sneaky")
        assert response.status_code == 403, url
        assert response.json()["code"] == "InvalidUploadToken"
    assert await storage_rows(server) == []
    assert stored_files(server) == []

    assert (await http.post(good, content=b"on time")).status_code == 200
    assert len(await storage_rows(server)) == 1


async def test_a_deleted_file_is_404_and_its_bytes_go(
    server: ReactorServer, http: httpx2.AsyncClient
) -> None:
    storage_id = await call(server, "action", "files:store_text", {"text": "short-lived"})
    url = await call(server, "query", "files:url", {"storageId": storage_id})
    assert (await http.get(url)).text == "short-lived"
    await call(server, "mutation", "files:remove", {"storageId": storage_id})
    assert (await http.get(url)).status_code == 404
    assert await call(server, "query", "files:url", {"storageId": storage_id}) is None
    # The mutation deleted the row; the collector reclaims the bytes after the commit.
    assert await server.file_collector.collect_deleted() == 1
    assert stored_files(server) == []
    assert (await http.get("/api/storage/not-an-id")).status_code == 404


async def test_http_actions_store_and_serve_files(http: httpx2.AsyncClient) -> None:
    stored = await http.post("/files", content=b"<svg/>", headers={"content-type": "image/svg+xml"})
    assert stored.status_code == 200
    storage_id = stored.json()["storageId"]
    assert (await http.get(stored.json()["url"])).content == b"<svg/>"
    served = await http.get(f"/files/{storage_id}")
    assert served.content == b"<svg/>" and served.headers["content-type"] == "image/svg+xml"


@pytest.mark.parametrize("server_config", [ServerConfig(public_url="https://files.example.com/")])
async def test_a_configured_public_url_names_the_files(server: ReactorServer) -> None:
    storage_id = await call(server, "action", "files:store_text", {"text": "x"})
    url = await call(server, "query", "files:url", {"storageId": storage_id})
    assert url == f"https://files.example.com/api/storage/{storage_id}"
    upload_url = await call(server, "mutation", "files:generate_upload_url", {})
    assert upload_url.startswith("https://files.example.com/api/storage/upload?token=")


@pytest.mark.parametrize("server_config", [ServerConfig(upload_timeout_s=0.3)])
async def test_a_slow_upload_times_out_and_stores_nothing(
    server: ReactorServer, http: httpx2.AsyncClient
) -> None:
    upload_url = await call(server, "mutation", "files:generate_upload_url", {})

    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 10
            await asyncio.sleep(0.05)

    response = await http.post(upload_url, content=trickle())
    assert response.status_code == 408 and response.json()["code"] == "UploadTimeout"
    assert await storage_rows(server) == []
    assert stored_files(server) == []


async def test_an_interrupted_upload_leaves_no_row(
    server: ReactorServer, http: httpx2.AsyncClient
) -> None:
    upload_url = await call(server, "mutation", "files:generate_upload_url", {})
    url = httpx2.URL(upload_url)
    assert url.port is not None
    async with await anyio.connect_tcp(url.host, url.port) as sock:
        request = (
            f"POST {url.raw_path.decode()} HTTP/1.1\r\nhost: {url.host}\r\n"
            "content-type: application/octet-stream\r\ncontent-length: 100000\r\n\r\n"
        )
        await sock.send(request.encode() + b"only part of it")
        for _ in range(100):  # the server is writing the upload to disk
            if stored_files(server):
                break
            await anyio.sleep(0.02)
        assert [name.split("/")[0] for name in stored_files(server)] == ["tmp"]
    for _ in range(100):  # the server notices the disconnect and cleans up
        if not stored_files(server):
            break
        await anyio.sleep(0.05)
    assert stored_files(server) == []
    assert await storage_rows(server) == []
    assert (await http.get("/version")).status_code == 200


async def test_a_subscribed_url_turns_none_when_the_file_is_deleted(
    server: ReactorServer, http: httpx2.AsyncClient
) -> None:
    storage_id = await call(server, "action", "files:store_text", {"text": "watched"})
    async with (
        AsyncReactorClient(str(http.base_url).rstrip("/")) as client,
        client.subscribe("files:url", {"storageId": storage_id}) as urls,
    ):
        url = await anext(urls)
        assert url.endswith(storage_id)
        await client.mutation("files:remove", {"storageId": storage_id})
        with anyio.fail_after(10):
            assert await anext(urls) is None
    assert (await http.get(url)).status_code == 404
