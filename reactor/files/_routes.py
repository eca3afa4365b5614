"""The storage endpoints: ``POST /api/storage/upload?token=...`` and ``GET /api/storage/<id>``.

Uploads stream to disk as they arrive, with no size cap but the 2-minute
timeout of LIM-10. The token is checked before a byte is read, so a refused
upload stores nothing. Downloads carry the recorded Content-Type, the
Content-Length and ``Digest: sha-256=<base64>`` (STO-03), and are a 404 once
the file is deleted.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from reactor.files._rows import TABLE, StorageError, check_content_type, commit_blob, read_row
from reactor.files._tokens import ExpiredTokenError, InvalidTokenError

if TYPE_CHECKING:
    from reactor.engine import Engine

__all__ = ["UPLOAD_TIMEOUT_S", "storage_routes"]

log = logging.getLogger("reactor.files")

UPLOAD_TIMEOUT_S = 120.0  # LIM-10: an upload request times out after 2 minutes


def _error(status: int, code: str, message: str) -> Response:
    body = orjson.dumps({"code": code, "message": message})
    return Response(body, status_code=status, media_type="application/json")


class _Endpoints:
    def __init__(self, engine: Engine, upload_timeout_s: float) -> None:
        self.engine = engine
        self.upload_timeout_s = upload_timeout_s

    async def upload(self, request: Request) -> Response:
        files = self.engine.files
        try:
            files.check_upload_token(request.query_params.get("token"), time.time() * 1000)
        except ExpiredTokenError as exc:
            return _error(401, "UploadUrlExpired", str(exc))
        except InvalidTokenError as exc:
            return _error(403, "InvalidUploadToken", str(exc))
        try:
            content_type = check_content_type(request.headers.get("content-type"))
        except StorageError as exc:
            return _error(400, "BadContentType", str(exc))
        try:
            with anyio.fail_after(self.upload_timeout_s):
                staged = await files.stage_stream(request.stream())
        except TimeoutError:
            return _error(408, "UploadTimeout", "the upload took over the 2-minute limit")
        except ClientDisconnect:
            # Nothing was stored; the client is gone, this answer reaches no one.
            return _error(400, "ClientDisconnected", "the upload was interrupted")
        storage_id = await commit_blob(self.engine, staged, content_type)
        return Response(orjson.dumps({"storageId": storage_id}), media_type="application/json")

    async def download(self, request: Request) -> Response:
        storage_id: str = request.path_params["storage_id"]
        if self.engine.catalog.table_name_for_id(storage_id) != TABLE:
            return _error(404, "FileNotFound", "no such file")
        row = await read_row(self.engine, storage_id)
        path = self.engine.files.blob_path(storage_id)
        stat: os.stat_result | None = None
        if row is not None:
            try:
                stat = await anyio.to_thread.run_sync(os.stat, path)
            except FileNotFoundError:
                log.error("the bytes of file %s are missing from %s", storage_id, path)
        if row is None or stat is None:
            return _error(404, "FileNotFound", "no such file (it may have been deleted)")
        headers: dict[str, Any] = {
            # Set as a header, not a media type: Starlette would append a charset
            # to text/* types, and the recorded type must come back unchanged.
            "content-type": row.get("contentType") or "application/octet-stream",
            "digest": f"sha-256={row['sha256']}",
        }
        return FileResponse(path, headers=headers, stat_result=stat)


def storage_routes(
    engine: Engine, *, upload_timeout_s: float = UPLOAD_TIMEOUT_S
) -> list[BaseRoute]:
    """The two routes; the upload route lifts the server's body size limit."""
    endpoints = _Endpoints(engine, upload_timeout_s)
    return [
        Route(
            "/api/storage/upload",
            endpoints.upload,
            methods=["POST"],
            max_body_size=sys.maxsize,  # STO-01: no size cap on files
        ),
        Route("/api/storage/{storage_id}", endpoints.download, methods=["GET"]),
    ]
