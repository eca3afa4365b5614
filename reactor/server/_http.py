"""The HTTP function API (PROTOCOL.md §11), as ``ConvexHttpClient`` (npm and PyPI) calls it.

Running the function gives HTTP 200 either way: ``{"status": "success", ...}``
or ``{"status": "error", "errorMessage", "errorData"?}`` (the reference
backend answers 560 for the latter, which the official Python client cannot
parse). A request that cannot be run (bad JSON, bad format, refused token)
gets a 4xx with ``{"code", "message"}``, which both clients turn into an
exception naming the code. Past the server-wide function cap a call gets 503
``{"code": "TooManyConcurrentFunctions", ...}`` with ``Retry-After``; a body
that does not arrive within ``body_timeout_s`` gets 408.
"""

from __future__ import annotations

import asyncio
import base64
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from reactor.auth import parse_authorization_header
from reactor.engine import FunctionResult
from reactor.errors import AuthError, FunctionNotFoundError, InvalidValueError
from reactor.server._overload import Overloaded
from reactor.server._runs import log_run
from reactor.sync import NO_ERROR_DATA, QueryAtTsError, describe_error, is_unanswerable
from reactor.values import Int64, b64_to_u64, convex_to_json, json_to_convex, u64_to_b64

if TYPE_CHECKING:
    from reactor.server._app import ReactorServer

__all__ = ["HttpApi", "json_response"]

_FORMATS = ("convex_encoded_json", "json")


class RequestError(Exception):
    """A request that cannot be run: answered with ``status`` and ``{code, message}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def overloaded_response(exc: Overloaded) -> Response:
    """503 naming the limit, with ``Retry-After`` (seconds)."""
    return json_response(
        {"code": exc.code, "message": str(exc)},
        503,
        headers={"Retry-After": str(exc.retry_after_s)},
    )


def clean_json(value: Any) -> Any:
    """The lossy ``"json"`` format: int64 as a decimal string, bytes as base64,
    NaN and infinities as strings (what the reference backend sends)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, Int64):
        return str(int(value))
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    if isinstance(value, dict):
        return {key: clean_json(item) for key, item in value.items()}
    raise InvalidValueError(f"{type(value).__name__} is not a Convex value")


