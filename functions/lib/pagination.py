"""``safe_paginate``: a stale cursor gives the first page, not an error.

A client that switches workspace keeps sending the cursor of the old
workspace's list; that cursor belongs to another query, so ``paginate``
refuses it. Answering with the first page lets the list recover by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reactor.errors import InvalidCursorError


async def safe_paginate(build: Callable[[], Any], opts: dict[str, Any]) -> dict[str, Any]:
    """Paginate the query ``build()`` makes; restart from the top on a foreign cursor."""
    try:
        result: dict[str, Any] = await build().paginate(opts)
    except InvalidCursorError:
        result = await build().paginate({**opts, "cursor": None, "endCursor": None})
    return result
