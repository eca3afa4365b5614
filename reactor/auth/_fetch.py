"""Fetch JSON documents (OIDC discovery, JWKS) over async HTTP and cache them.

PyJWT's ``PyJWKClient`` fetches with blocking urllib, which would stall the
event loop, so the documents are fetched with ``httpx2`` here instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio
import httpx2

from reactor.errors import AuthError

__all__ = ["DocumentCache", "fetch_json"]

log = logging.getLogger("reactor.auth")

T = TypeVar("T")


async def fetch_json(client: httpx2.AsyncClient, url: str, what: str) -> Any:
    """GET ``url`` and decode its JSON body; ``AuthError`` naming ``what`` on failure."""
    try:
        response = await client.get(url, headers={"Accept": "application/json"})
    except httpx2.HTTPError as exc:
        raise AuthError(
            f"could not fetch the {what} from {url}: {exc or type(exc).__name__}"
        ) from exc
    if response.status_code != 200:
        raise AuthError(f"could not fetch the {what} from {url}: HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise AuthError(f"the {what} at {url} is not valid JSON") from exc


@dataclass
class _Entry(Generic[T]):
    value: T | None
    error: AuthError | None
    fetched_at: float  # when ``value`` was fetched (only meaningful with a value)
    attempted_at: float  # when the last fetch, successful or not, started


class DocumentCache(Generic[T]):
    """Per-URL cache of a parsed document with a TTL and rate-limited refreshes.

    ``get`` serves a cached value younger than ``ttl_s``. ``get(refresh=True)``
    (a token's ``kid`` is unknown: the issuer may have rotated its keys)
    refetches, but at most once per ``min_refresh_s`` so a stream of tokens
    with made-up kids cannot make us hammer the issuer. A failed fetch keeps
    serving the previous value if there is one, and is not retried for
    ``min_refresh_s`` either. Concurrent fetches of one URL share one request.
    """

    def __init__(
        self,
        load: Callable[[str], Awaitable[T]],
        *,
        clock: Callable[[], float],
        ttl_s: float,
        min_refresh_s: float,
    ) -> None:
        self._load = load
        self._clock = clock
        self._ttl_s = ttl_s
        self._min_refresh_s = min_refresh_s
        self._entries: dict[str, _Entry[T]] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._generation: dict[str, int] = {}

    async def get(self, url: str, *, refresh: bool = False) -> T:
        entry = self._entries.get(url)
        if entry is not None and not self._should_fetch(entry, refresh):
            return self._result(entry)
        generation = self._generation.get(url, 0)
        lock = self._locks.setdefault(url, anyio.Lock())
        async with lock:
            entry = self._entries.get(url)
            if entry is not None and self._generation.get(url, 0) != generation:
                # Someone fetched while we waited for the lock: use theirs.
                return self._result(entry)
            return self._result(await self._fetch(url, entry))

    def _should_fetch(self, entry: _Entry[T], refresh: bool) -> bool:
        now = self._clock()
        if now - entry.attempted_at < self._min_refresh_s:
            return False
        if entry.value is None or refresh:
            return True
        return now - entry.fetched_at >= self._ttl_s

    async def _fetch(self, url: str, previous: _Entry[T] | None) -> _Entry[T]:
        started = self._clock()
        try:
            value = await self._load(url)
        except AuthError as exc:
            if previous is not None and previous.value is not None:
                log.warning("%s; still using the copy fetched earlier", exc)
                entry = _Entry(previous.value, None, previous.fetched_at, started)
            else:
                entry = _Entry[T](None, exc, started, started)
        else:
            entry = _Entry(value, None, started, started)
        self._entries[url] = entry
        self._generation[url] = self._generation.get(url, 0) + 1
        return entry

    @staticmethod
    def _result(entry: _Entry[T]) -> T:
        if entry.value is None:
            assert entry.error is not None
            raise AuthError(str(entry.error))
        return entry.value
