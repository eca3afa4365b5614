"""The bytes of stored files, kept on the local disk of the server process.

Layout of the files folder (``FileStore.root``)::

    upload_key            the HMAC key of upload tokens (made on first use, mode 0600)
    tmp/<random>          uploads and ``store()`` calls being written
    blobs/<xy>/<id>       a file's bytes, named by its ``_storage`` id (xy: its last
                          two characters, so no folder grows too large)

The ``_storage`` row is the truth: a blob whose row is gone is garbage, and a
row is only ever committed after its blob is complete on disk (written,
fsynced and linked under its id), so a half-written upload never leaves a row.

Files are local to the server process in this version: with a MongoDB store
shared by several servers, each keeps its own folder and serves only the
files uploaded to it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import anyio.to_thread

from reactor.files._tokens import check_upload_token, make_upload_token

__all__ = ["DEFAULT_PUBLIC_URL", "PUBLIC_URL_ENV", "FileStore", "StagedBlob"]

PUBLIC_URL_ENV = "REACTOR_PUBLIC_URL"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:3210"  # `reactor serve`'s default address
_FLUSH_BYTES = 1 << 20  # an upload holds at most this much in memory at a time


@dataclass(frozen=True)
class StagedBlob:
    """A complete, fsynced file in ``tmp/`` that has no ``_storage`` row yet."""

    path: Path
    size: int
    digest: bytes

    @property
    def sha256_b64(self) -> str:
        return base64.b64encode(self.digest).decode()

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def _clean_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"a public URL is http(s)://host[:port][/path], got {url!r}")
    return url.rstrip("/")


def _url_host(host: str) -> str:
    # A wildcard address is where the server listens, not where clients reach it.
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class FileStore:
    """Where file bytes live, and the URLs that reach them.

    ``public_url`` is the base of every URL handed to functions (``get_url``,
    ``generate_upload_url``). One value per server, never per request: a
    query that returns a URL is cached and shared by every subscriber, so the
    URL must not depend on who asked. It is, in order: the ``public_url``
    given here (``ServerConfig.public_url``), ``REACTOR_PUBLIC_URL``, the
    address the server was bound to, else ``http://127.0.0.1:3210``.
    """

    def __init__(self, root: str | Path | None = None, *, public_url: str | None = None) -> None:
        self._root = Path(root).resolve() if root is not None else None
        configured = public_url or os.environ.get(PUBLIC_URL_ENV)
        self._configured_url = _clean_url(configured) if configured else None
        self._bound_url: str | None = None
        self._key: bytes | None = None
        self.in_flight: set[str] = set()
        """Blobs linked under an id whose row is not committed yet: the collector skips them."""
        self.deleted: dict[str, float] = {}
        """Ids deleted by mutations (id -> when noted), for the collector to reclaim."""

    @classmethod
    def beside(cls, store: Any, app_dir: Path | None) -> FileStore:
        """The default folder for ``store``: next to a SQLite file (``<db>.files``),
        else ``<app>/.reactor/files/<database>``."""
        path = getattr(store, "path", None)
        if isinstance(path, Path):
            return cls(path.with_name(path.name + ".files"))
        if app_dir is None:
            return cls()
        database = str(getattr(store, "database", "default"))
        return cls(app_dir / ".reactor" / "files" / quote(database, safe=""))

    @property
    def root(self) -> Path:
        if self._root is None:  # an engine without an app folder: a private temporary one
            self._root = Path(tempfile.mkdtemp(prefix="reactor-files-"))
        return self._root

    # -- URLs ----------------------------------------------------------------------

    @property
    def public_url(self) -> str:
        return self._configured_url or self._bound_url or DEFAULT_PUBLIC_URL

    def configure_public_url(self, url: str) -> None:
        self._configured_url = _clean_url(url)

    def bind_address(self, host: str, port: int) -> None:
        """The address the server listens on; used unless a public URL is configured."""
        self._bound_url = f"http://{_url_host(host)}:{port}"

    def url_for(self, storage_id: str) -> str:
        return f"{self.public_url}/api/storage/{storage_id}"

    def upload_url(self, now_ms: float) -> str:
        return f"{self.public_url}/api/storage/upload?token={make_upload_token(self.key(), now_ms)}"

    def check_upload_token(self, token: str | None, now_ms: float) -> None:
        check_upload_token(self.key(), token, now_ms)

    def key(self) -> bytes:
        """The upload-token key, made once per files folder (shared by its servers)."""
        if self._key is None:
            path = self.root / "upload_key"
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                # O_EXCL: two servers starting together agree on one key.
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_hex(32))
            text = path.read_text().strip()
            if len(text) != 64:
                raise RuntimeError(f"{path} is not an upload key: delete it to make a new one")
            self._key = bytes.fromhex(text)
        return self._key

    # -- bytes ---------------------------------------------------------------------

    def blob_path(self, storage_id: str) -> Path:
        return self.root / "blobs" / storage_id[-2:] / storage_id

    def _temp_path(self) -> Path:
        folder = self.root / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / secrets.token_hex(16)

    async def stage_stream(self, chunks: AsyncIterable[bytes]) -> StagedBlob:
        """Write ``chunks`` to a temporary file, hashing as they come; at most
        ``_FLUSH_BYTES`` are held in memory. On any error the file is removed."""
        path = await anyio.to_thread.run_sync(self._temp_path)
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        try:
            async with await anyio.open_file(path, "xb") as out:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    if len(chunk) >= _FLUSH_BYTES:  # big already: write it, no copy
                        await out.write(buffer)
                        buffer.clear()
                        await out.write(chunk)
                        continue
                    # Small chunks (a request body comes in ~64 KiB pieces) are
                    # gathered, so a thread hop writes a megabyte, not a few KiB.
                    buffer += chunk
                    if len(buffer) >= _FLUSH_BYTES:
                        await out.write(buffer)
                        buffer.clear()
                await out.write(buffer)
                await out.flush()
                # The row commits durably after this; the bytes must be as durable.
                await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return StagedBlob(path, size, digest.digest())

    async def stage_bytes(self, data: bytes) -> StagedBlob:
        async def one() -> AsyncIterable[bytes]:
            yield data

        return await self.stage_stream(one())

    async def place(self, staged: StagedBlob, storage_id: str) -> None:
        """Link a staged blob under its id; it counts as in flight until ``settle``."""
        self.in_flight.add(storage_id)
        target = self.blob_path(storage_id)

        def link() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(staged.path, target)

        await anyio.to_thread.run_sync(link)

    def settle(self, storage_id: str) -> None:
        self.in_flight.discard(storage_id)

    async def read(self, storage_id: str) -> bytes | None:
        try:
            return await anyio.Path(self.blob_path(storage_id)).read_bytes()
        except FileNotFoundError:
            return None

    async def remove(self, storage_id: str) -> None:
        await anyio.Path(self.blob_path(storage_id)).unlink(missing_ok=True)
        self.deleted.pop(storage_id, None)

    def note_deleted(self, storage_id: str, when: float) -> None:
        self.deleted.setdefault(storage_id, when)
