"""``@http_action``: a handler taking ``(ctx, request)`` and returning a Response."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from reactor.engine import ActionCtx

__all__ = ["HttpAction", "HttpHandler", "http_action"]

HttpHandler = Callable[["ActionCtx", Request], Awaitable[Response]]


class HttpAction:
    """An HTTP action: called with an action ctx and the Starlette ``Request``
    (its raw body untouched), it returns a Starlette ``Response``. It is not a
    function clients can call by path: only a route of an ``HttpRouter`` runs it."""

    def __init__(self, handler: HttpHandler) -> None:
        if isinstance(handler, HttpAction):
            raise TypeError(f"{handler!r} is decorated with @http_action twice")
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(
                f"@http_action decorates `async def handler(ctx, request)`, got {handler!r}"
            )
        self.handler = handler
        self.__name__ = getattr(handler, "__name__", "http_action")
        self.__qualname__ = getattr(handler, "__qualname__", self.__name__)
        self.__module__ = getattr(handler, "__module__", __name__)
        self.__doc__ = handler.__doc__

    async def __call__(self, ctx: ActionCtx, request: Request) -> Response:
        return await self.handler(ctx, request)

    def __repr__(self) -> str:
        return f"<http_action {self.__qualname__}>"


def http_action(handler: HttpHandler | Any) -> HttpAction:
    """Turn ``async def handler(ctx, request) -> Response`` into an HTTP action."""
    return HttpAction(handler)
