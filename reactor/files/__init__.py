"""File storage: ``ctx.storage``, the blob folder, upload tokens and the storage routes.

Bytes live on the server's local disk (``FileStore``), metadata in the
``_storage`` system table. See ``_blobs`` for the folder layout and
``_tokens`` for the upload URL's token.
"""

from reactor.files._blobs import DEFAULT_PUBLIC_URL, PUBLIC_URL_ENV, FileStore, StagedBlob
from reactor.files._collector import FileCollector
from reactor.files._ctx import ActionStorage, StorageReader, StorageWriter
from reactor.files._routes import UPLOAD_TIMEOUT_S, storage_routes
from reactor.files._rows import StorageError
from reactor.files._tokens import UPLOAD_URL_LIFETIME_MS

__all__ = [
    "DEFAULT_PUBLIC_URL",
    "PUBLIC_URL_ENV",
    "UPLOAD_TIMEOUT_S",
    "UPLOAD_URL_LIFETIME_MS",
    "ActionStorage",
    "FileCollector",
    "FileStore",
    "StagedBlob",
    "StorageError",
    "StorageReader",
    "StorageWriter",
    "storage_routes",
]
