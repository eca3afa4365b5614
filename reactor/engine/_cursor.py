"""Pagination cursors: an opaque position in one query's index range.

A cursor says "after key K" (or "at the end") and carries a fingerprint of
the query it belongs to (table, index, range, order), so a cursor from
another query is refused instead of silently returning wrong rows. The
fingerprint and key are plain data: cursors stay valid across restarts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from reactor.errors import InvalidCursorError

__all__ = ["Cursor", "decode_cursor", "encode_cursor", "query_fingerprint"]

_VERSION = b"\x01"


@dataclass(frozen=True, slots=True)
class Cursor:
    fingerprint: bytes
    key: bytes | None
    """The last key consumed; None means the end of the range."""


def query_fingerprint(index: str, start: bytes, end: bytes | None, reverse: bool) -> bytes:
    digest = hashlib.blake2b(digest_size=8)
    for part in (index.encode(), start, end if end is not None else b"\xff<none>"):
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    digest.update(b"d" if reverse else b"a")
    return digest.digest()


def encode_cursor(cursor: Cursor) -> str:
    body = _VERSION + cursor.fingerprint
    body += b"\x00" if cursor.key is None else b"\x01" + cursor.key
    check = hashlib.blake2b(body, digest_size=4).digest()
    return base64.urlsafe_b64encode(body + check).decode().rstrip("=")


def decode_cursor(text: str, fingerprint: bytes) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCursorError(f"InvalidCursor: {text[:40]!r} is not a cursor") from None
    body, check = raw[:-4], raw[-4:]
    if (
        len(raw) < 1 + 8 + 1 + 4
        or body[:1] != _VERSION
        or hashlib.blake2b(body, digest_size=4).digest() != check
    ):
        raise InvalidCursorError(f"InvalidCursor: {text[:40]!r} is not a cursor")
    if body[1:9] != fingerprint:
        raise InvalidCursorError(
            "InvalidCursor: this cursor belongs to a different query "
            "(table, index, range or order changed)"
        )
    key = None if body[9:10] == b"\x00" else body[10:]
    return Cursor(fingerprint, key)
