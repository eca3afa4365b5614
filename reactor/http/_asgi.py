"""Serving an app's HTTP actions: one Starlette route in front of the static files.

The route matches only what the app's router serves (a routed method and
path, or a CORS preflight to a routed path), so anything else falls through
to the static files or the 404. The router is read from the engine's current
app on every request: a reload (``reactor dev``) takes effect at once.

A handler runs with an action ctx whose identity comes from
``Authorization: Bearer <jwt>`` (refused with a 401 before the handler runs
if no provider accepts it). Other schemes are left to the handler: webhook
senders put their own credentials there. An uncaught error is a 500 with
``{"code", "trace" (dev only), "data" (ConvexError)}`` (ERR-05); an HTTP
action is never retried (HTTP-03).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reactor.engine import ActionCtx, Auth, FunctionResult
from reactor.engine._logs import capture_logs
from reactor.errors import AuthError, LimitExceededError
from reactor.http._router import HttpRoute, HttpRouter, app_router, is_reserved_path
from reactor.sync import NO_ERROR_DATA, describe_error, new_request_id
from reactor.values import convex_to_json

if TYPE_CHECKING:
    from starlette.datastructures import URLPath

    from reactor.server import ReactorServer

__all__ = ["MAX_RESPONSE_BYTES", "ApiCors", "HttpActionRoutes", "error_response"]

MAX_RESPONSE_BYTES = 20 << 20  # HTTP-03, LIM-10: an HTTP action's response is at most 20 MiB
_SCOPE_KEY = "reactor.http_action"

log = logging.getLogger("reactor.functions")


def error_response(exc: BaseException, *, dev_errors: bool) -> Response:
    """ERR-05: a 500 naming a request id; the message and trace only in dev."""
    request_id = new_request_id()
    message, data = describe_error(exc, dev_errors=dev_errors, request_id=request_id)
    code = f"[Request ID: {request_id}] Server Error"
    body: dict[str, Any] = {"code": f"{code}: {message}" if dev_errors else code}
    if dev_errors:
        body["trace"] = "".join(traceback.format_exception(exc))
    if data is not NO_ERROR_DATA:
        body["data"] = convex_to_json(data)
    return Response(orjson.dumps(body), status_code=500, media_type="application/json")


def get_route_path(scope: Scope) -> str:
    """The request path below the app's mount point (``root_path``), as routes see it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _headers_only(send: Send) -> Send:
    """HEAD: the GET route's status and headers (Content-Length included), no body."""

    async def wrapped(message: Message) -> None:
        if message["type"] in ("http.response.body", "http.response.pathsend"):
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return wrapped


class HttpActionRoutes(BaseRoute):
    def __init__(self, server: ReactorServer) -> None:
        self.server = server

    def router(self) -> HttpRouter | None:
        return app_router(self.server.engine.app)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        router = self.router()
        if router is None:
            return Match.NONE, {}
        path = get_route_path(scope)
        method = str(scope["method"]).upper()
        route = router.lookup(method, path)
        if route is None and method == "OPTIONS" and router.cors_config is not None:
            headers = Headers(scope=scope)
            preflight = "origin" in headers and "access-control-request-method" in headers
            if preflight and router.methods_for(path):
                return Match.FULL, {_SCOPE_KEY: (router, None)}
        if route is None:
            return Match.NONE, {}
        return Match.FULL, {_SCOPE_KEY: (router, route)}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        router, route = scope[_SCOPE_KEY]
        request = Request(scope, receive)
        origin = request.headers.get("origin")
        if route is None:
            response = self._preflight(router, request)
        else:
            response = await self._run(route, request)
            cors = router.cors_config
            if cors is not None and origin is not None and cors.allows(origin):
                cors.mark(origin, response.headers)
        if request.method == "HEAD":
            send = _headers_only(send)
        await response(scope, receive, send)

    def _preflight(self, router: HttpRouter, request: Request) -> Response:
        cors = router.cors_config
        origin = request.headers["origin"]
        assert cors is not None
        if not cors.allows(origin):
            return Response(f"origin {origin} is not allowed", status_code=403)
        methods = router.methods_for(get_route_path(request.scope)) | {"OPTIONS"}
        return Response(
            status_code=204, headers=cors.preflight_headers(origin, request.headers, methods)
        )

    async def _identity(self, request: Request) -> Mapping[str, Any] | None:
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() == "bearer":
            if not token.strip():
                raise AuthError("Authorization: Bearer carries no token")
            return await self.server.authenticator("User", token.strip())
        return await self.server.authenticator("None", None)

    async def _run(self, route: HttpRoute, request: Request) -> Response:
        started = time.perf_counter()
        result = FunctionResult(path=f"{route.method} {route.pattern}", kind="httpAction")
        try:
            identity = await self._identity(request)
        except AuthError as exc:
            result.error = exc
            _log_run(result)
            body = orjson.dumps({"code": "Unauthenticated", "message": str(exc)})
            return Response(body, status_code=401, media_type="application/json")
        response: Response | None = None
        with capture_logs(result.log_lines):
            try:
                ctx = ActionCtx(self.server.engine, Auth(identity), now=time.time() * 1000)
                response = await route.action(ctx, request)
                _check_response(route, response)
            except Exception as exc:
                result.error = exc
        result.duration_s = time.perf_counter() - started
        _log_run(result)
        if result.error is not None or response is None:
            error = result.error or RuntimeError("no response")
            return error_response(error, dev_errors=self.server.config.dev_errors)
        return response


def _check_response(route: HttpRoute, response: Any) -> None:
    if not isinstance(response, Response):
        raise TypeError(
            f"the HTTP action {route.action!r} returned {type(response).__name__}, "
            "not a starlette.responses.Response"
        )
    body = getattr(response, "body", None)
    if isinstance(body, bytes | memoryview) and len(body) > MAX_RESPONSE_BYTES:
        raise LimitExceededError(
            "HttpResponseTooLarge",
            f"an HTTP action's response is at most {MAX_RESPONSE_BYTES} bytes",
        )


def _log_run(result: FunctionResult) -> None:
    # reactor.server imports this module: import it once both are loaded.
    from reactor.server._runs import log_run

    log_run(result, "http")
    # No client receives an HTTP action's log lines: the server log keeps them.
    for line in result.log_lines:
        log.info("%s: %s", result.path, line, extra={"function_path": result.path})


class ApiCors:
    """CORS for reactor's own routes; HTTP actions keep the app's rules (HTTP-03).

    The API mirrors the caller's origin and headers, with credentials, as the
    reference backend does: browsers on any origin may call it. A path the
    app's HTTP router serves is passed through untouched: its CORS is the
    app's (``http.cors(...)``), or none.
    """

    def __init__(self, app: ASGIApp, server: ReactorServer) -> None:
        self.app = app
        self.server = server
        self.cors = CORSMiddleware(
            app,
            allow_origin_regex=".*",
            allow_methods=["*"],
            allow_headers=["*"],
            allow_credentials=True,
            max_age=3600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._http_action(get_route_path(scope)):
            await self.app(scope, receive, send)
        else:
            await self.cors(scope, receive, send)

    def _http_action(self, path: str) -> bool:
        if is_reserved_path(path):
            return False
        router = app_router(self.server.engine.app)
        return router is not None and bool(router.methods_for(path))
