"""Admin endpoints (``Authorization: Convex <admin key>``): environment variables.

``reactor env set|get|list|remove`` talks to these, since the server holds the
database. Values are never sent to anyone without the admin key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reactor.auth import parse_authorization_header
from reactor.errors import AuthError, ReactorError

if TYPE_CHECKING:
    from reactor.server._app import ReactorServer

__all__ = ["admin_routes"]


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def admin_routes(server: ReactorServer) -> list[Route]:
    async def authorized(request: Request) -> Response | None:
        try:
            kind, credential = parse_authorization_header(request.headers.get("authorization"))
            if kind != "admin" or credential is None:
                raise AuthError("this endpoint needs `Authorization: Convex <admin key>`")
            await server.verify_admin(credential)
        except AuthError as exc:
            return _json({"code": "Unauthorized", "error": str(exc)}, 401)
        return None

    async def list_env(request: Request) -> Response:
        if (refused := await authorized(request)) is not None:
            return refused
        return _json({"variables": await server.engine.list_env()})

    async def set_env(request: Request) -> Response:
        if (refused := await authorized(request)) is not None:
            return refused
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _json({"code": "BadJsonBody", "error": "the body is not JSON"}, 400)
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            return _json({"code": "BadJsonBody", "error": 'send {"name": ..., "value": ...}'}, 400)
        try:
            await server.engine.set_env(body.get("name"), body["value"])  # type: ignore[arg-type]
        except ReactorError as exc:
            return _json({"code": "InvalidEnvironmentVariable", "error": str(exc)}, 400)
        return _json({"ok": True})

    async def remove_env(request: Request) -> Response:
        if (refused := await authorized(request)) is not None:
            return refused
        try:
            await server.engine.set_env(request.path_params["name"], None)
        except ReactorError as exc:
            return _json({"code": "InvalidEnvironmentVariable", "error": str(exc)}, 400)
        return _json({"ok": True})

    return [
        Route("/api/admin/env", list_env, methods=["GET"]),
        Route("/api/admin/env", set_env, methods=["POST"]),
        Route("/api/admin/env/{name}", remove_env, methods=["DELETE"]),
    ]