class HttpApi:
    def __init__(self, server: ReactorServer) -> None:
        self.server = server

    async def _body(self, request: Request) -> dict[str, Any]:
        timeout_s = self.server.config.body_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                raw = await request.body()
        except TimeoutError:
            raise RequestError(
                408,
                "RequestBodyTimeout",
                f"the request body did not arrive within {timeout_s:g} s (body_timeout_s)",
            ) from None
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError as exc:
            raise RequestError(400, "BadJsonBody", f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise RequestError(400, "BadJsonBody", "the body must be a JSON object")
        return body

    async def _identity(self, request: Request) -> tuple[Mapping[str, Any] | None, bool]:
        """The caller's identity, and whether it holds the admin key.

        ``Authorization: Bearer <jwt>`` is a user; ``Convex <admin key>`` is an
        admin (who may call internal functions, and may act as a user with
        ``Convex <key>:<base64 identity JSON>``); no header is anonymous.
        """
        try:
            kind, credential = parse_authorization_header(request.headers.get("authorization"))
            if kind == "user":
                return await self.server.authenticator("User", credential), False
            if kind == "admin":
                assert credential is not None
                return await self.server.verify_admin(credential), True
            return await self.server.authenticator("None", None), False
        except AuthError as exc:
            raise RequestError(401, "Unauthenticated", str(exc)) from None

    @staticmethod
    def _args(body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("args", {})
        # npm sends [args], the Python client and /api/function send args.
        if isinstance(raw, list) and len(raw) == 1:
            raw = raw[0]
        if raw is None:
            raw = {}
        try:
            args = json_to_convex(raw)
        except InvalidValueError as exc:
            raise RequestError(
                400, "BadConvexValue", f"args is not a Convex value: {exc}"
            ) from None
        if not isinstance(args, dict):
            raise RequestError(400, "BadJsonBody", "args must be an object (or [object])")
        return args

    @staticmethod
    def _request_fields(body: dict[str, Any]) -> tuple[str, str]:
        path = body.get("path")
        if not isinstance(path, str) or not path:
            raise RequestError(400, "BadJsonBody", "the body needs a function path: 'path'")
        fmt = body.get("format") or "json"
        if fmt not in _FORMATS:
            raise RequestError(
                400, "BadJsonBody", f"unknown format {fmt!r}: use 'convex_encoded_json' or 'json'"
            )
        if body.get("componentPath"):
            raise RequestError(400, "Unsupported", "componentPath is not supported by this server")
        return path, fmt

    async def call(self, request: Request, kind: str | None, path: str | None = None) -> Response:
        """``/api/{query,mutation,action}``; ``kind`` None: any kind (/api/function, /api/run)."""
        try:
            body = await self._body(request)
            if path is not None:
                body.setdefault("path", path)
            path, fmt = self._request_fields(body)
            args = self._args(body)
            identity, admin = await self._identity(request)
            if kind is None:
                try:
                    kind = self.server.engine.app.lookup(path, allow_internal=admin).kind
                except (FunctionNotFoundError, TypeError) as exc:
                    return self._function_error(exc, [], fmt)
            result = await self._run(kind, path, args, identity, admin)
        except RequestError as exc:
            return json_response({"code": exc.code, "message": str(exc)}, exc.status)
        except Overloaded as exc:
            return overloaded_response(exc)
        if is_unanswerable(result) and result.error is not None:
            # Not the function's failure: the server could not run it (a storage
            # fault that persisted). A 500 says the outcome is unknown; a
            # "status: error" would say the mutation failed and changed nothing.
            message, _ = describe_error(result.error, dev_errors=self.server.config.dev_errors)
            return json_response({"code": "InternalServerError", "message": message}, 500)
        return self._result(result, fmt)

    async def _run(
        self,
        kind: str,
        path: str,
        args: dict[str, Any],
        identity: Mapping[str, Any] | None,
        admin: bool,
    ) -> FunctionResult:
        runner = self.server.runner
        if kind == "query":
            return await runner.query(path, args, identity, "http", admin=admin)
        if kind == "mutation":
            return await runner.mutation(path, args, identity, "http", admin=admin)
        if kind == "action":
            return await runner.action(path, args, identity, "http", admin=admin)
        raise AssertionError(kind)

    def _result(self, result: FunctionResult, fmt: str) -> Response:
        if result.error is None:
            try:
                value = convex_to_json(result.value) if fmt != "json" else clean_json(result.value)
                return json_response(
                    {"status": "success", "value": value, "logLines": result.log_lines}
                )
            except InvalidValueError as exc:
                return self._function_error(exc, result.log_lines, fmt)
        return self._function_error(result.error, result.log_lines, fmt)

    def _function_error(self, exc: BaseException, log_lines: list[str], fmt: str) -> Response:
        message, data = describe_error(exc, dev_errors=self.server.config.dev_errors)
        body: dict[str, Any] = {"status": "error", "errorMessage": message, "logLines": log_lines}
        if data is not NO_ERROR_DATA:
            body["errorData"] = convex_to_json(data) if fmt != "json" else clean_json(data)
        return json_response(body)

    async def query_ts(self, request: Request) -> Response:
        return json_response({"ts": u64_to_b64(self.server.live.processed_ts)})

    async def query_at_ts(self, request: Request) -> Response:
        try:
            body = await self._body(request)
            path, fmt = self._request_fields(body)
            args = self._args(body)
            raw_ts = body.get("ts")
            try:
                ts = b64_to_u64(raw_ts) if isinstance(raw_ts, str) else None
            except (ValueError, InvalidValueError):
                ts = None
            if ts is None:
                raise RequestError(400, "BadJsonBody", "ts must be a u64 in base64, from query_ts")
            identity, _ = await self._identity(request)
            try:
                with self.server.admission.function():
                    result = await self.server.live.run_query_at(path, args, ts, identity)
            except QueryAtTsError as exc:
                raise RequestError(400, "TimestampUnavailable", str(exc)) from None
        except RequestError as exc:
            return json_response({"code": exc.code, "message": str(exc)}, exc.status)
        except Overloaded as exc:
            return overloaded_response(exc)
        log_run(result, "http")
        return self._result(result, fmt)

    async def run_path(self, request: Request) -> Response:
        """``/api/run/<dir>/<module>/<function>``: the function ``dir/module:function``."""
        raw = request.path_params["path"].strip("/")
        module, _, name = raw.rpartition("/")
        path = raw if ":" in raw or not module else f"{module}:{name}"
        return await self.call(request, None, path)
